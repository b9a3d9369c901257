"""A pod template as a Go client re-serializes it, and Go's JSON bytes (pure; for revision ``data``).

``normalize_template`` walks the template alongside the Kubernetes schema and applies what a Go
decode/encode round trip does: unknown fields dropped; ``omitempty`` zero values ("", 0, false, {},
[]) dropped; pointer fields kept even when zero; value structs (``resources``) always written; fields
without ``omitempty`` (the schema's ``required``) always written; quantities canonical (``1Gi``); a
zero ``creationTimestamp`` dropped (Kubernetes 1.34+). ``go_json`` writes compact JSON with keys
sorted at every level and Go's escaping of ``<``, ``>``, ``&``, U+2028 and U+2029.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from miniplane.resources.quantity import Quantity
from miniplane.schema.definitions import REF_PREFIX, definitions

_TEMPLATE = "io.k8s.api.core.v1.PodTemplateSpec"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"

# Non-pointer struct fields: written even when absent or empty.
_VALUE_STRUCTS = {
    "PodTemplateSpec": {"metadata", "spec"},
    "Container": {"resources"},
    "EphemeralContainer": {"resources"},
    "PreferredSchedulingTerm": {"preference"},
    "WeightedPodAffinityTerm": {"podAffinityTerm"},
    "PersistentVolumeClaimTemplate": {"metadata", "spec"},
    "PersistentVolumeClaimSpec": {"resources"},
    "ResourceFieldSelector": {"divisor"},
}
# Pointer scalars: kept when present, even when zero.
_POINTERS = {
    "PodSpec": {
        "terminationGracePeriodSeconds", "activeDeadlineSeconds", "automountServiceAccountToken",
        "shareProcessNamespace", "priority", "runtimeClassName", "enableServiceLinks", "preemptionPolicy",
        "setHostnameAsFQDN", "hostUsers", "hostnameOverride",
    },
    "Container": {"restartPolicy"},
    "EphemeralContainer": {"restartPolicy"},
    "SecurityContext": {
        "privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
        "allowPrivilegeEscalation", "procMount",
    },
    "PodSecurityContext": {
        "runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy",
        "supplementalGroupsPolicy", "seLinuxChangePolicy",
    },
    "WindowsSecurityContextOptions": {
        "gmsaCredentialSpecName", "gmsaCredentialSpec", "runAsUserName", "hostProcess",
    },
    "SeccompProfile": {"localhostProfile"},
    "AppArmorProfile": {"localhostProfile"},
    "Toleration": {"tolerationSeconds"},
    "Probe": {"terminationGracePeriodSeconds"},
    "Lifecycle": {"stopSignal"},
    "VolumeMount": {"mountPropagation", "recursiveReadOnly"},
    "SecretVolumeSource": {"defaultMode", "optional"},
    "ConfigMapVolumeSource": {"defaultMode", "optional"},
    "ProjectedVolumeSource": {"defaultMode"},
    "DownwardAPIVolumeSource": {"defaultMode"},
    "KeyToPath": {"mode"},
    "DownwardAPIVolumeFile": {"mode"},
    "SecretProjection": {"optional"},
    "ConfigMapProjection": {"optional"},
    "ServiceAccountTokenProjection": {"expirationSeconds"},
    "ClusterTrustBundleProjection": {"name", "signerName", "optional"},
    "PodCertificateProjection": {"maxExpirationSeconds"},
    "HostPathVolumeSource": {"type"},
    "CSIVolumeSource": {"readOnly", "fsType"},
    "AzureDiskVolumeSource": {"cachingMode", "fsType", "readOnly", "kind"},
    "FCVolumeSource": {"lun"},
    "ISCSIVolumeSource": {"initiatorName"},
    "ConfigMapKeySelector": {"optional"},
    "SecretKeySelector": {"optional"},
    "ConfigMapEnvSource": {"optional"},
    "SecretEnvSource": {"optional"},
    "FileKeySelector": {"optional"},
    "PodDNSConfigOption": {"value"},
    "TopologySpreadConstraint": {"minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"},
    "PodResourceClaim": {"resourceClaimName", "resourceClaimTemplateName"},
    "PersistentVolumeClaimSpec": {"storageClassName", "volumeMode", "volumeAttributesClassName"},
    "TypedLocalObjectReference": {"apiGroup"},
    "TypedObjectReference": {"apiGroup", "namespace"},
    "ObjectMeta": {"deletionGracePeriodSeconds"},
    "OwnerReference": {"controller", "blockOwnerDeletion"},
}  # fmt: skip
# Optional fields without omitempty: written (null when unset) like required ones.
_NO_OMITEMPTY = {"GRPCAction": {"service"}, "ProjectedVolumeSource": {"sources"}}
_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def normalize_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The ``PodTemplateSpec`` exactly as Go's ``json.Marshal`` writes it after decoding ``template``."""
    result: dict[str, Any] = _struct(_TEMPLATE, template)
    return result


def go_json(value: Any) -> bytes:
    """Compact JSON, keys sorted at every level, escaped as Go's ``encoding/json`` escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    for char, escaped in _ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


def _struct(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    definition = definitions()[name]
    short = name.rsplit(".", 1)[1]
    required = set(definition.get("required") or ()) | _NO_OMITEMPTY.get(short, set())
    values, pointers = _VALUE_STRUCTS.get(short, set()), _POINTERS.get(short, set())
    out: dict[str, Any] = {}
    for key, prop in definition.get("properties", {}).items():
        raw = value.get(key)
        if key == "creationTimestamp":
            if raw:
                out[key] = raw
        elif raw is None:
            if key in values or key in required:
                out[key] = _zero(prop, struct=key in values)
        else:
            normalized = _field(prop, raw)
            keep = key in values or key in required or key in pointers or _ref(prop) is not None
            if keep or not _empty(normalized):
                out[key] = normalized
    return out


def _field(prop: Mapping[str, Any], raw: Any) -> Any:
    ref = _ref(prop)
    if ref == _QUANTITY:
        return str(Quantity.parse(raw))
    if ref == _INT_OR_STRING or (ref is not None and "properties" not in definitions()[ref]):
        return raw
    if ref is not None:
        return _struct(ref, raw)
    if "items" in prop:
        return [_field(prop["items"], item) for item in raw]
    extra = prop.get("additionalProperties")
    if isinstance(extra, dict):
        return {k: _field(extra, v) for k, v in raw.items()}
    return raw


def _zero(prop: Mapping[str, Any], *, struct: bool) -> Any:
    """Go's zero value, written for a value struct or a required field that the input lacks."""
    ref = _ref(prop)
    if ref == _QUANTITY:
        return "0"
    if ref == _INT_OR_STRING:
        return 0
    if struct and ref is not None:
        return _struct(ref, {})
    types = prop.get("type") or []
    return "" if "string" in types else 0 if "integer" in types else False if "boolean" in types else None


def _empty(value: Any) -> bool:
    """A zero value that ``omitempty`` drops (False equals 0 here)."""
    return value in ("", 0, {}, [])


def _ref(prop: Mapping[str, Any]) -> str | None:
    ref = prop.get("$ref") or next((s.get("$ref") for s in prop.get("allOf", ()) if "$ref" in s), None)
    return str(ref).removeprefix(REF_PREFIX) if ref else None
