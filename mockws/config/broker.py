"""The ``broker:`` key: a URL, or a mapping with the URL and its options.

```yaml
broker: redis://127.0.0.1:6379/0
# or
broker: {url: redis://127.0.0.1:6379/0, expiry: 10s, namespace: mockws}
```
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from .keys import KeyReader, describe_value
from .model import BrokerConfig

__all__ = ["BROKER_KEYS", "BROKER_SCHEMES", "mask_broker_url", "parse_broker"]

BROKER_KEYS = ("url", "expiry", "namespace")
BROKER_SCHEMES = ("redis", "rediss", "unix")
_MIN_EXPIRY = 1.0


def mask_broker_url(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``, safe to print."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = f"{user}:***@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _check_url(top: KeyReader, key: str, url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in BROKER_SCHEMES:
        raise top.source.error(
            key,
            "expected a redis://host:port/db URL (or rediss://, unix://),"
            f" got {mask_broker_url(url)!r}",
        )
    return url


def parse_broker(top: KeyReader) -> BrokerConfig | None:
    """Read the top-level ``broker`` key; None (the default) is in-process fan-out."""
    value = top.raw("broker")
    if value is None:
        return None
    if isinstance(value, str):
        url = top.string("broker")
        assert url is not None
        return BrokerConfig(url=_check_url(top, "broker", url))
    if not isinstance(value, dict):
        raise top.error(
            "broker",
            f"expected a redis:// URL or a mapping with 'url', got {describe_value(value)}",
        )
    section = KeyReader(value, top.path("broker"), top.source)
    url = section.string("url", required=True)
    assert url is not None
    expiry = section.duration("expiry", BrokerConfig.expiry)
    assert expiry is not None
    if expiry < _MIN_EXPIRY:
        raise section.error("expiry", f"expected at least {_MIN_EXPIRY:g}s, got {expiry:g}s")
    namespace = section.string("namespace", BrokerConfig.namespace) or BrokerConfig.namespace
    section.finish(BROKER_KEYS)
    return BrokerConfig(
        url=_check_url(top, section.path("url"), url), expiry=expiry, namespace=namespace
    )
