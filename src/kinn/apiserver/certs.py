"""The cluster's PKI: a CA, the API server's serving certificate and an admin client certificate.

As kubeadm and kind lay it out: `ca.crt`/`ca.key`, `apiserver.crt` valid for 127.0.0.1,
localhost, the `kubernetes` Service names and IP, `admin.crt` (CN kubernetes-admin,
O system:masters) that the kubeconfig carries, and `sa.key`/`sa.pub`, the RSA pair that signs and
verifies service-account tokens. Generated once per data dir and reused.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class PKI:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def admin_cert(self) -> Path:
        return self.directory / "admin.crt"

    @property
    def admin_key(self) -> Path:
        return self.directory / "admin.key"

    @property
    def service_account_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.directory / "sa.pub"

    def load_service_account_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.service_account_key.read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def load_service_account_public_key(self) -> rsa.RSAPublicKey:
        key = serialization.load_pem_public_key(self.service_account_public_key.read_bytes())
        assert isinstance(key, rsa.RSAPublicKey)
        return key


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attrs)


def _write_key(path: Path, key: PrivateKeyTypes) -> None:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    path.chmod(0o600)


def _builder(subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
    )


def ensure_pki(directory: Path, hosts: list[str]) -> PKI:
    """Create whatever of the PKI is missing; an existing CA is kept so kubeconfigs stay valid."""
    pki = PKI(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if not pki.ca_cert.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name("kubernetes")
        cert = (
            _builder(name, name, key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(pki.ca_key, key)
        pki.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for stale in (pki.serving_cert, pki.admin_cert):
            stale.unlink(missing_ok=True)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    if not pki.serving_cert.exists() or not _covers(pki.serving_cert, hosts):
        _issue(pki.serving_cert, pki.serving_key, ca_cert, ca_key, _name("kube-apiserver"), hosts,
               ExtendedKeyUsageOID.SERVER_AUTH)
    ensure_client_certificate(pki, "admin", "kubernetes-admin", "system:masters")
    _ensure_service_account_key(pki)
    return pki


def _ensure_service_account_key(pki: PKI) -> None:
    """RSA, as kubeadm makes it: tokens are signed RS256, which every OIDC verifier accepts."""
    if pki.service_account_key.exists() and pki.service_account_public_key.exists():
        return
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki.service_account_key, key)
    pki.service_account_public_key.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def ensure_client_certificate(pki: PKI, name: str, common_name: str, organization: str | None = None) -> tuple[Path, Path]:
    """`<name>.crt`/`<name>.key` for a client identity (user = CN, groups = O), issued once by the CA."""
    cert_path, key_path = pki.directory / f"{name}.crt", pki.directory / f"{name}.key"
    if not cert_path.exists():
        ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        _issue(cert_path, key_path, ca_cert, ca_key, _name(common_name, organization), [],
               ExtendedKeyUsageOID.CLIENT_AUTH)
    return cert_path, key_path


def _issue(cert_path: Path, key_path: Path, ca_cert: x509.Certificate, ca_key: object, subject: x509.Name,
           hosts: list[str], usage: x509.ObjectIdentifier) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(subject, ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        # Key identifiers as kubeadm sets them: strict X.509 verification (urllib3 2, Python 3.13's
        # default context) rejects a chain without them.
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()),  # type: ignore[arg-type]
                       critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _covers(cert_path: Path, hosts: list[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in sans.get_values_for_type(x509.IPAddress)} | set(sans.get_values_for_type(x509.DNSName))
    return set(hosts) <= present


def ensure_self_signed_certificate(cert_path: Path, key_path: Path, common_name: str, hosts: list[str]) -> None:
    """A self-signed serving certificate for `hosts`, made once (a kubelet without --tls-cert-file
    writes `kubelet.crt`/`kubelet.key` in its pki dir this way; the API server does not verify it
    unless told to, as upstream without --kubelet-certificate-authority)."""
    if cert_path.exists() and key_path.exists() and _covers(cert_path, hosts):
        return
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_sans(hosts)), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(key_path, key)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
