"""TLS: the server's SSL context, and a local CA with a localhost certificate.

``tls: {cert, key}`` names a certificate of your own. ``mockws serve --tls``
(and ``run_server(..., tls=True)``) use :func:`local_certificate` instead: a
CA made with ``trustme`` once, kept in ``$XDG_CACHE_HOME/mockws/`` (default
``~/.cache/mockws/``), and a certificate it signed for ``localhost``,
``127.0.0.1`` and ``::1``. Both are reused on every later run, so a browser
or system that trusts the CA once keeps trusting the server.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from ..config.model import TlsConfig

__all__ = [
    "LOCAL_IDENTITIES",
    "LocalCertificate",
    "cache_dir",
    "client_ssl_context",
    "local_certificate",
    "server_ssl_context",
]

LOCAL_IDENTITIES = ("localhost", "127.0.0.1", "::1")
_CA_FILE = "ca.pem"
_CA_KEY_FILE = "ca-key.pem"
_CERT_FILE = "localhost.pem"
_KEY_FILE = "localhost-key.pem"


@dataclass(frozen=True)
class LocalCertificate:
    """A local CA and the localhost certificate it signed, as files.

    Attributes:
        ca: The CA certificate: trust this file (browser, system, ``NODE_EXTRA_CA_CERTS``).
        cert: The server certificate chain.
        key: The server's private key.
        created: True when this call made them, False when they were reused.
    """

    ca: Path
    cert: Path
    key: Path
    created: bool

    @property
    def tls(self) -> TlsConfig:
        """The ``tls`` config that serves this certificate."""
        return TlsConfig(cert=self.cert, key=self.key)


def cache_dir() -> Path:
    """Return ``$XDG_CACHE_HOME/mockws`` (default ``~/.cache/mockws``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mockws"


def _write_private(path: Path, data: bytes) -> None:
    # Private keys are readable by their owner only, from the moment they exist.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def local_certificate(folder: Path | None = None) -> LocalCertificate:
    """Return the cached local CA and localhost certificate, making them when missing.

    Args:
        folder: Where they are kept; default :func:`cache_dir`.

    Raises:
        OSError: The folder cannot be created or written.
    """
    import trustme  # loads only for --tls

    folder = folder or cache_dir()
    paths = [folder / name for name in (_CA_FILE, _CA_KEY_FILE, _CERT_FILE, _KEY_FILE)]
    ca_path, ca_key_path, cert_path, key_path = paths
    if all(path.is_file() for path in paths):
        return LocalCertificate(ca_path, cert_path, key_path, created=False)
    folder.mkdir(parents=True, exist_ok=True)
    if ca_path.is_file() and ca_key_path.is_file():
        # Keep a CA the user may already trust; only the server certificate is new.
        ca = trustme.CA.from_pem(ca_path.read_bytes(), ca_key_path.read_bytes())
    else:
        ca = trustme.CA(organization_name="mockws", organization_unit_name="mockws local CA")
        _write_private(ca_key_path, ca.private_key_pem.bytes())
        ca_path.write_bytes(ca.cert_pem.bytes())
    leaf = ca.issue_cert(*LOCAL_IDENTITIES, common_name="localhost")
    _write_private(key_path, leaf.private_key_pem.bytes())
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    return LocalCertificate(ca_path, cert_path, key_path, created=True)


def server_ssl_context(tls: TlsConfig) -> ssl.SSLContext:
    """Return the server-side SSL context that presents ``tls``'s certificate.

    Raises:
        ssl.SSLError: The files are not a PEM certificate and its key.
        OSError: A file cannot be read.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert), None if tls.key is None else str(tls.key))
    return context


def client_ssl_context(ca: Path) -> ssl.SSLContext:
    """Return a client SSL context that trusts the CA file ``ca`` (tests, clients)."""
    return ssl.create_default_context(cafile=str(ca))
