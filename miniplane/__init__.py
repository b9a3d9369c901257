"""miniplane: a lightweight, Kubernetes-compatible control plane for DaemonSets."""

__version__ = "0.1.0"
