"""Proxy overhead: the echo load through a mockws proxy endpoint vs direct connections.

The upstream is the raw aiohttp echo server. Rows, all in one run:

- "aiohttp, direct": the upstream's CPU per message when clients connect to it;
- "mockws, direct": mockws's CPU per message serving the echo itself (a handler);
- "mockws proxy": the mockws process's CPU per message when the same clients
  go through a proxy endpoint to the upstream (the upstream's work not counted).

A proxy reads and writes every message twice (client leg and upstream leg),
so about 2x a direct connection is its floor. The target compares the proxy
with mockws serving the same load directly (<= 2x); the ratio to the raw
aiohttp upstream is reported beside it.
"""

from __future__ import annotations

from dataclasses import replace

from ..peers import HANDLERS, ServerProcess, all_peers
from ..report import Target
from ..scenarios import Row, echo
from . import FeatureContext

__all__ = ["run", "targets"]

SCENARIO = "echo via proxy"
DIRECT = "aiohttp, direct"
MOCKWS_DIRECT = "mockws, direct"
PROXIED = "mockws proxy"


def run(ctx: FeatureContext) -> list[Row]:
    """Measure the echo straight to raw aiohttp, then through a mockws proxy to it."""
    peers = {peer.name: peer for peer in all_peers()}
    rows: list[Row] = []
    with ServerProcess(peers["aiohttp"], log=ctx.logs / "proxy-upstream.log") as upstream:
        ctx.log("proxy: echo straight to the upstream")
        direct = echo(upstream.pid, upstream.port, ctx.profile, DIRECT, ctx.client_loop)
        rows.append(replace(direct, scenario=SCENARIO, server=DIRECT))
        base = (
            "host: 127.0.0.1\nport: 0\nreload: false\nallowed_origins: ['*']\n"
            "limits: {max_connections: 0}\nendpoints:\n  - pattern: /echo\n"
        )
        ctx.work.mkdir(parents=True, exist_ok=True)
        direct_config = ctx.work / "mockws-proxy-direct.yaml"
        direct_config.write_text(f"{base}    handler: {HANDLERS / 'mockws_echo.py'}\n")
        with ServerProcess(peers["mockws"], direct_config, log=ctx.logs / "proxy-d.log") as own:
            ctx.log("proxy: echo served by mockws itself")
            served = echo(own.pid, own.port, ctx.profile, MOCKWS_DIRECT, ctx.client_loop)
            rows.append(replace(served, scenario=SCENARIO, server=MOCKWS_DIRECT))
        config = ctx.work / "mockws-proxy.yaml"
        config.write_text(f"{base}    proxy: ws://127.0.0.1:{upstream.port}/echo\n")
        with ServerProcess(peers["mockws"], config, log=ctx.logs / "proxy-mockws.log") as proxy:
            ctx.log("proxy: echo through the mockws proxy")
            proxied = echo(proxy.pid, proxy.port, ctx.profile, PROXIED, ctx.client_loop)
            rows.append(replace(proxied, scenario=SCENARIO, server=PROXIED))
    return rows


def targets(rows: list[Row]) -> list[Target]:
    """Proxy CPU per message at most 2x mockws serving the same echo directly."""
    found = {row.server: row for row in rows if row.scenario == SCENARIO}

    def ratio(base: str) -> float | None:
        low, high = found.get(base), found.get(PROXIED)
        if low is None or high is None or not low.metrics.get("cpu_us"):
            return None
        return high.metrics.get("cpu_us", 0.0) / low.metrics["cpu_us"]

    own, raw = ratio(MOCKWS_DIRECT), ratio(DIRECT)
    return [
        Target(
            "proxy CPU/msg vs mockws serving the echo directly",
            "<= 2.00x",
            f"{own:.2f}x" if own is not None else "not measured",
            None if own is None else own <= 2.0,
        ),
        Target(
            "proxy CPU/msg vs the raw aiohttp upstream reached directly (reported)",
            "-",
            f"{raw:.2f}x" if raw is not None else "not measured",
            None,
        ),
    ]
