"""The MQTT wire contract: topics, routes, payloads, broker URLs, the ACL and password hashes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from miniplane.mqtt import protocol as p
from miniplane.mqtt.broker import acl_text, password_hash


def test_topics_round_trip_through_parse() -> None:
    assert p.up("n1", p.POD_STATUS) == "mp/v1/node/n1/up/pod-status"
    assert p.down("n1", p.STREAM, "abc") == "mp/v1/node/n1/down/stream/abc"
    assert p.parse(p.up("n1", p.LEASE)) == p.Route("n1", "up", "lease")
    assert p.parse(p.down("n-2.x", p.STREAM, "s1")) == p.Route("n-2.x", "down", "stream", ("s1",))


@pytest.mark.parametrize(
    "topic", ["mp/v1/server/presence", "mp/v2/node/n1/up/lease", "mp/v1/node/n1/sideways/lease", "mp/v1/node/n1"]
)
def test_parse_rejects_other_topics(topic: str) -> None:
    assert p.parse(topic) is None


def test_every_kind_has_a_qos_and_heartbeats_are_fire_and_forget() -> None:
    kinds = [p.PRESENCE, p.REGISTER, p.LEASE, p.PING, p.NODE_STATUS, p.POD_STATUS, p.EVENT, p.STREAM]
    assert all(p.QOS[k] in (0, 1) for k in [*kinds, p.NODE, p.PODS, p.REPLY])
    assert p.QOS[p.LEASE] == p.QOS[p.PING] == p.QOS[p.EVENT] == 0
    assert p.QOS[p.POD_STATUS] == p.QOS[p.PODS] == p.QOS[p.PRESENCE] == 1


def test_payloads_are_msgpack_maps_with_raw_bytes() -> None:
    message = {"rv": 7, "pods": [b'{"kind":"Pod"}']}
    assert p.decode(p.encode(message)) == message
    with pytest.raises(ValueError, match="map"):
        p.decode(p.encode([1, 2]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="msgpack"):
        p.decode(b"\xc1")


def test_broker_urls() -> None:
    assert p.BrokerAddress.parse("mqtt://10.0.0.1:1884") == p.BrokerAddress("10.0.0.1", 1884)
    assert p.BrokerAddress.parse("mqtt://u:p%40ss@h") == p.BrokerAddress("h", 1883, "u", "p@ss")
    assert str(p.BrokerAddress("h", 1)) == "mqtt://h:1"
    for bad in ("http://h:1", "mqtt://", "h:1883"):
        with pytest.raises(ValueError):
            p.BrokerAddress.parse(bad)


def test_password_hash_is_mosquittos_pbkdf2_format() -> None:
    salt = b"0123456789ab"
    text = password_hash("secret", salt)
    _, scheme, iterations, salt_b64, digest_b64 = text.split("$")
    assert (scheme, iterations, base64.b64decode(salt_b64)) == ("7", "101", salt)
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"secret", salt, 101)
    assert password_hash("secret") != password_hash("secret")  # fresh salt each time


def test_acl_confines_each_node_to_its_own_topics() -> None:
    lines = acl_text().splitlines()
    assert "pattern write mp/v1/node/%u/up/#" in lines
    assert "pattern read mp/v1/node/%u/down/#" in lines
    assert "topic readwrite mp/v1/#" in lines
    assert not any(line.startswith("pattern readwrite") or line.startswith("topic write") for line in lines)
