"""Validation of objects before they are stored, as the API server's registry strategies run it.

    validate(kind, obj, old=None) -> list[Cause]     a create (``old`` None) or an update
    validate_status(kind, obj, old) -> list[Cause]   a ``/status`` write

An empty list means valid; otherwise the API answers 422 ``Invalid`` with these causes, and kubectl
prints ``The DaemonSet "x" is invalid: <field>: <message>``. Objects are validated after defaulting
(``miniplane.resources.defaults``), as upstream does. Updates also check the immutable fields
(``spec.selector``, a ControllerRevision's ``data``, a pod's spec) and, for kinds with status rules,
the status: a main-resource update carries the stored status, a ``/status`` write the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from miniplane.resources import formats
from miniplane.resources.causes import (
    Cause,
    GoText,
    forbidden,
    go_label_selector,
    go_quote,
    go_raw_extension,
    go_string_map,
    immutable,
    integer,
    invalid,
    mapping,
    non_negative,
    not_supported,
    required,
    seq,
    text,
)
from miniplane.resources.metavalidation import (
    NameCheck,
    kube_finalizer_name,
    label_selector,
    object_meta,
    object_meta_update,
    semantic,
)
from miniplane.resources.podvalidation import pod_spec, pod_spec_update, pod_template, resource_quantity
from miniplane.resources.registry import RESOURCES
from miniplane.resources.schedvalidation import taints
from miniplane.selectors import LabelSelector, SelectorError

__all__ = ["Cause", "validate", "validate_status"]

Object = Mapping[str, Any]
_NAMESPACED = {r.kind: r.namespaced for r in RESOURCES}
_DS_STATUS_COUNTERS = (
    "currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
    "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable", "collisionCount",
)  # fmt: skip
_EVENT_FIELD_LIMITS = (("reportingInstance", 128), ("action", 128), ("reason", 128))


def validate(kind: str, obj: Object, old: Object | None = None) -> list[Cause]:
    """Problems with ``obj`` (a create, or an update of ``old``), in the API server's order and words."""
    check = _VALIDATORS.get(kind)
    causes = check(obj, old) if check is not None else _meta(kind, obj, old)
    status_check = _STATUS_VALIDATORS.get(kind)
    if old is not None and status_check is not None:
        causes += status_check(obj, old)
    return causes


def validate_status(kind: str, obj: Object, old: Object) -> list[Cause]:
    """Problems with a ``/status`` write: metadata stays as it was, the status obeys the kind's rules."""
    causes = object_meta_update(mapping(obj.get("metadata")), mapping(old.get("metadata")))
    status_check = _STATUS_VALIDATORS.get(kind)
    return causes + status_check(obj, old) if status_check is not None else causes


def _meta(
    kind: str,
    obj: Object,
    old: Object | None,
    name_check: NameCheck = formats.name_is_dns_subdomain,
    core: bool = True,
) -> list[Cause]:
    meta = mapping(obj.get("metadata"))
    if old is None:
        return object_meta(meta, namespaced=_NAMESPACED.get(kind, True), name_check=name_check, core=core)
    return object_meta_update(meta, mapping(old.get("metadata")), core)


# ---- apps/v1 ---------------------------------------------------------------------------------


def _daemonset(obj: Object, old: Object | None) -> list[Cause]:
    spec = mapping(obj.get("spec"))
    causes = _meta("DaemonSet", obj, old)
    if old is not None and spec == mapping(old.get("spec")):
        return causes  # unchanged (status and metadata writes): it passed when stored, as Kubernetes ratchets
    causes += _daemonset_spec(spec)
    if old is not None:
        selector, old_selector = spec.get("selector"), mapping(old.get("spec")).get("selector")
        if semantic(selector) != semantic(old_selector):
            causes.append(immutable("spec.selector", None if selector is None else go_label_selector(selector)))
    return causes


def _daemonset_spec(spec: Object) -> list[Cause]:
    causes: list[Cause] = []
    selector = spec.get("selector")
    if selector is None:
        causes.append(required("spec.selector"))
    else:
        causes += label_selector(selector, "spec.selector")
    template = mapping(spec.get("template"))
    template_labels = mapping(template.get("metadata")).get("labels")
    if not _selects(selector, template_labels):
        detail = "`selector` does not match template `labels`"
        causes.append(invalid("spec.template.metadata.labels", go_string_map(template_labels), detail))
    if selector is not None and not (mapping(selector).get("matchLabels") or mapping(selector).get("matchExpressions")):
        causes.append(invalid("spec.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    causes += pod_template(template, "spec.template")
    template_spec = mapping(template.get("spec"))
    restart_policy = template_spec.get("restartPolicy")
    if restart_policy != "Always":
        causes.append(not_supported("spec.template.spec.restartPolicy", restart_policy or "", ["Always"]))
    if template_spec.get("activeDeadlineSeconds") is not None:
        detail = "activeDeadlineSeconds in DaemonSet is not Supported"
        causes.append(forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    causes += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    causes += _update_strategy(mapping(spec.get("updateStrategy")), "spec.updateStrategy")
    return causes + non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))


def _selects(selector: Any, labels: Any) -> bool:
    """Whether the selector matches the labels; a nil selector matches nothing, a broken one is not judged."""
    if selector is None:
        return False
    try:
        parsed = LabelSelector.from_api(mapping(selector))
    except SelectorError:
        return True
    return parsed.matches({k: v for k, v in mapping(labels).items() if isinstance(v, str)})


def _update_strategy(strategy: Object, path: str) -> list[Cause]:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        rolling = "nil" if strategy.get("rollingUpdate") is None else "0xc000000000"  # Go prints the pointer
        shown = GoText(
            f"apps.DaemonSetUpdateStrategy{{Type:{go_quote(text(kind))}, "
            f"RollingUpdate:(*apps.RollingUpdateDaemonSet)({rolling})}}"
        )
        return [not_supported(path, shown, ["RollingUpdate", "OnDelete"])]
    if strategy.get("rollingUpdate") is None:
        return [required(f"{path}.rollingUpdate")]
    return _rolling_update(mapping(strategy["rollingUpdate"]), f"{path}.rollingUpdate")


def _rolling_update(rolling: Object, path: str) -> list[Cause]:
    """Each of maxUnavailable and maxSurge an int or percent (at most 100%); exactly one non-zero."""
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    causes = _int_or_percent(unavailable, f"{path}.maxUnavailable") + _int_or_percent(surge, f"{path}.maxSurge")
    for value, key in ((unavailable, "maxUnavailable"), (surge, "maxSurge")):
        if isinstance(value, str) and not formats.percent(value) and int(value[:-1]) > 100:
            causes.append(invalid(f"{path}.{key}", GoText(value), "must not be greater than 100%"))
    has_unavailable, has_surge = _int_or_percent_value(unavailable) != 0, _int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        causes.append(invalid(f"{path}.maxSurge", GoText(str(surge)), "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        causes.append(required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return causes


def _int_or_percent(value: Any, path: str) -> list[Cause]:
    """An IntOrString prints bare (its ``String()``): ``Invalid value: 50x: ...``."""
    if isinstance(value, str):
        return [invalid(path, GoText(value), msg) for msg in formats.percent(value)]
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return non_negative(path, value)
    return [invalid(path, GoText(str(value)), "must be an integer or percentage (e.g '5%%')")]


def _int_or_percent_value(value: Any) -> int:
    """Upstream's ``getIntOrPercentValue``: the percent number, else the integer (0 if neither)."""
    if isinstance(value, str):
        digits = value[:-1] if not formats.percent(value) else value
        return int(digits) if digits.isascii() and digits.isdigit() else 0
    return integer(value)


def _daemonset_status(obj: Object, old: Object) -> list[Cause]:
    status = mapping(obj.get("status"))
    causes = [c for key in _DS_STATUS_COUNTERS for c in non_negative(f"status.{key}", status.get(key))]
    collisions, old_collisions = (
        status.get("collisionCount"),
        mapping(old.get("status")).get("collisionCount"),
    )
    if old_collisions is not None and (collisions is None or integer(collisions) < integer(old_collisions)):
        causes.append(invalid("status.collisionCount", integer(collisions), "cannot be decremented"))
    return causes


def _controller_revision(obj: Object, old: Object | None) -> list[Cause]:
    causes = _meta("ControllerRevision", obj, old)
    if obj.get("data") is None:
        causes.append(required("data", "data is mandatory"))
    causes += non_negative("revision", obj.get("revision"))
    if old is not None and obj.get("data") != old.get("data"):
        causes.append(immutable("data", go_raw_extension(obj.get("data"))))
    return causes


# ---- core/v1 ---------------------------------------------------------------------------------


def _pod(obj: Object, old: Object | None) -> list[Cause]:
    spec = mapping(obj.get("spec"))
    causes = _meta("Pod", obj, old)
    old_spec = None if old is None else mapping(old.get("spec"))
    if spec == old_spec:
        return causes  # unchanged (status writes): Kubernetes' status update does not look at the spec
    causes += pod_spec(spec, "spec", is_pod=True)
    if old_spec is not None:
        causes += pod_spec_update(spec, old_spec)
    return causes


def _node(obj: Object, old: Object | None) -> list[Cause]:
    spec, status = mapping(obj.get("spec")), mapping(obj.get("status"))
    causes = _meta("Node", obj, old)
    causes += taints(seq(spec.get("taints")), "metadata.taints")  # upstream reports taints under metadata
    old_status = mapping((old or {}).get("status"))
    for key in ("capacity", "allocatable"):
        amounts = mapping(status.get(key))
        if old is not None and amounts == mapping(old_status.get(key)):
            continue  # unchanged (the usual status write): it passed when stored
        for name, raw in amounts.items():
            causes += resource_quantity(name, raw, f"status.{key}.{name}")
    old_provider = text(mapping((old or {}).get("spec")).get("providerID"))
    if old_provider and old_provider != text(spec.get("providerID")):
        causes.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return causes


def _namespace(obj: Object, old: Object | None) -> list[Cause]:
    causes = _meta("Namespace", obj, old, formats.name_is_dns_label)
    for finalizer in (text(f) for f in seq(mapping(obj.get("spec")).get("finalizers"))):
        causes += [invalid("spec.finalizers", finalizer, m) for m in formats.qualified_name(finalizer)]
        causes += kube_finalizer_name(finalizer, "spec.finalizers")
    return causes


def _namespace_status(obj: Object, old: Object) -> list[Cause]:
    phase = mapping(obj.get("status")).get("phase")
    if mapping(obj.get("metadata")).get("deletionTimestamp"):
        expected, detail = "Terminating", "may only be 'Terminating' if `deletionTimestamp` is not empty"
    else:
        expected, detail = "Active", "may only be 'Active' if `deletionTimestamp` is empty"
    return [] if phase == expected else [invalid("status.Phase", phase or "", detail)]


def _event(obj: Object, old: Object | None) -> list[Cause]:
    """core/v1 Events get the legacy checks; names then need only be usable in a URL."""
    causes = _legacy_event(obj)
    return causes or _meta("Event", obj, old, formats.path_segment_name, core=False)


def _legacy_event(obj: Object) -> list[Cause]:
    causes: list[Cause] = []
    namespace = text(mapping(obj.get("metadata")).get("namespace"))
    involved = text(mapping(obj.get("involvedObject")).get("namespace"))
    if not obj.get("eventTime"):
        mismatch = namespace not in ("", "default") if not involved else namespace != involved
    else:
        mismatch = not involved and namespace not in ("default", "kube-system")
        causes += _new_style_event_fields(obj)
    if mismatch:
        causes.insert(0, invalid("involvedObject.namespace", involved, "does not match event.namespace"))
    return causes + [invalid("namespace", namespace, m) for m in formats.dns_subdomain(namespace)]


def _new_style_event_fields(obj: Object) -> list[Cause]:
    causes: list[Cause] = []
    controller = text(obj.get("reportingComponent"))  # ReportingController in Go, reportingComponent in JSON
    if not controller:
        causes.append(required("reportingController"))
    causes += [invalid("reportingController", controller, m) for m in formats.qualified_name(controller)]
    for key, limit in _EVENT_FIELD_LIMITS:
        value = text(obj.get(key))
        if not value:
            causes.append(required(key))
        if len(value.encode()) > limit:
            causes.append(invalid(key, "", f"can have at most {limit} characters"))
    if len(text(obj.get("message")).encode()) > 1024:
        causes.append(invalid("message", "", "can have at most 1024 characters"))
    return causes


# ---- coordination.k8s.io/v1 ------------------------------------------------------------------


def _lease(obj: Object, old: Object | None) -> list[Cause]:
    spec = mapping(obj.get("spec"))
    causes = _meta("Lease", obj, old, core=False)
    duration, transitions = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if duration is not None and integer(duration) <= 0:
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    if transitions is not None and integer(transitions) < 0:
        causes.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    strategy = text(spec.get("strategy"))
    if strategy and "/" not in strategy and strategy != "OldestEmulationVersion":
        causes.append(not_supported("spec.strategy.strategy", strategy, ["OldestEmulationVersion"]))
    elif "/" in strategy:
        causes += [invalid("spec.strategy.strategy", strategy, m) for m in formats.qualified_name(strategy)]
    if text(spec.get("preferredHolder")) and not strategy:
        causes.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
    return causes


Validator = Callable[[Object, Object | None], list[Cause]]

_VALIDATORS: dict[str, Validator] = {
    "DaemonSet": _daemonset,
    "ControllerRevision": _controller_revision,
    "Pod": _pod,
    "Node": _node,
    "Namespace": _namespace,
    "Event": _event,
    "Lease": _lease,
}
_STATUS_VALIDATORS: dict[str, Callable[[Object, Object], list[Cause]]] = {
    "DaemonSet": _daemonset_status,
    "Namespace": _namespace_status,
}
