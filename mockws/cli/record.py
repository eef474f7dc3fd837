"""``mockws record URL --out FILE``: a recording proxy with no config file."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..config.load import config_from_mapping
from ..config.model import Config

__all__ = ["record_config"]


def record_config(url: str, out: Path, host: str, port: int) -> Config:
    """Return a config with one endpoint that proxies ``url`` and records to ``out``.

    The endpoint's pattern is the URL's path, so the app connects to the same
    path on the local port; the client's query is forwarded.

    Raises:
        ValueError: ``url`` is not a ws:// or wss:// URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"expected a ws:// or wss:// URL to record, got {url!r}")
    pattern = parts.path or "/"
    if "{" in pattern or "}" in pattern:
        raise ValueError(f"the URL's path may not contain braces: {pattern!r}")
    out = out.resolve()
    return config_from_mapping(
        {
            "host": host,
            "port": port,
            "reload": False,
            "endpoints": [{"pattern": pattern, "proxy": {"url": url}, "record": str(out)}],
        },
        base_dir=out.parent,
    )
