"""Linux namespace and mount calls the shim makes in a container's process before exec.

Standard library only (ctypes over libc): the container shim imports it. Run as a module, it reports as
JSON which namespaces this host lets the agent create: `python -m agent.runtime.sandbox`.
"""

from __future__ import annotations

import ctypes
import json
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    """Move the calling process into new namespaces."""
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def setns(path: str, nstype: int) -> None:
    """Join the namespace `path` (`/proc/PID/ns/...`)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns {path}")
    finally:
        os.close(fd)


def sethostname(name: str) -> None:
    """Set the hostname of the current UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(ctypes.c_char_p(raw), ctypes.c_size_t(len(raw))), "sethostname")


def make_mounts_private() -> None:
    """Stop mount events of this (new) mount namespace from propagating back to the host."""
    flags = ctypes.c_ulong(_MS_REC | _MS_PRIVATE)
    _check(_libc.mount(None, b"/", None, flags, None), "mount --make-rprivate /")


def bind(source: str, target: str, read_only: bool) -> None:
    """Bind-mount `source` onto `target` (creating `target` if missing), read-only if asked."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    elif not os.path.exists(target):
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        open(target, "ab").close()
    flags = _MS_BIND | _MS_REC
    _check(_libc.mount(source.encode(), target.encode(), None, ctypes.c_ulong(flags), None), f"bind {target}")
    if read_only:
        flags |= _MS_REMOUNT | _MS_RDONLY
        _check(_libc.mount(None, target.encode(), None, ctypes.c_ulong(flags), None), f"remount ro {target}")


def probe() -> dict[str, bool]:
    """Which namespaces this process may create (it is changed by trying: run it in a throwaway process)."""
    found = {}
    try:
        unshare(CLONE_NEWUTS)
        sethostname("miniplane-probe")
        found["uts"] = True
    except OSError:
        found["uts"] = False
    try:
        unshare(CLONE_NEWNS)
        make_mounts_private()
        found["mount"] = True
    except OSError:
        found["mount"] = False
    return found


if __name__ == "__main__":
    print(json.dumps(probe()))
