"""Container runtimes: `base.Runtime` is the contract, `process` runs real processes, `fake` simulates.

Kept free of imports: the container shim (`python -m agent.runtime.shim`) starts from this package.
"""
