"""Container environment, fieldRef, `$(VAR)` expansion and the command line."""

from __future__ import annotations

import pytest

from agent.env import ContainerConfigError, PodContext, base_env, command_line, container_env, expand
from tests.unit.agent.builders import container, view

CTX = PodContext(node_name="node-a", host_ip="10.0.0.7")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(A)", "alpha", id="defined"),
        pytest.param("x$(A)y$(B)z", "xalphaybetaz", id="several"),
        pytest.param("$(MISSING)", "$(MISSING)", id="undefined stays as written"),
        pytest.param("$$(A)", "$(A)", id="$$ escapes"),
        pytest.param("$$$(A)", "$alpha", id="escaped dollar then a reference"),
        pytest.param("$(A", "$(A", id="unterminated"),
        pytest.param("cost $5 $", "cost $5 $", id="lone dollars"),
        pytest.param("$()", "$()", id="empty name"),
        pytest.param("echo $(date) $(hostname)", "echo $(date) $(hostname)", id="shell substitutions untouched"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, {"A": "alpha", "B": "beta"}) == expected


def test_env_in_order_with_references_and_field_refs() -> None:
    env = [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "GREETING", "value": "hello $(NODE) from $(POD)"},  # POD is defined later: not expanded
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "WHO", "value": "$(POD).$(NS)"},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
        {"name": "OPTIONAL", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}},
    ]
    p = view(name="web-1", uid="u-9", containers=[container(env=env)])
    assert container_env(p, p.containers[0], CTX) == {
        "NODE": "node-a",
        "GREETING": "hello node-a from $(POD)",
        "POD": "web-1",
        "WHO": "web-1.$(NS)",
        "NS": "default",
        "UID": "u-9",
        "IP": "10.0.0.7",
        "HOST_IP": "10.0.0.7",
        "APP": "",
    }


def test_base_env_is_overridable() -> None:
    p = view(name="web-1")
    assert base_env(p)["HOSTNAME"] == "web-1"
    assert "PATH" in base_env(p)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param({"secretKeyRef": {"name": "s", "key": "k"}}, "secretKeyRef is not supported", id="secret"),
        pytest.param(
            {"configMapKeyRef": {"name": "c", "key": "k"}}, "configMapKeyRef is not supported", id="configmap"
        ),
        pytest.param({"fieldRef": {"fieldPath": "spec.nope"}}, "unsupported fieldRef", id="unknown field"),
    ],
)
def test_unsupported_sources_are_config_errors(source: dict[str, object], message: str) -> None:
    p = view(containers=[container(env=[{"name": "X", "valueFrom": source}])])
    with pytest.raises(ContainerConfigError, match=message):
        container_env(p, p.containers[0], CTX)


@pytest.mark.parametrize(
    ("fields", "argv"),
    [
        pytest.param(
            {"command": ["echo", "$(A)"], "args": ["$$(A)", "b"]}, ["echo", "1", "$(A)", "b"], id="command + args"
        ),
        pytest.param(
            {"command": None, "args": ["/bin/sh", "-c", "echo $(A)"]}, ["/bin/sh", "-c", "echo 1"], id="args only"
        ),
        pytest.param({"command": ["true"]}, ["true"], id="command only"),
    ],
)
def test_command_line(fields: dict[str, object], argv: list[str]) -> None:
    p = view(containers=[{"name": "c", "image": "busybox", **fields}])
    assert command_line(p.containers[0], {"A": "1"}) == argv


def test_env_from_is_a_config_error_unless_optional() -> None:
    required = view(containers=[container(envFrom=[{"configMapRef": {"name": "c"}}])])
    with pytest.raises(ContainerConfigError, match="envFrom configMapRef is not supported"):
        container_env(required, required.containers[0], CTX)
    optional = view(containers=[container(envFrom=[{"prefix": "X_", "secretRef": {"name": "s", "optional": True}}])])
    assert container_env(optional, optional.containers[0], CTX) == {}


def test_no_command_at_all_is_a_config_error() -> None:
    p = view(containers=[{"name": "c", "image": "busybox"}])
    with pytest.raises(ContainerConfigError, match="neither command nor args"):
        command_line(p.containers[0], {})
