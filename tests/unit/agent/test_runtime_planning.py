"""The process runtime's pure planning: cgroup settings from resources, volume mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.env import ContainerConfigError
from agent.runtime.launch import Mount
from agent.runtime.limits import cgroup_settings
from agent.runtime.volumes import plan_mounts
from tests.unit.agent.builders import container, view

ALL = ("memory", "cpu", "pids")


def test_limits_map_to_cgroup_v1_files() -> None:
    p = view(
        containers=[container(resources={"requests": {"cpu": "250m"}, "limits": {"cpu": "1500m", "memory": "64Mi"}})]
    )
    settings, warnings = cgroup_settings(p.containers[0], ALL, pids_limit=100)
    assert settings == {
        "memory": {"memory.limit_in_bytes": str(64 * 2**20)},
        "cpu": {"cpu.shares": "256", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "150000"},
        "pids": {"pids.max": "100"},
    }
    assert warnings == []


def test_what_cannot_be_enforced_is_reported() -> None:
    resources = {"limits": {"memory": "64Mi", "cpu": "1", "ephemeral-storage": "1Gi"}}
    p = view(containers=[container("app", resources=resources)])
    settings, warnings = cgroup_settings(p.containers[0], ("cpu",))
    assert list(settings) == ["cpu"]
    assert warnings == [
        "container app: memory limit 64Mi not enforced: no memory cgroup here",
        "container app: limit ephemeral-storage=1Gi not enforced by miniplane",
    ]


def test_no_resources_no_settings() -> None:
    assert cgroup_settings(view().containers[0], ALL) == ({}, [])


def test_empty_dir_and_host_path_mounts(tmp_path: Path) -> None:
    host = tmp_path / "host" / "data"
    p = view(
        containers=[
            container(
                volumeMounts=[
                    {"name": "scratch", "mountPath": "/scratch"},
                    {"name": "scratch", "mountPath": "/sub", "subPath": "part"},
                    {"name": "data", "mountPath": "/data", "readOnly": True},
                ]
            )
        ],
        volumes=[
            {"name": "scratch", "emptyDir": {}},
            {"name": "data", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        ],
    )
    mounts, warnings = plan_mounts(p, p.containers[0], tmp_path / "vols", mount_namespace=True)
    assert mounts == [
        Mount(str(tmp_path / "vols" / "scratch"), "/scratch"),
        Mount(str(tmp_path / "vols" / "scratch" / "part"), "/sub"),
        Mount(str(host), "/data", read_only=True),
    ]
    assert warnings == []
    assert host.is_dir() and (tmp_path / "vols" / "scratch" / "part").is_dir()
    assert (tmp_path / "vols" / "scratch").stat().st_mode & 0o777 == 0o777


def test_without_a_mount_namespace_mounts_become_warnings(tmp_path: Path) -> None:
    p = view(
        containers=[container(volumeMounts=[{"name": "v", "mountPath": "/v"}])], volumes=[{"name": "v", "emptyDir": {}}]
    )
    mounts, warnings = plan_mounts(p, p.containers[0], tmp_path, mount_namespace=False)
    assert mounts == []
    assert warnings == [
        f"container app: volumeMount /v not realised (no mount namespace here); volume 'v' is at {tmp_path / 'v'}"
    ]


def test_unsupported_volume_types_are_skipped_with_a_warning(tmp_path: Path) -> None:
    p = view(
        containers=[container(volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}])],
        volumes=[{"name": "cfg", "configMap": {"name": "x"}}],
    )
    assert plan_mounts(p, p.containers[0], tmp_path, True) == (
        [],
        ["volume cfg: type configMap is not supported by the miniplane agent; not mounted"],
    )


@pytest.mark.parametrize("kind", ["Directory", "File", "Socket"])
def test_host_path_type_checks(tmp_path: Path, kind: str) -> None:
    p = view(
        containers=[container(volumeMounts=[{"name": "h", "mountPath": "/h"}])],
        volumes=[{"name": "h", "hostPath": {"path": str(tmp_path / "missing"), "type": kind}}],
    )
    with pytest.raises(ContainerConfigError, match=f"is not a {kind}"):
        plan_mounts(p, p.containers[0], tmp_path, True)


def test_mount_of_an_unknown_volume_is_a_config_error(tmp_path: Path) -> None:
    p = view(containers=[container(volumeMounts=[{"name": "ghost", "mountPath": "/g"}])])
    with pytest.raises(ContainerConfigError, match="no such volume"):
        plan_mounts(p, p.containers[0], tmp_path, True)
