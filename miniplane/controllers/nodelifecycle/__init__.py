"""Node lifecycle, taint-based eviction and pod GC: pure decisions in ``plan``, loops beside it."""
