"""The daemon pod for one node (pure), as ``CreatePodTemplate`` + ``GetPodFromTemplate`` build it (§1.4).

- ``generateName: <ds>-`` (the API server appends 5 characters and cuts the prefix to 58);
- template labels + ``pod-template-generation`` (when the annotation parses) + ``controller-revision-hash``;
- template annotations and finalizers; the controller ownerReference;
- the template spec with the automatic tolerations, and the required node affinity replaced by one
  ``matchFields metadata.name In [<node>]`` term (preferred terms and pod (anti-)affinity stay).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from miniplane.controllers.daemonset.claim import controller_ref
from miniplane.controllers.daemonset.podutil import GENERATION_LABEL, HASH_LABEL, template_generation
from miniplane.scheduling.daemon import add_daemon_tolerations


def new_pod(ds: Mapping[str, Any], node_name: str, current_hash: str) -> dict[str, Any]:
    """The pod body to create for ``node_name`` (no ``spec.nodeName``: the scheduler binds it)."""
    ds_meta = ds.get("metadata") or {}
    template = (ds.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    pod_labels = dict(template_meta.get("labels") or {})
    generation = template_generation(ds)
    if generation is not None:
        pod_labels[GENERATION_LABEL] = str(generation)
    if current_hash:
        pod_labels[HASH_LABEL] = current_hash
    metadata: dict[str, Any] = {
        "generateName": f"{ds_meta.get('name')}-",
        "namespace": ds_meta.get("namespace") or "default",
        "labels": pod_labels,
        "ownerReferences": [controller_ref(ds)],
    }
    for key in ("annotations", "finalizers"):
        if template_meta.get(key):
            metadata[key] = _copy(template_meta[key])
    spec: dict[str, Any] = _copy(dict(template.get("spec") or {}))
    spec["tolerations"] = add_daemon_tolerations(spec.get("tolerations") or [], bool(spec.get("hostNetwork")))
    spec["affinity"] = pin_to_node(spec.get("affinity"), node_name)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def pod_factory(ds: Mapping[str, Any], current_hash: str) -> Callable[[str], dict[str, Any]]:
    """``new_pod(ds, node, current_hash)`` for many nodes: the node-independent body is built once,
    and each call returns a fresh copy of it pinned to its node."""
    encoded = orjson.dumps(new_pod(ds, "", current_hash))

    def for_node(node_name: str) -> dict[str, Any]:
        pod: dict[str, Any] = orjson.loads(encoded)
        pod["spec"]["affinity"] = pin_to_node(pod["spec"]["affinity"], node_name)
        return pod

    return for_node


def pin_to_node(affinity: Mapping[str, Any] | None, node_name: str) -> dict[str, Any]:
    """``ReplaceDaemonSetPodNodeNameNodeAffinity``: the required node affinity becomes one term."""
    pinned = {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]
    }
    result = dict(affinity or {})
    node_affinity = dict(result.get("nodeAffinity") or {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = pinned
    result["nodeAffinity"] = node_affinity
    return result


def _copy(value: Any) -> Any:
    """A deep copy of JSON data (the DaemonSet was decoded from JSON); far cheaper than ``copy.deepcopy``."""
    return orjson.loads(orjson.dumps(value))
