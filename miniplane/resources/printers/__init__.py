"""Per-kind table printers: the columns and cells ``kubectl get`` shows, computed server-side.

Each module re-implements one group of Kubernetes' ``pkg/printers/internalversion`` printers as
a :class:`~miniplane.resources.printers.common.Printer`; ``miniplane.resources.tables`` picks the
printer by kind and wraps the rows in a ``meta.k8s.io/v1`` Table.
"""
