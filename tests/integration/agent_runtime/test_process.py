"""The process runtime with real processes: environment, isolation, stopping, limits, logs."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from agent.logs import LogOptions, read_log
from agent.runtime import procfs
from agent.runtime.process import ProcessOptions, ProcessRuntime
from agent.views import PodSpecView
from tests.integration.agent_runtime.conftest import CONTEXT, one_exited, wait_for
from tests.unit.agent.builders import container, view


def shell(script: str, **fields: Any) -> dict[str, Any]:
    return container(command=["/bin/sh", "-c", script], **fields)


async def run_to_exit(runtime: ProcessRuntime, pod: PodSpecView, name: str = "app") -> bytes:
    """Start the container, wait for its exit, return its log."""
    await runtime.start_container(pod, name)
    await wait_for(runtime, lambda seen: any(o.name == name and not o.running for o in seen))
    path = runtime.log_path(pod.uid, name)
    return read_log(path, LogOptions(), time.time()) if path else b""


def alive(pid: int) -> bool:
    return procfs.start_time(pid) is not None


async def test_env_field_refs_and_expansion(process_runtime: ProcessRuntime) -> None:
    env = [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "GREETING", "value": "hi $(POD) on $(NODE)"},
    ]
    script = 'echo "$GREETING|$POD_IP|$HOSTNAME|$0|$1"'  # args follow the script: $0 and $1
    fields = {"args": ["$(NODE)", "$$(NODE)"], "env": env}
    pod = view(name="web-7", containers=[shell(script, **fields)])
    out = await run_to_exit(process_runtime, pod)
    assert out == b"hi web-7 on node-a|127.0.0.1|web-7|node-a|$(NODE)\n"


async def test_args_only_runs_the_args_like_the_seed_example(process_runtime: ProcessRuntime) -> None:
    pod = view(
        name="log-collector-x",
        containers=[{"name": "app", "image": "busybox", "args": ["/bin/sh", "-c", "echo from $(hostname)"]}],
    )
    out = await run_to_exit(process_runtime, pod)
    if process_runtime.features.uts_namespace:
        assert out == b"from log-collector-x\n"  # the pod's hostname, in its own UTS namespace
    else:
        assert any("UTS" in w for w in process_runtime.features.warnings())
    assert os.uname().nodename != "log-collector-x"  # the host's hostname is untouched


async def test_working_dir_is_used_and_created(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    workdir = tmp_path / "work" / "deep"
    pod = view(containers=[shell("pwd; touch here", workingDir=str(workdir))])
    assert await run_to_exit(process_runtime, pod) == f"{workdir}\n".encode()
    assert (workdir / "here").exists()


async def test_killed_by_signal_is_128_plus_n(process_runtime: ProcessRuntime) -> None:
    pod = view(containers=[shell("kill -9 $$$$")])  # `$$` is Kubernetes' escape for `$`
    await run_to_exit(process_runtime, pod)
    [obs] = process_runtime.observe()
    assert obs.terminated is not None and (obs.terminated.exit_code, obs.terminated.reason) == (137, "Error")


async def test_graceful_stop_kills_the_whole_container(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 600 & echo $! > {pids}; setsid sleep 600 & echo $! >> {pids}; wait"
    pod = view(containers=[shell(script)])
    await process_runtime.start_container(pod, "app")
    deadline = time.monotonic() + 5
    while len(pids.read_text().split() if pids.exists() else []) < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    in_group, escaped = (int(p) for p in pids.read_text().split())
    assert alive(in_group) and alive(escaped)
    started = time.monotonic()
    await process_runtime.stop_container(pod.uid, "app", grace=5)
    assert time.monotonic() - started < 2  # SIGTERM was enough
    [obs] = process_runtime.observe()
    assert obs.terminated is not None and obs.terminated.exit_code == 143
    assert not alive(in_group)  # SIGTERM to the process group
    if process_runtime.features.cgroups.v2 or "pids" in process_runtime.features.cgroups.v1:
        assert not alive(escaped)  # left the group, not the container's cgroup
    else:
        os.kill(escaped, 9)


async def test_sigkill_after_the_grace_period(process_runtime: ProcessRuntime) -> None:
    pod = view(containers=[shell("trap '' TERM; while true; do sleep 0.05; done")])
    await process_runtime.start_container(pod, "app")
    await asyncio.sleep(0.2)  # let the shell install its trap
    started = time.monotonic()
    await process_runtime.stop_container(pod.uid, "app", grace=0.5)
    waited = time.monotonic() - started
    [obs] = process_runtime.observe()
    assert obs.terminated is not None and obs.terminated.exit_code == 137
    assert 0.5 <= waited < 3


async def test_memory_limit_oom_kills_or_is_reported(process_runtime: ProcessRuntime) -> None:
    hog = "chunks = []\nwhile True:\n    chunks.append(b'x' * 10_000_000)"
    limits = {"limits": {"memory": "50Mi"}}
    pod = view(restartPolicy="Never", containers=[container(command=[sys.executable, "-c", hog], resources=limits)])
    result = await process_runtime.start_container(pod, "app")
    if "memory" not in process_runtime.features.cgroups.v1:
        assert any("memory limit 50Mi not enforced" in w for w in result.warnings)
        return
    assert result.warnings == ()
    [obs] = await wait_for(process_runtime, one_exited, within=20)
    assert obs.terminated is not None
    assert (obs.terminated.exit_code, obs.terminated.reason) == (137, "OOMKilled")


async def test_process_joins_its_cgroups_before_exec(process_runtime: ProcessRuntime) -> None:
    limits = {"limits": {"memory": "64Mi", "cpu": "500m"}}
    pod = view(containers=[shell("cat /proc/self/cgroup", resources=limits)])
    out = (await run_to_exit(process_runtime, pod)).decode()
    [obs] = process_runtime.observe()
    lines = out.splitlines()
    for controller in process_runtime.features.cgroups.v1:
        [line] = [line for line in lines if f":{controller}:" in line or f",{controller}:" in line]
        assert line.endswith(obs.container_id)


async def test_log_rotation_and_previous_instance(tmp_path: Path) -> None:
    options = ProcessOptions(log_max_size=4000, log_max_files=3)
    runtime = await ProcessRuntime.create(tmp_path / "root", CONTEXT, options)
    try:
        pod = view(containers=[shell('for i in $(seq 1 300); do echo "line $i padded to make it longer"; done')])
        out = await run_to_exit(runtime, pod)
        path = runtime.log_path(pod.uid, "app")
        assert path is not None
        assert sorted(p.name for p in path.parent.iterdir()) == ["0.log", "0.log.1", "0.log.2"]
        assert all(p.stat().st_size < 4200 for p in path.parent.iterdir())
        lines = out.decode().splitlines()
        assert lines[-1] == "line 300 padded to make it longer" and len(lines) < 300
        numbers = [int(line.split()[1]) for line in lines]
        assert numbers == list(range(numbers[0], 301))  # contiguous: nothing lost between pieces
        await runtime.start_container(pod, "app")  # next instance: the previous log stays readable
        previous = runtime.log_path(pod.uid, "app", previous=True)
        assert previous == path
        assert read_log(previous, LogOptions(tail_lines=1), time.time()) == b"line 300 padded to make it longer\n"
    finally:
        await runtime.stop_all(0)
        await runtime.close()


async def test_private_bind_mounts(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    mount_point, host_dir = tmp_path / "mnt", tmp_path / "host"
    mount_point.mkdir()
    host_dir.mkdir()
    (host_dir / "config").write_text("from-host")
    script = f"echo data > {mount_point}/file; cat {tmp_path}/ro/config; echo x > {tmp_path}/ro/new || echo read-only"
    pod = view(
        containers=[
            shell(
                script,
                volumeMounts=[
                    {"name": "scratch", "mountPath": str(mount_point)},
                    {"name": "conf", "mountPath": str(tmp_path / "ro"), "readOnly": True},
                ],
            )
        ],
        volumes=[{"name": "scratch", "emptyDir": {}}, {"name": "conf", "hostPath": {"path": str(host_dir)}}],
    )
    result = await process_runtime.start_container(pod, "app")
    if not process_runtime.features.mount_namespace:
        assert any("not realised" in w for w in result.warnings)
        return
    await wait_for(process_runtime, one_exited)
    path = process_runtime.log_path(pod.uid, "app")
    assert path is not None
    out = read_log(path, LogOptions(), time.time())
    assert b"from-host" in out and b"Read-only file system" in out and b"read-only\n" in out
    assert list(mount_point.iterdir()) == []  # the host's directory never saw the write
    assert (process_runtime.layout.volumes_dir(pod.uid) / "scratch" / "file").read_text() == "data\n"
    assert not (host_dir / "new").exists()
    await process_runtime.remove_pod(pod.uid)
    assert not process_runtime.layout.volumes_dir(pod.uid).exists()  # emptyDir goes with the pod
    assert (host_dir / "config").exists()  # hostPath stays


async def test_exec_enters_the_container(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    pod = view(
        name="exec-me",
        containers=[shell("exec sleep 600", env=[{"name": "SECRET", "value": "s3"}], workingDir=str(tmp_path))],
    )
    await process_runtime.start_container(pod, "app")
    result = await process_runtime.exec(pod.uid, "app", ["/bin/sh", "-c", 'echo "$SECRET $(pwd) $(hostname)"'], 5)
    hostname = "exec-me" if process_runtime.features.uts_namespace else os.uname().nodename
    assert result.stdout == f"s3 {tmp_path} {hostname}\n".encode()
    slow = await process_runtime.exec(pod.uid, "app", ["sleep", "10"], 0.3)
    assert slow.timed_out


async def test_start_errors(process_runtime: ProcessRuntime) -> None:
    missing = view(containers=[container(command=["no-such-binary-here"])])
    await process_runtime.start_container(missing, "app")
    config = view(containers=[container(env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])])
    await process_runtime.start_container(config, "app")
    observed = await wait_for(process_runtime, lambda seen: not any(obs.running for obs in seen))
    ends = {obs.pod_uid: obs.terminated for obs in observed if obs.terminated is not None}
    assert ends[missing.uid].reason == "StartError"
    assert 'exec: "no-such-binary-here": executable file not found in $PATH' in ends[missing.uid].message
    assert ends[config.uid].reason == "CreateContainerConfigError"


async def test_close_leaves_no_cgroup_behind(tmp_path: Path) -> None:
    runtime = await ProcessRuntime.create(tmp_path / "root", CONTEXT)
    bases = [
        *runtime.features.cgroups.v1.values(),
        *([runtime.features.cgroups.v2] if runtime.features.cgroups.v2 else []),
    ]
    await runtime.start_container(view(), "app")
    await runtime.stop_all(1)
    await runtime.close()
    assert [base for base in bases if Path(base).exists()] == []  # noqa: ASYNC240


async def test_run_as_user_and_group(process_runtime: ProcessRuntime) -> None:
    pod = view(
        securityContext={"runAsUser": 65534}, containers=[shell("id -u; id -g", securityContext={"runAsGroup": 65533})]
    )
    assert await run_to_exit(process_runtime, pod) == b"65534\n65533\n"
