"""Validation of placement rules: tolerations, node taints and node affinity (core/v1 wording)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from miniplane.resources import formats
from miniplane.resources.causes import (
    Cause,
    GoText,
    duplicate,
    forbidden,
    go_quote,
    integer,
    invalid,
    mapping,
    not_supported,
    required,
    seq,
    text,
)
from miniplane.resources.metavalidation import label_name

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Equal", "Exists")


def tolerations(values: list[Any], path: str) -> list[Cause]:
    causes: list[Cause] = []
    for i, toleration in enumerate(mapping(t) for t in values):
        p = f"{path}[{i}]"
        key, operator = text(toleration.get("key")), text(toleration.get("operator"))
        value, effect = text(toleration.get("value")), text(toleration.get("effect"))
        if key:
            causes += label_name(key, f"{p}.key")
        if not key and operator != "Exists":
            detail = 'operator must be Exists when `key` is empty, which means "match all values and all keys"'
            causes.append(invalid(f"{p}.operator", operator, detail))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            causes.append(invalid(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if operator in ("Equal", ""):
            problems = formats.label_value(value)
            if problems:
                causes.append(invalid(f"{p}.operator", value, ";".join(problems)))
        elif operator == "Exists":
            if value:
                causes.append(invalid(f"{p}.operator", value, "value must be empty when `operator` is 'Exists'"))
        else:
            causes.append(not_supported(f"{p}.operator", operator, TOLERATION_OPERATORS))
        if effect:
            causes += _taint_effect(effect, f"{p}.effect")
    return causes


def taints(values: list[Any], path: str) -> list[Cause]:
    """Node taints: key, value, effect (required), unique by key and effect."""
    causes: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, taint in enumerate(mapping(t) for t in values):
        p = f"{path}[{i}]"
        key, value, effect = text(taint.get("key")), text(taint.get("value")), text(taint.get("effect"))
        causes += label_name(key, f"{p}.key")
        problems = formats.label_value(value)
        if problems:
            causes.append(invalid(f"{p}.value", value, ";".join(problems)))
        causes += _taint_effect(effect, f"{p}.effect") if effect else [required(f"{p}.effect")]
        if (key, effect) in seen:
            causes.append(duplicate(p, _go_taint(taint), "taints must be unique by key and effect pair"))
            continue
        seen.add((key, effect))
    return causes


def affinity(values: Mapping[str, Any], path: str) -> list[Cause]:
    """Node affinity: required terms (label values checked) and weighted preferred terms."""
    node = values.get("nodeAffinity")
    if node is None:
        return []
    node, path = mapping(node), f"{path}.nodeAffinity"
    causes: list[Cause] = []
    hard = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if hard is not None:
        p = f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        terms = seq(mapping(hard).get("nodeSelectorTerms"))
        if not terms:
            causes.append(required(p, "must have at least one node selector term"))
        for i, term in enumerate(terms):
            causes += _selector_term(mapping(term), f"{p}[{i}]", check_values=True)
    for i, preferred in enumerate(mapping(t) for t in seq(node.get("preferredDuringSchedulingIgnoredDuringExecution"))):
        p = f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        if not 1 <= integer(preferred.get("weight")) <= 100:
            causes.append(invalid(f"{p}.weight", preferred.get("weight", 0), "must be in the range 1-100"))
        causes += _selector_term(mapping(preferred.get("preference")), f"{p}.preference", check_values=False)
    return causes


def _taint_effect(effect: str, path: str) -> list[Cause]:
    return [] if effect in TAINT_EFFECTS else [not_supported(path, effect, TAINT_EFFECTS)]


def _go_taint(taint: Mapping[str, Any]) -> GoText:
    added = "(*v1.Time)(nil)" if taint.get("timeAdded") is None else "(*v1.Time)(0xc000000000)"
    fields = (go_quote(text(taint.get(k))) for k in ("key", "value", "effect"))
    return GoText("core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{}}}".format(*fields, added))


def _selector_term(term: Mapping[str, Any], path: str, *, check_values: bool) -> list[Cause]:
    causes: list[Cause] = []
    for i, expr in enumerate(mapping(e) for e in seq(term.get("matchExpressions"))):
        causes += _label_requirement(expr, f"{path}.matchExpressions[{i}]", check_values)
    for i, expr in enumerate(mapping(e) for e in seq(term.get("matchFields"))):
        causes += _field_requirement(expr, f"{path}.matchFields[{i}]")
    return causes


def _label_requirement(expr: Mapping[str, Any], path: str, check_values: bool) -> list[Cause]:
    causes: list[Cause] = []
    operator, values = text(expr.get("operator")), seq(expr.get("values"))
    if operator in ("In", "NotIn"):
        if not values:
            causes.append(required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            causes.append(forbidden(f"{path}.values", detail))
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            detail = "must be specified single value when `operator` is 'Lt' or 'Gt'"
            causes.append(required(f"{path}.values", detail))
    else:
        causes.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    causes += label_name(text(expr.get("key")), f"{path}.key")
    if check_values:
        for i, value in enumerate(values):
            causes += [invalid(f"{path}.values[{i}]", value, m) for m in formats.label_value(text(value))]
    return causes


def _field_requirement(expr: Mapping[str, Any], path: str) -> list[Cause]:
    """``matchFields``: only ``metadata.name``, with In or NotIn and exactly one node name."""
    causes: list[Cause] = []
    operator, key, values = text(expr.get("operator")), text(expr.get("key")), seq(expr.get("values"))
    if operator not in ("In", "NotIn"):
        causes.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    elif len(values) != 1:
        detail = "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"
        causes.append(required(f"{path}.values", detail))
    if key != "metadata.name":
        return causes + [invalid(f"{path}.key", key, "not a valid field selector key")]
    for i, value in enumerate(values):
        causes += [invalid(f"{path}.values[{i}]", value, m) for m in formats.name_is_dns_subdomain(text(value), False)]
    return causes
