"""The page ``GET /`` answers: the endpoints' URLs and links such as the inspector.

A bare 404 at the server's root left a new user guessing; a browser opened
on ``http://127.0.0.1:8765/`` now says what is served there.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from aiohttp import web

from .endpoints import Endpoint

__all__ = ["home_page"]


def home_page(
    request: web.Request,
    prefix: str,
    endpoints: Iterable[Endpoint],
    links: Sequence[tuple[str, str]],
) -> web.Response:
    """Return the HTML page listing ``endpoints`` as URLs on the host the browser used."""
    scheme = "wss" if request.secure else "ws"
    items = "\n".join(
        f"<li><code>{html.escape(f'{scheme}://{request.host}{prefix}{endpoint.pattern}')}</code>"
        f" &rarr; {html.escape(endpoint.handler.spec)}</li>"
        for endpoint in endpoints
    )
    if not items:
        items = "<li>none: add some under <code>endpoints:</code> in the config</li>"
    extra = "\n".join(
        f'<p><a href="{html.escape(path)}">{html.escape(label)}</a></p>' for label, path in links
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mockws</title></head>
<body>
<h1>mockws</h1>
<p>A mock WebSocket server. Connect a WebSocket client to one of its endpoints:</p>
<ul>
{items}
</ul>
{extra}
</body></html>
"""
    return web.Response(text=body, content_type="text/html", charset="utf-8")
