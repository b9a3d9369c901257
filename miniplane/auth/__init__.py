"""Who is calling (TLS client certificates, node tokens) and what they may do (admin, NodeRestriction)."""
