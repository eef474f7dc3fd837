"""Masking secrets: query parameters in URLs and secret-named keys in JSON text.

Everything that leaves the process for a person (log lines, the inspector,
recordings) passes what a client sent through these first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["MASK", "SECRET_QUERY_PARAMS", "is_secret_name", "mask_json_secrets", "mask_query"]

SECRET_QUERY_PARAMS = frozenset(
    {
        "token",
        "access_token",
        "id_token",
        "jwt",
        "auth",
        "key",
        "api_key",
        "apikey",
        "password",
        "secret",
        "admin_token",
    }
)
MASK = "***"


_FOLD = re.compile(r"[\s_.\-]+")
_SECRET_PARTS = ("token", "secret", "password", "passwd", "authorization", "apikey", "privatekey")


def _fold(name: str) -> str:
    return _FOLD.sub("", name).lower()


_FOLDED_SECRETS = frozenset(_fold(name) for name in SECRET_QUERY_PARAMS)


def is_secret_name(name: str) -> bool:
    """Tell whether a key or parameter called ``name`` holds a secret.

    Case and separators (``_``, ``-``, ``.``, spaces) are folded away, then
    the name is a secret when it is one of :data:`SECRET_QUERY_PARAMS` or
    contains ``token``, ``secret``, ``password``, ``passwd``,
    ``authorization``, ``apikey`` or ``privatekey`` (``accessToken``,
    ``refresh_token``, ``X-Api-Key``, ``Authorization``).
    """
    folded = _fold(name)
    return folded in _FOLDED_SECRETS or any(part in folded for part in _SECRET_PARTS)


def mask_query(path_qs: str, secret_names: Iterable[str] = SECRET_QUERY_PARAMS) -> str:
    """Return ``path_qs`` (or a whole URL) with the values of secret query parameters masked.

    Parameters are split on ``&`` and on ``;`` (which some servers also
    accept). A name matches one of ``secret_names`` with case and separators
    folded; when ``secret_names`` includes the defaults, every name
    :func:`is_secret_name` accepts is masked too.
    """
    if "?" not in path_qs:
        return path_qs
    names = set(secret_names)
    broad = SECRET_QUERY_PARAMS <= names
    secrets = {_fold(name) for name in names}

    def secret(name: str) -> bool:
        return _fold(name) in secrets or (broad and is_secret_name(name))

    parts = urlsplit(path_qs)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not pairs:
        return path_qs
    masked: list[tuple[str, str]] = []
    for name, value in pairs:
        # "?a=1;token=t" parses as a=("1;token=t"), "?a;token=t" as ("a;token", "t").
        last = name.rpartition(";")[2]
        if secret(last):
            value = MASK
        elif ";" in value:
            value = ";".join(_mask_piece(piece, secret) for piece in value.split(";"))
        masked.append((name, value))
    query = urlencode(masked, safe="*;=")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _mask_piece(piece: str, secret: Callable[[str], bool]) -> str:
    name, equals, _ = piece.partition("=")
    return f"{name}={MASK}" if secret(name) else piece


_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)
_COLON = re.compile(r"\s*:\s*")
_SCALAR = re.compile(r"[^,}\]\s]*")


def _key_text(token: str) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return token.strip('"')
    return key if isinstance(key, str) else token


def _value_end(text: str, start: int) -> int:
    """Return where the JSON value starting at ``start`` ends (the text's end if cut short)."""
    if start >= len(text):
        return start
    first = text[start]
    if first == '"':
        found = _STRING.match(text, start)
        return found.end() if found else len(text)
    if first not in "[{":
        found = _SCALAR.match(text, start)
        return found.end() if found else start
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == '"':
            found = _STRING.match(text, index)
            index = found.end() if found else len(text)
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def mask_json_secrets(text: str) -> str:
    """Return ``text`` with the values of secret-named JSON keys masked.

    A key is secret by :func:`is_secret_name`, read after JSON escapes
    (``"tok\\u0065n"`` is ``token``); its value is replaced by ``"***"``
    whatever its type (a string, a number, a list, an object). Works on the
    start of a message too: a value cut short is masked all the same. The
    rest of the text keeps its exact form.
    """
    if '"' not in text:
        return text
    out: list[str] = []
    done = index = 0
    while True:
        start = text.find('"', index)
        if start < 0:
            break
        token = _STRING.match(text, start)
        if token is None:
            break
        index = token.end()
        colon = _COLON.match(text, index)
        if colon is None or not is_secret_name(_key_text(token.group())):
            continue
        value_start = colon.end()
        index = _value_end(text, value_start)
        out.append(text[done:value_start])
        out.append(f'"{MASK}"')
        done = index
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)
