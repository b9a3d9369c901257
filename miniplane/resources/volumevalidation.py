"""Validation of volumes, volume mounts and downward-API references (core/v1 wording and paths).

``volumes`` returns the names mounts may refer to (only volumes without problems, as upstream);
``field_ref`` and ``resource_field_ref`` serve both env vars and downwardAPI volume files.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miniplane.resources import formats
from miniplane.resources.causes import (
    Cause,
    duplicate,
    forbidden,
    integer,
    invalid,
    mapping,
    not_found,
    not_supported,
    required,
    seq,
    text,
)
from miniplane.resources.quantity import Quantity

HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
# Every v1 VolumeSource member, in the order upstream checks them.
VOLUME_SOURCES = (
    "emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret", "nfs",
    "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
    "downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
    "portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image",
)  # fmt: skip
_SOURCE_ERROR_NAMES = {
    "cephfs": "cephFS",
    "downwardAPI": "downwarAPI",
}  # upstream's spellings in that message
# Downward API field paths: those an env var may read, those a volume file may read, and all v1 knows.
ENV_FIELD_PATHS = (
    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
    "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
)  # fmt: skip
_VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
_CONVERTIBLE_FIELD_PATHS = frozenset(
    (*ENV_FIELD_PATHS, "metadata.annotations", "metadata.labels", "spec.restartPolicy", "spec.schedulerName",
     "status.phase", "spec.host")
)  # fmt: skip
_RESOURCE_FIELDS = tuple(
    sorted(f"{kind}.{res}" for kind in ("limits", "requests") for res in ("cpu", "memory", "ephemeral-storage"))
)
_FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"


# ---- downward API ---------------------------------------------------------------------------


def field_ref(ref: Mapping[str, Any], path: str, supported: tuple[str, ...]) -> list[Cause]:
    """``ObjectFieldSelector``: the downward API field paths an env var or volume file may read."""
    api_version, field_path = text(ref.get("apiVersion")), text(ref.get("fieldPath"))
    if not api_version:
        return [required(f"{path}.apiVersion")]
    if not field_path:
        return [required(f"{path}.fieldPath")]
    base, subscript = _split_subscript(field_path)
    problem = ""
    if api_version != "v1":
        problem = f"unsupported pod version: {api_version}"
    elif subscript is not None and base not in ("metadata.annotations", "metadata.labels"):
        problem = f"field label does not support subscript: {field_path}"
    elif subscript is None and field_path not in _CONVERTIBLE_FIELD_PATHS:
        problem = f"field label not supported: {field_path}"
    if problem:
        return [invalid(f"{path}.fieldPath", field_path, f"error converting fieldPath: {problem}")]
    if subscript is not None:
        key = subscript.lower() if base == "metadata.annotations" else subscript
        return [invalid(path, key, m) for m in formats.qualified_name(key)]
    internal = "spec.nodeName" if field_path == "spec.host" else field_path
    return [] if internal in supported else [not_supported(f"{path}.fieldPath", internal, supported)]


def _split_subscript(field_path: str) -> tuple[str, str | None]:
    """``metadata.labels['app']`` -> (``metadata.labels``, ``app``)."""
    if not field_path.endswith("']"):
        return field_path, None
    base, sep, key = field_path[:-2].partition("['")
    return (base, key) if sep and base else (field_path, None)


def resource_field_ref(ref: Mapping[str, Any], path: str, *, volume: bool) -> list[Cause]:
    resource = text(ref.get("resource"))
    if volume and not text(ref.get("containerName")):
        return [required(f"{path}.containerName")]
    if not resource:
        return [required(f"{path}.resource")]
    if resource in _RESOURCE_FIELDS or resource.startswith(("limits.hugepages-", "requests.hugepages-")):
        return []
    return [not_supported(f"{path}.resource", resource, _RESOURCE_FIELDS)]


# ---- volumes and mounts ----------------------------------------------------------------------


def volumes(volumes: list[Any], path: str) -> tuple[frozenset[str], list[Cause]]:
    """The names of the valid volumes (mounts may only refer to those) and the problems found."""
    causes: list[Cause] = []
    valid: set[str] = set()
    names: set[str] = set()
    for i, volume in enumerate(mapping(v) for v in volumes):
        p = f"{path}[{i}]"
        name = text(volume.get("name"))
        problems = _volume_source(volume, p)
        if not name:
            problems.append(required(f"{p}.name"))
        problems += [invalid(f"{p}.name", name, m) for m in formats.dns_label(name) if name]
        if name in names:
            problems.append(duplicate(f"{p}.name", name))
        names.add(name)
        if problems:
            causes += problems
        else:
            valid.add(name)
    return frozenset(valid), causes


def _volume_source(volume: Mapping[str, Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    found = False
    for key in VOLUME_SOURCES:
        if volume.get(key) is None:
            continue
        if found:
            causes.append(
                forbidden(f"{path}.{_SOURCE_ERROR_NAMES.get(key, key)}", "may not specify more than 1 volume type")
            )
            continue
        found = True
        check = _SOURCE_CHECKS.get(key)
        if check is not None:
            causes += check(mapping(volume[key]), f"{path}.{key}")
    if not found:
        causes.append(required(path, "must specify a volume type"))
    return causes


def _empty_dir(source: Mapping[str, Any], path: str) -> list[Cause]:
    limit = source.get("sizeLimit")
    if limit is None:
        return []
    try:
        negative = Quantity.parse(limit).value < 0
    except ValueError as err:
        return [invalid(f"{path}.sizeLimit", limit, str(err))]
    return [forbidden(f"{path}.sizeLimit", "SizeLimit field must be a valid resource quantity")] if negative else []


def _host_path(source: Mapping[str, Any], path: str) -> list[Cause]:
    host_path = text(source.get("path"))
    if not host_path:
        return [required(f"{path}.path")]
    causes = _no_backsteps(host_path, f"{path}.path")
    kind = source.get("type")
    if kind is not None and kind not in HOST_PATH_TYPES:
        causes.append(not_supported(f"{path}.type", kind, HOST_PATH_TYPES))
    return causes


def _named_source(name_key: str) -> Callable[[Mapping[str, Any], str], list[Cause]]:
    """Secret and configMap volumes: a name, a file mode, and items mapping keys to paths."""

    def check(source: Mapping[str, Any], path: str) -> list[Cause]:
        causes = [] if text(source.get(name_key)) else [required(f"{path}.{name_key}")]
        causes += _file_mode(source.get("defaultMode"), f"{path}.defaultMode")
        for i, item in enumerate(mapping(x) for x in seq(source.get("items"))):
            causes += _key_to_path(item, f"{path}.items[{i}]")
        return causes

    return check


def _key_to_path(item: Mapping[str, Any], path: str) -> list[Cause]:
    key, target = text(item.get("key")), text(item.get("path"))
    causes = [] if key else [required(f"{path}.key")]
    if not target:
        causes.append(required(f"{path}.path"))
    causes += _local_non_reserved_path(target, f"{path}.path")
    return causes + _file_mode(item.get("mode"), f"{path}.mode")


def _downward_api(source: Mapping[str, Any], path: str) -> list[Cause]:
    causes = _file_mode(source.get("defaultMode"), f"{path}.defaultMode")
    for item in (mapping(x) for x in seq(source.get("items"))):  # upstream reports items on the source path
        target = text(item.get("path"))
        if not target:
            causes.append(required(f"{path}.path"))
        causes += _local_non_reserved_path(target, f"{path}.path")
        if item.get("fieldRef") is not None:
            causes += field_ref(mapping(item["fieldRef"]), f"{path}.fieldRef", _VOLUME_FIELD_PATHS)
        elif item.get("resourceFieldRef") is not None:
            causes += resource_field_ref(mapping(item["resourceFieldRef"]), f"{path}.resourceFieldRef", volume=True)
        else:
            causes.append(required(path, "one of fieldRef and resourceFieldRef is required"))
        causes += _file_mode(item.get("mode"), f"{path}.mode")
    return causes


def _projected(source: Mapping[str, Any], path: str) -> list[Cause]:
    return _file_mode(source.get("defaultMode"), f"{path}.defaultMode")


def _claim(source: Mapping[str, Any], path: str) -> list[Cause]:
    return [] if text(source.get("claimName")) else [required(f"{path}.claimName")]


_SOURCE_CHECKS: dict[str, Callable[[Mapping[str, Any], str], list[Cause]]] = {
    "emptyDir": _empty_dir,
    "hostPath": _host_path,
    "secret": _named_source("secretName"),
    "configMap": _named_source("name"),
    "downwardAPI": _downward_api,
    "projected": _projected,
    "persistentVolumeClaim": _claim,
}


def _file_mode(mode: Any, path: str) -> list[Cause]:
    return [invalid(path, mode, _FILE_MODE_ERROR)] if mode is not None and not 0 <= integer(mode) <= 0o777 else []


def _no_backsteps(target: str, path: str) -> list[Cause]:
    return [invalid(path, target, "must not contain '..'")] if ".." in target.split("/") else []


def _local_descending_path(target: str, path: str) -> list[Cause]:
    causes = [invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return causes + _no_backsteps(target, path)


def _local_non_reserved_path(target: str, path: str) -> list[Cause]:
    causes = _local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        causes.append(invalid(path, target, "must not start with '..'"))
    return causes


def volume_mounts(mounts: list[Mapping[str, Any]], volumes: frozenset[str], path: str) -> list[Cause]:
    causes: list[Cause] = []
    mount_paths: set[str] = set()
    for i, mount in enumerate(mounts):
        p = f"{path}[{i}]"
        name, mount_path = text(mount.get("name")), text(mount.get("mountPath"))
        if not name:
            causes.append(required(f"{p}.name"))
        if name not in volumes:
            causes.append(not_found(f"{p}.name", name))
        if not mount_path:
            causes.append(required(f"{p}.mountPath"))
        if mount_path in mount_paths:
            causes.append(invalid(f"{p}.mountPath", mount_path, "must be unique"))
        mount_paths.add(mount_path)
        sub_path, sub_path_expr = text(mount.get("subPath")), text(mount.get("subPathExpr"))
        if sub_path:
            causes += _local_descending_path(sub_path, f"{path}.subPath")  # upstream omits the index
        if sub_path_expr:
            if sub_path:
                causes.append(
                    invalid(f"{p}.subPathExpr", sub_path_expr, "subPathExpr and subPath are mutually exclusive")
                )
            causes += _local_descending_path(sub_path_expr, f"{path}.subPathExpr")
    return causes
