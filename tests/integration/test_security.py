"""TLS by default, the generated credentials, the node join, and NodeRestriction, with the real kubectl."""

from __future__ import annotations

import asyncio
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from miniplane.auth.tokens import parse_join_token
from miniplane.wire.client import JSON, MERGE_PATCH, APIError, Client, path
from miniplane.wire.join import JoinError, NodeCredentials, join
from tests.cluster import Server, start_server


def _join(server: Server, node: str, root: Path, token: str = "") -> NodeCredentials:
    token = token or (server.data_dir / "node-token").read_text()
    return asyncio.run(join(server.url, token, node, root))


def _call(credentials: NodeCredentials, method: str, url: str, body: Any = None) -> Any:
    async def go() -> Any:
        async with credentials.client() as client:
            return await client.request(method, url, body, MERGE_PATCH if method == "PATCH" else JSON)

    return asyncio.run(go())


def _status(call: Any) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def _node(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


def test_kubeconfig_carries_https_the_ca_and_an_admin_certificate(server: Server) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    assert cluster["server"].startswith("https://127.0.0.1:")
    assert "certificate-authority-data" in cluster and "client-certificate-data" in user
    subject = x509.load_pem_x509_certificate((server.tls_dir / "admin.crt").read_bytes()).subject
    assert subject.rfc4514_string() == "CN=admin,O=system:masters"
    assert server.kubectl("get", "namespaces", "default", "-o", "name", check=True).stdout == "namespace/default\n"
    token = parse_join_token((server.data_dir / "node-token").read_text())
    assert len(token.ca_hash) == 64 and len(token.secret) >= 32


def test_without_credentials_kubectl_must_log_in(server: Server, tmp_path: Path) -> None:
    config = yaml.safe_load(server.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": "not-a-credential"}  # (with none at all kubectl asks for a password)
    anonymous = tmp_path / "kubeconfig"
    anonymous.write_text(yaml.safe_dump(config))
    result = server.kubectl("get", "pods", env={"KUBECONFIG": str(anonymous)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: You must be logged in to the server (Unauthorized)"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server.url + "/api/v1/pods", context=server.ssl_context(admin=False), timeout=10)
    assert caught.value.code == 401
    health = urllib.request.urlopen(server.url + "/healthz", context=server.ssl_context(admin=False), timeout=10)
    assert health.read() == b"ok"


def test_plain_http_to_the_tls_port_is_refused(server: Server) -> None:
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(server.url.replace("https://", "http://") + "/healthz", timeout=5).read()


def test_an_untrusted_client_certificate_is_not_a_user(server: Server, tmp_path: Path) -> None:
    other = start_server(tmp_path / "other")  # a second cluster: its admin certificate means nothing here
    try:
        context = ssl.create_default_context(cafile=str(server.tls_dir / "ca.crt"))
        context.load_cert_chain(*other.admin_cert)
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)) as caught:
            urllib.request.urlopen(server.url + "/api/v1/pods", context=context, timeout=10)
        assert not isinstance(caught.value, urllib.error.HTTPError) or caught.value.code == 401
    finally:
        other.stop()


def test_agent_joins_with_only_url_and_token_and_keeps_its_credential(server: Server, tmp_path: Path) -> None:
    first = _join(server, "joiner", tmp_path / "joiner")
    assert first.ca_file and Path(first.ca_file).read_bytes() == (server.tls_dir / "ca.crt").read_bytes()
    assert first.token.startswith("node.")
    assert _join(server, "joiner", tmp_path / "joiner") == first  # reused from the root dir
    created = _call(first, "POST", path("nodes"), _node("joiner"))
    assert created["metadata"]["name"] == "joiner"


def test_join_refuses_a_wrong_secret_or_a_foreign_ca(server: Server, tmp_path: Path) -> None:
    token = parse_join_token((server.data_dir / "node-token").read_text())
    with pytest.raises(JoinError, match="refused"):
        _join(server, "intruder", tmp_path / "a", token=f"K10{token.ca_hash}::server:wrong")
    with pytest.raises(JoinError, match="does not match"):
        _join(server, "intruder", tmp_path / "b", token=f"K10{'0' * 64}::server:{token.secret}")
    with pytest.raises(JoinError, match="refused"):
        _join(server, "Not_A_Name", tmp_path / "c")


def test_node_restriction(server: Server, tmp_path: Path) -> None:
    a, b = _join(server, "nr-a", tmp_path / "a"), _join(server, "nr-b", tmp_path / "b")
    for creds in (a, b):
        _call(creds, "POST", path("nodes"), _node(creds.node))
    server.kubectl("apply", "-f", "-", input=_daemonset_and_pods(), check=True)

    denied = _status(lambda: _call(a, "PATCH", path("nodes", name="nr-b"), {"metadata": {"labels": {"x": "y"}}}))
    assert (denied.status, denied.reason) == (403, "Forbidden")
    assert denied.message == 'nodes "nr-b" is forbidden: node "nr-a" is not allowed to modify node "nr-b"'
    _call(a, "PATCH", path("nodes", name="nr-a", subresource="status"), {"status": {"phase": "Running"}})

    on_b = path("pods", "default", "on-b", "status")
    denied = _status(lambda: _call(a, "PATCH", on_b, {"status": {"phase": "Running"}}))
    assert "can only update pod status for pods with spec.nodeName set to itself" in denied.message
    assert _call(b, "PATCH", on_b, {"status": {"phase": "Running"}})["status"]["phase"] == "Running"
    denied = _status(lambda: _call(a, "DELETE", path("pods", "default", "on-b")))
    assert denied.status == 403

    ds = path("daemonsets", "default", "nr-ds")
    denied = _status(lambda: _call(a, "PATCH", ds, {"spec": {"minReadySeconds": 3}}))
    assert denied.message == (
        'daemonsets.apps "nr-ds" is forbidden: User "system:node:nr-a" cannot patch resource "daemonsets" '
        'in API group "apps" in the namespace "default"'
    )
    assert _status(lambda: _call(a, "DELETE", ds)).status == 403
    assert _status(lambda: _call(a, "GET", ds)).status == 403
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "nr-b"}}
    denied = _status(lambda: _call(a, "POST", path("leases", "kube-node-lease"), lease))
    assert denied.message.endswith("can only access node lease with the same name as the requesting node")
    lease["metadata"]["name"] = "nr-a"
    assert _call(a, "POST", path("leases", "kube-node-lease"), lease)["metadata"]["name"] == "nr-a"
    assert {p["metadata"]["name"] for p in _call(a, "GET", path("pods"))["items"]} >= {"on-b"}


def test_kubectl_with_a_node_token_prints_kubernetes_forbidden(server: Server, tmp_path: Path) -> None:
    creds = _join(server, "kc-a", tmp_path / "kc")
    result = server.kubectl("--token", creds.token, "--username", "", "get", "nodes", "-o", "name")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(server.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": creds.token}
    node_config = tmp_path / "node-kubeconfig"
    node_config.write_text(yaml.safe_dump(config))
    result = server.kubectl("delete", "ds", "whatever", env={"KUBECONFIG": str(node_config)})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'Error from server (Forbidden): daemonsets.apps "whatever" is forbidden: User "system:node:kc-a" '
        'cannot delete resource "daemonsets" in API group "apps" in the namespace "default"'
    )


def test_credentials_survive_a_restart_and_tls_san_is_honoured(tmp_path: Path) -> None:
    first = start_server(tmp_path / "d", "--tls-san", "api.example.test,10.9.8.7")
    ca, token = (first.tls_dir / "ca.crt").read_bytes(), (first.data_dir / "node-token").read_text()
    creds = _join(first, "keeper", tmp_path / "agent")
    first.stop()
    second = start_server(tmp_path / "d", "--port", first.url.rsplit(":", 1)[1])
    try:
        assert (second.tls_dir / "ca.crt").read_bytes() == ca
        assert (second.data_dir / "node-token").read_text() == token
        assert _call(creds, "POST", path("nodes"), _node("keeper"))["metadata"]["name"] == "keeper"
        cert = x509.load_pem_x509_certificate((second.tls_dir / "serving.crt").read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {"localhost", "api.example.test"} <= set(sans.get_values_for_type(x509.DNSName))
        assert "10.9.8.7" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    finally:
        second.stop()


def test_insecure_http_is_loud_and_plain(tmp_path: Path) -> None:
    server = start_server(tmp_path / "insecure", "--insecure-http")
    try:
        assert server.url.startswith("http://")
        assert "INSECURE" in server.log()
        assert server.kubectl("get", "ns", "default", "-o", "name", check=True).stdout == "namespace/default\n"

        async def anonymous() -> Any:
            async with Client(server.url) as client:
                return await client.get(path("namespaces", name="default"))

        assert asyncio.run(anonymous())["metadata"]["name"] == "default"
    finally:
        server.stop()


def _daemonset_and_pods() -> str:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "on-b", "namespace": "default"},
        "spec": {"nodeName": "nr-b", "containers": [{"name": "c", "image": "busybox"}]},
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "nr-ds", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "nr"}},
            "template": {
                "metadata": {"labels": {"app": "nr"}},
                "spec": {"nodeSelector": {"none": "x"}, "containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }
    return yaml.safe_dump_all([pod, ds])
