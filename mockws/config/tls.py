"""The ``tls`` key: a certificate and key that make the server speak wss:// and https://."""

from __future__ import annotations

from pathlib import Path

from .keys import KeyReader
from .model import TlsConfig

__all__ = ["TLS_KEYS", "parse_tls"]

TLS_KEYS = ("cert", "key")


def parse_tls(top: KeyReader, base_dir: Path) -> TlsConfig | None:
    """Read ``tls: {cert, key}``; each path resolves against the config folder.

    Raises:
        ConfigError: A key is unknown or missing, or a file does not exist.
    """
    section = top.child("tls", "a mapping {cert, key}")
    if section is None:
        return None
    cert = section.string("cert", required=True)
    key = section.string("key")
    section.finish(TLS_KEYS)
    paths: dict[str, Path] = {}
    for name, value in (("cert", cert), ("key", key)):
        if value is None:
            continue
        path = (base_dir / value).resolve()
        if not path.is_file():
            raise section.error(name, f"no such file: {path}")
        paths[name] = path
    return TlsConfig(cert=paths["cert"], key=paths.get("key"))
