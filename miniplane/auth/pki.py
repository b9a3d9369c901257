"""The server's certificate authority, serving certificate and admin client certificate.

Created on first start under ``DATA_DIR/tls`` and kept: the CA signs a serving certificate whose
SANs cover localhost, the loopback addresses, this host's names and any ``--tls-san``, and an admin
client certificate (``CN=admin, O=system:masters``) that the kubeconfig embeds. The serving
certificate is re-issued when the wanted SANs change; the CA never is.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from miniplane.auth.tokens import pem_sha256
from miniplane.files import write_private

ADMIN_USER = "admin"
ADMIN_GROUP = "system:masters"
CA_DAYS = 3650
LEAF_DAYS = 365


@dataclass(frozen=True, slots=True)
class PKI:
    """Paths and PEM bytes of everything the server and its kubeconfig need."""

    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert_pem: bytes
    admin_key_pem: bytes

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()

    @property
    def ca_hash(self) -> str:
        return pem_sha256(self.ca_pem)


def admin_context(directory: Path) -> ssl.SSLContext:
    """A client TLS context that trusts the CA in ``directory`` and presents the admin certificate."""
    context = ssl.create_default_context(cafile=str(directory / "ca.crt"))
    context.load_cert_chain(str(directory / "admin.crt"), str(directory / "admin.key"))
    return context


def default_sans(host: str, extra: Iterable[str] = ()) -> list[str]:
    """localhost, loopback, this machine's names, the listen address (unless a wildcard) and ``extra``."""
    names = ["localhost", "127.0.0.1", "::1", socket.gethostname()]
    fqdn = socket.getfqdn()
    if fqdn and fqdn != "localhost":
        names.append(fqdn)
    if host and host not in ("0.0.0.0", "::"):
        names.append(host)
    names.extend(s.strip() for s in extra if s.strip())
    return list(dict.fromkeys(names))


def ensure_pki(directory: Path, sans: list[str]) -> PKI:
    """Load or create the CA and the certificates signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = directory / "ca.crt", directory / "ca.key"
    if ca_cert_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        ca_key = _load_key(ca_key_path)
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key)
        write_private(ca_key_path, _key_pem(ca_key))
        write_private(ca_cert_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    serving_cert_path, serving_key_path = directory / "serving.crt", directory / "serving.key"
    if not _serving_matches(serving_cert_path, sans):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(ca_cert, ca_key, key, "miniplane", [], ExtendedKeyUsageOID.SERVER_AUTH, sans)
        write_private(serving_key_path, _key_pem(key))
        write_private(serving_cert_path, cert.public_bytes(serialization.Encoding.PEM))
    admin_cert_path, admin_key_path = directory / "admin.crt", directory / "admin.key"
    if not (admin_cert_path.exists() and admin_key_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _leaf(ca_cert, ca_key, key, ADMIN_USER, [ADMIN_GROUP], ExtendedKeyUsageOID.CLIENT_AUTH, [])
        write_private(admin_key_path, _key_pem(key))
        write_private(admin_cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return PKI(
        ca_cert_path,
        serving_cert_path,
        serving_key_path,
        admin_cert_path.read_bytes(),
        admin_key_path.read_bytes(),
    )


def _serving_matches(path: Path, sans: list[str]) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.not_valid_after_utc - dt.timedelta(days=30) < dt.datetime.now(dt.UTC):
        return False
    try:
        present = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in present.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in present.get_values_for_type(x509.IPAddress)}
    return {str(_general_name(s).value) for s in sans} <= have


def _general_name(san: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(san))
    except ValueError:
        return x509.DNSName(san)


def _ca_certificate(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "miniplane-ca")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    organizations: list[str],
    usage: x509.ObjectIdentifier,
    sans: list[str],
) -> x509.Certificate:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(s) for s in sans]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: expected an EC private key")
    return key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
