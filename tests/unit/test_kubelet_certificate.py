from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from kinn.kubelet.certificate import ensure_serving_certificate


def test_made_once_for_the_node_then_reused_as_found(tmp_path: Path) -> None:
    cert, key = ensure_serving_certificate(tmp_path, "worker-1", "10.240.0.21")
    made = x509.load_pem_x509_certificate(cert.read_bytes())
    assert made.subject.rfc4514_string().startswith("CN=worker-1@")
    sans = made.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "worker-1" in sans.get_values_for_type(x509.DNSName)
    ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)  # a usable pair
    before = cert.read_bytes()
    # As upstream's kubelet: an existing pair is used as is, even for another address.
    assert ensure_serving_certificate(tmp_path, "worker-1", "10.240.0.99") == (cert, key)
    assert cert.read_bytes() == before
