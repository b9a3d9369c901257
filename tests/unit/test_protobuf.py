"""The protobuf bodies kubectl sends (captured in kubectl-wire.md §6) decode to their JSON form."""

from __future__ import annotations

import pytest

from miniplane.api.protobuf import decode

CREATE_NAMESPACE = bytes.fromhex(
    "6b387300"  # k8s\0
    "0a0f"
    "0a02" + b"v1".hex() + "1209" + b"Namespace".hex() + "1222"
    "0a1a"
    "0a0a" + b"monitoring".hex() + "1200"
    "1a00"
    "2200"
    "2a00"
    "3200"
    "3800"
    "4200" + "1200"
    "1a02"
    "0a00" + "1a00"
    "2200"
)
DRAIN_DELETE_OPTIONS = bytes.fromhex(
    "6b3873000a130a02" + b"v1".hex() + "120d" + b"DeleteOptions".hex() + "12001a002200"
)


def test_create_namespace_body() -> None:
    assert decode(CREATE_NAMESPACE) == {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "monitoring"}}


def test_drain_delete_options_body() -> None:
    assert decode(DRAIN_DELETE_OPTIONS) == {"kind": "DeleteOptions", "apiVersion": "v1"}


@pytest.mark.parametrize(
    "body",
    [b"", b"k8s", b"not-protobuf", b"k8s\x00\x0a\xff", bytes.fromhex("6b3873000a0a0a02") + b"v1" + b"\x12\x04Node"],
    ids=["empty", "short magic", "no magic", "truncated varint", "another kind"],
)
def test_anything_else_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError):
        decode(body)
