"""TLS Secrets as nginx certificates, checked as ingress-nginx checks them before use.

A Secret serves a host only if its `tls.crt` and `tls.key` parse, belong together, and the
certificate names the host (subjectAltName DNS names, a wildcard covering one label, else the
Common Name). Anything else falls back to the controller's own self-signed "Kubernetes Ingress
Controller Fake Certificate", which also answers on the catch-all server: a broken Secret never
makes nginx's configuration invalid.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kinn.ingress.model import Certificate

Obj = dict[str, Any]

FAKE_CERTIFICATE_NAME = "default-fake-certificate"
FAKE_COMMON_NAME = "Kubernetes Ingress Controller Fake Certificate"
FAKE_VALIDITY = datetime.timedelta(days=365)


class CertificateError(ValueError):
    """The Secret holds no usable certificate; the message says why (logged as ingress-nginx logs it)."""


def from_secret(secret: Obj) -> Certificate:
    """The Secret's certificate and key as one PEM, named `<namespace>-<name>` as ingress-nginx's files are."""
    meta = secret.get("metadata") or {}
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    data = secret.get("data") or {}
    try:
        cert_pem, key_pem = (base64.b64decode(data[field]) for field in ("tls.crt", "tls.key"))
    except KeyError as e:
        raise CertificateError(f"secret {key} has no {e.args[0]}") from None
    except binascii.Error as e:
        raise CertificateError(f"secret {key}: {e}") from None
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
        private_key = serialization.load_pem_private_key(key_pem, None)
    except ValueError as e:
        raise CertificateError(f"unexpected error creating SSL Cert: {e}") from None
    if private_key.public_key().public_bytes(*_SPKI) != certificate.public_key().public_bytes(*_SPKI):
        raise CertificateError("unexpected error creating SSL Cert: private key does not match public key")
    return _certificate(f"{meta.get('namespace')}-{meta.get('name')}", cert_pem, key_pem, certificate)


_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate(name: str, cert_pem: bytes, key_pem: bytes, certificate: x509.Certificate) -> Certificate:
    pem = cert_pem.decode().rstrip("\n") + "\n" + key_pem.decode().rstrip("\n") + "\n"
    return Certificate(name, pem, hashlib.sha1(pem.encode()).hexdigest(), _names(certificate))


def _names(certificate: x509.Certificate) -> tuple[str, ...]:
    """subjectAltName DNS names, or the Common Name when there are none (ingress-nginx's fallback)."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns_names = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns_names = []
    if dns_names:
        return tuple(name.lower() for name in dns_names)
    return tuple(str(attribute.value).lower() for attribute in certificate.subject.get_attributes_for_oid(
        NameOID.COMMON_NAME))


def covers(certificate: Certificate, host: str) -> bool:
    """Go's VerifyHostname: an exact name, or `*.example.com` for exactly one more label."""
    host = host.lower().rstrip(".")
    for name in certificate.hosts:
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def fake_certificate() -> Certificate:
    """The controller's self-signed default certificate, made once at start-up (as ingress-nginx does)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Acme Co"),
                         x509.NameAttribute(NameOID.COMMON_NAME, FAKE_COMMON_NAME)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + FAKE_VALIDITY)
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("ingress.local")]), critical=False)
                   .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return _certificate(FAKE_CERTIFICATE_NAME, certificate.public_bytes(serialization.Encoding.PEM), key_pem,
                        certificate)
