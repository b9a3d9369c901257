"""The per-container supervisor (like containerd's shim or conmon), run as its own process.

`python -m agent.runtime.shim run DIR` starts the instance described by DIR/spec.json and stays with it:

0. detaches from the agent (double fork): asyncio kills a child process whose transport it closes, and an
   agent exiting must not take its containers down;
1. forks the container process, which enters its cgroups, new UTS/mount namespaces (hostname, bind
   mounts), its own session, workingDir and user, then execs the command; a failure before exec comes
   back through a close-on-exec pipe as a start error;
2. writes state.json and prints it as one JSON line (the agent's start handshake), then stops using stdout;
3. copies the process's stdout/stderr into the rotating CRI log file, a timestamp per line;
4. when the main process exits, kills what is left of the container (process group and cgroups), records
   the exit code and OOM kill in exit.json, removes the cgroups and exits.

The shim ignores SIGTERM/SIGINT/SIGHUP and outlives the agent, so an agent restart neither kills the
container nor loses its output or exit code. `python -m agent.runtime.shim exec DIR ARGV...` execs ARGV
inside a running instance's cgroups, namespaces, environment and workingDir (exec probes, `kubectl exec`).
It imports only the standard library and the agent's own small helpers, so it starts in tens of ms.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import sys
import time
from pathlib import Path

from agent import logfiles
from agent.runtime import cgroups, procfs, sandbox
from agent.runtime.launch import EXIT, SPEC, STATE, LaunchSpec, ShimExit, ShimState, read, write

_DRAIN_SECONDS = 1.0  # how long output of processes outside the cgroups may hold the pipes after exit
_RESET = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(directory: Path) -> int:
    """Supervise one container instance; returns the shim's exit status."""
    spec = read(directory, SPEC, LaunchSpec)
    if spec is None:
        print(json.dumps({"error": f"no readable {SPEC} in {directory}"}), flush=True)
        return 2
    if os.fork() != 0:
        os._exit(0)  # detach: the agent's child ends here, so the shim is nobody's child to kill or reap
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    status_r, status_w = os.pipe()
    started_at = time.time()
    pid = os.fork()
    if pid == 0:
        _become_container(spec, out_w, err_w, status_w)
    for fd in (out_w, err_w, status_w):
        os.close(fd)
    error = _read_all(status_r)
    if error:
        os.waitpid(pid, 0)
        cgroups.remove(spec.cgroups)
        write(directory, EXIT, ShimExit(finished_at=time.time(), exit_code=128, start_error=error))
        _handshake({"error": error})
        return 0
    state = ShimState(os.getpid(), procfs.start_time(os.getpid()), pid, procfs.start_time(pid), started_at)
    write(directory, STATE, state)
    _handshake(state.__dict__)
    status = _supervise(spec, pid, out_r, err_r)
    oom = cgroups.oom_killed(spec.cgroups)
    cgroups.remove(spec.cgroups)
    write(directory, EXIT, ShimExit(time.time(), _exit_code(status), oom))
    return 0


def exec_in(directory: Path, argv: list[str]) -> int:
    """Replace this process with `argv` inside the running instance; 126/127 on failure."""
    spec, state = read(directory, SPEC, LaunchSpec), read(directory, STATE, ShimState)
    if spec is None or state is None or not procfs.is_alive(state.pid, state.pid_start):
        print("container is not running", file=sys.stderr)
        return 126
    try:
        cgroups.join(spec.cgroups, os.getpid())
        if spec.hostname is not None:
            sandbox.setns(f"/proc/{state.pid}/ns/uts", sandbox.CLONE_NEWUTS)
        if spec.mounts:
            sandbox.setns(f"/proc/{state.pid}/ns/mnt", sandbox.CLONE_NEWNS)
        _set_user(spec)
        os.chdir(spec.cwd)
        os.execvpe(argv[0], argv, spec.env)
    except FileNotFoundError:
        print(f'exec: "{argv[0]}": executable file not found in $PATH', file=sys.stderr)
        return 127
    except OSError as error:
        print(f"exec {argv[0]}: {error}", file=sys.stderr)
        return 126


def _become_container(spec: LaunchSpec, out_w: int, err_w: int, status_w: int) -> None:
    """In the forked child: set up the container and exec it; report any failure on `status_w`."""
    try:
        os.setsid()
        cgroups.join(spec.cgroups, os.getpid())
        flags = (sandbox.CLONE_NEWUTS if spec.hostname is not None else 0) | (sandbox.CLONE_NEWNS if spec.mounts else 0)
        if flags:
            sandbox.unshare(flags)
        if spec.mounts:
            sandbox.make_mounts_private()
            for mount in spec.mounts:
                sandbox.bind(mount.source, mount.target, mount.read_only)
        if spec.hostname is not None:
            sandbox.sethostname(spec.hostname)
        os.makedirs(spec.cwd, exist_ok=True)
        devnull = os.open(os.devnull, os.O_RDONLY)
        for fd, target in ((devnull, 0), (out_w, 1), (err_w, 2)):
            os.dup2(fd, target)
        _set_user(spec)
        os.chdir(spec.cwd)
        for sig in _RESET:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        try:
            os.execvpe(spec.argv[0], spec.argv, spec.env)
        except FileNotFoundError:
            raise OSError(f'exec: "{spec.argv[0]}": executable file not found in $PATH') from None
    except BaseException as error:  # anything before exec is a start error
        with contextlib.suppress(OSError):
            os.write(status_w, f"failed to start container process: {error}".encode())
        os._exit(127)


def _set_user(spec: LaunchSpec) -> None:
    if spec.gid is not None:
        os.setgroups([])
        os.setgid(spec.gid)
    if spec.uid is not None:
        os.setuid(spec.uid)


def _supervise(spec: LaunchSpec, pid: int, out_r: int, err_r: int) -> int:
    """Copy output to the log until the main process exits, then end the container; its wait status."""
    log = logfiles.RotatingWriter(Path(spec.log_path), spec.log_max_size, spec.log_max_files)
    streams = {out_r: ("stdout", logfiles.LineSplitter()), err_r: ("stderr", logfiles.LineSplitter())}
    selector = selectors.DefaultSelector()
    for fd in streams:
        selector.register(fd, selectors.EVENT_READ)
    pidfd = os.pidfd_open(pid)
    selector.register(pidfd, selectors.EVENT_READ)
    status: int | None = None
    drain_until = None
    while selector.get_map() and (drain_until is None or time.monotonic() < drain_until):
        timeout = None if drain_until is None else max(0.0, drain_until - time.monotonic())
        for key, _ in selector.select(timeout):
            if key.fd == pidfd:
                status = os.waitpid(pid, 0)[1]
                selector.unregister(pidfd)
                os.close(pidfd)
                _end_container(spec, pid)
                drain_until = time.monotonic() + _DRAIN_SECONDS
            elif not _copy(key.fd, *streams[key.fd], log):
                selector.unregister(key.fd)
    for fd, (stream, splitter) in streams.items():
        for content, partial in splitter.flush():
            log.write(logfiles.encode(time.time_ns(), stream, content, partial))
        os.close(fd)
    log.close()
    assert status is not None
    return status


def _copy(fd: int, stream: str, splitter: logfiles.LineSplitter, log: logfiles.RotatingWriter) -> bool:
    """Log what is readable on `fd`; False at end of stream."""
    data = os.read(fd, 1 << 16)
    if not data:
        return False
    now = time.time_ns()
    for content, partial in splitter.feed(data):
        log.write(logfiles.encode(now, stream, content, partial))
    return True


def _end_container(spec: LaunchSpec, pid: int) -> None:
    """The main process is gone: so is the rest of the container."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    cgroups.kill_all(spec.cgroups)


def _exit_code(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def _handshake(payload: dict[str, object]) -> None:
    """Tell the agent how the start went, then let go of stdout so the agent may come and go."""
    print(json.dumps(payload), flush=True)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def main(args: list[str]) -> int:
    """`run DIR` or `exec DIR ARGV...`."""
    if len(args) >= 2 and args[0] == "run":
        return run(Path(args[1]))
    if len(args) >= 3 and args[0] == "exec":
        return exec_in(Path(args[1]), args[2:])
    print("usage: python -m agent.runtime.shim run DIR | exec DIR ARGV...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
