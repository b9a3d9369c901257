"""``miniplane simulate``: N simulated nodes in one process, over the same API and credentials as agents.

kwok-like: each simulated node joins with its own token, renews its Lease every heartbeat interval,
re-posts its status when the server's copy changes (and every 5 minutes), and reports the pods
bound to it Running and Ready after ``--pod-start-delay``; pods being deleted are finished at once.
Nothing runs: the simulator measures the control plane, not a container runtime.

- ``pods``, ``nodes``, ``timers``, ``stats``: pure decisions, objects, timers and counters;
- ``transport``: one shared connection pool, per-node bearer tokens, waiting out a restarting server;
- ``fleet``: the event loop side: joining, the clock, the two shared watches and the worker pools.
"""
