"""Addresses as a user types them: hosts in URLs and the URLs mockws prints."""

from __future__ import annotations

__all__ = ["url_host"]


def url_host(host: str) -> str:
    """Return ``host`` as it stands in a URL: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
