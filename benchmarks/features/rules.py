"""The ``rules`` row: a rule-answered echo beside raw aiohttp, and the cost of many rules.

Each server runs the core echo scenario (closed-loop 128-byte JSON
``{"type": "echo", ...}`` messages, CPU per message from /proc), started
one after the other on a quiet machine:

- ``aiohttp``: the raw aiohttp echo server (the reference);
- ``mockws handler``: mockws with the Python echo handler (for context);
- ``mockws 1 rule``: ``match: {type: echo}``, ``reply: "{{ data }}"``;
- ``mockws 50 rules``: 49 rules on other ``type`` values, then the echo rule;
- ``mockws 50 field rules``: 49 rules that each look at a field of their own
  (``{f7: x}``), which the rule index cannot group: every rule is tried, the
  worst case.

Targets (issue 12): 1 rule <= 1.25x raw aiohttp; 50 rules <= 2x one rule.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..peers import HANDLERS, Peer, ServerProcess, all_peers
from ..procstat import wait_until_quiet
from ..report import Target
from ..scenarios import Row, echo
from . import FeatureContext

__all__ = ["run", "targets"]

# Named "echo ..." so the report gives it the echo columns and the x aiohttp ratio.
SCENARIO = "echo via rules"
_HEADER = (
    "host: 127.0.0.1\nport: 0\nreload: false\nallowed_origins: ['*']\n"
    "limits: {max_connections: 0}\nendpoints:\n  - pattern: /echo\n"
)
# The harness checks /echo with {"probe": 1} before measuring: a last catch-all answers it.
_ECHO_RULE = '      - match: {type: echo}\n        reply: "{{ data }}"\n'
_CATCH_ALL = '      - reply: "{{ data }}"\n'


def _configs(work: Path) -> dict[str, Path]:
    others = "".join(f"      - match: {{type: t{n}}}\n        reply: t{n}\n" for n in range(49))
    scattered = "".join(f"      - match: {{f{n}: x}}\n        reply: f{n}\n" for n in range(49))
    texts = {
        "mockws handler": f"{_HEADER}    handler: {HANDLERS / 'mockws_echo.py'}\n",
        "mockws 1 rule": f"{_HEADER}    rules:\n{_ECHO_RULE}{_CATCH_ALL}",
        "mockws 50 rules": f"{_HEADER}    rules:\n{others}{_ECHO_RULE}{_CATCH_ALL}",
        "mockws 50 field rules": f"{_HEADER}    rules:\n{scattered}{_ECHO_RULE}{_CATCH_ALL}",
    }
    work.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in texts.items():
        paths[name] = work / f"rules-{name.replace(' ', '-')}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def _peer(name: str) -> Peer:
    return next(peer for peer in all_peers() if peer.name == name)


def _measure(ctx: FeatureContext, label: str, peer: Peer, config: Path | None) -> Row:
    log = ctx.logs / f"rules-{label.replace(' ', '-')}.log"
    with ServerProcess(peer, config=config, log=log) as server:
        waited = wait_until_quiet(server.pid)
        ctx.log(f"rules: {label} (server quiet after {waited:.1f}s)")
        # /proc counts CPU in 10 ms ticks: enough messages that a tick is a small part.
        profile = replace(ctx.profile, echo_messages=max(ctx.profile.echo_messages, 400))
        row = echo(server.pid, server.port, profile, label, ctx.client_loop)
    return Row(SCENARIO, label, row.metrics, row.note)


def run(ctx: FeatureContext) -> list[Row]:
    """Measure the echo on raw aiohttp, then on mockws with a handler, 1 rule and 50 rules."""
    configs = _configs(ctx.work)
    rows = [_measure(ctx, "aiohttp", _peer("aiohttp"), None)]
    mockws = _peer("mockws")
    names = list(configs) if not ctx.quick else ["mockws 1 rule", "mockws 50 rules"]
    rows += [_measure(ctx, name, mockws, configs[name]) for name in names]
    one = _cpu(rows, "mockws 1 rule")
    for row in rows:
        cpu = row.metrics.get("cpu_us")
        if cpu and one and "50" in row.server:
            row.metrics["vs_1_rule"] = cpu / one
            row.note = f"{cpu / one:.2f}x one rule" + (f"; {row.note}" if row.note else "")
    return rows


def _cpu(rows: list[Row], server: str) -> float | None:
    for row in rows:
        if row.scenario == SCENARIO and row.server == server and row.metrics.get("cpu_us"):
            return row.metrics["cpu_us"]
    return None


def _target(name: str, value: float | None, limit: float) -> Target:
    measured = f"{value:.2f}x" if value is not None else "not measured"
    return Target(name, f"<= {limit:.2f}x", measured, None if value is None else value <= limit)


def targets(rows: list[Row]) -> list[Target]:
    """Issue 12's two targets, from the rows of this run."""
    aiohttp, one, fifty = (_cpu(rows, n) for n in ("aiohttp", "mockws 1 rule", "mockws 50 rules"))
    return [
        _target(
            "rules: echo CPU/msg, 1 rule vs raw aiohttp",
            one / aiohttp if one and aiohttp else None,
            1.25,
        ),
        _target(
            "rules: echo CPU/msg, 50 rules (last matches) vs 1 rule",
            fifty / one if fifty and one else None,
            2.0,
        ),
    ]
