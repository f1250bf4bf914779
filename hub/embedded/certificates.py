"""A throwaway certificate authority for the embedded broker's TLS listeners.

``openssl`` makes a CA, a broker certificate for 127.0.0.1/localhost and a client
certificate, all in PEM, which Kafka (``ssl.keystore.type=PEM``) and Python's ssl
module read directly. For tests and trying things out only: production brokers use
the institution's own PKI.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hub.errors import EmbeddedServiceError

__all__ = ["LocalCertificates", "make_certificates"]

_DAYS = "30"


@dataclass(frozen=True)
class LocalCertificates:
    """Paths of the PEM files."""

    ca: Path  # the CA certificate: what both sides trust
    broker_keystore: Path  # the broker's key and certificate chain, in one file
    client_certificate: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise EmbeddedServiceError(
            "openssl is needed to make test certificates (apt-get install openssl)"
        )
    done = subprocess.run(
        [openssl, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise EmbeddedServiceError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def _signed(directory: Path, name: str, subject: str, extensions: str) -> None:
    """A key and a certificate for ``name``, signed by the CA in ``directory``."""
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
        "-out", f"{name}.csr", "-subj", subject, cwd=directory,
    )  # fmt: skip
    (directory / f"{name}.ext").write_text(extensions)
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", _DAYS, "-extfile", f"{name}.ext",
        cwd=directory,
    )  # fmt: skip


def make_certificates(directory: Path) -> LocalCertificates:
    """Make (or reuse) the CA, broker and client certificates in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    found = LocalCertificates(
        ca=directory / "ca.pem",
        broker_keystore=directory / "broker-keystore.pem",
        client_certificate=directory / "client.pem",
        client_key=directory / "client.key",
    )
    if all(p.exists() for p in (found.ca, found.broker_keystore, found.client_certificate)):
        return found
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", _DAYS, "-subj", "/CN=hub embedded test CA", cwd=directory,
    )  # fmt: skip
    _signed(
        directory,
        "broker",
        "/CN=localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    _signed(directory, "client", "/CN=hub-worker", "extendedKeyUsage=clientAuth\n")
    found.broker_keystore.write_text(
        (directory / "broker.key").read_text() + (directory / "broker.pem").read_text()
    )
    for key in directory.glob("*.key"):
        key.chmod(0o600)
    return found
