"""Turn rows into the printed table, the targets check, JSON and PNG charts."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .scenarios import Row

__all__ = ["Target", "charts", "check_targets", "markdown", "write_json"]

# Which server each row is compared with in the "x aiohttp" column: raw
# aiohttp on the same event loop (Node peers against asyncio's).
_BASELINE = {"uvloop": "aiohttp+uvloop"}


def _find(rows: Iterable[Row], scenario: str, server: str) -> Row | None:
    for row in rows:
        if row.scenario == scenario and row.server == server and row.metrics:
            return row
    return None


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _baseline(server: str) -> str:
    return _BASELINE.get(server.partition("+")[2], "aiohttp")


# scenario prefix -> (column title, metric key, digits)
_COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "echo": [
        ("CPU us/msg", "cpu_us", 1),
        ("msgs/s", "rate", 0),
        ("p50 ms", "p50_ms", 2),
        ("p99 ms", "p99_ms", 2),
    ],
    "broadcast": [
        ("CPU us/delivered", "cpu_us", 2),
        ("delivered/s", "rate", 0),
        ("p50 ms (last recipient)", "p50_ms", 1),
        ("p99 ms", "p99_ms", 1),
    ],
    "idle": [
        ("KiB/connection", "kib_per_conn", 1),
        ("connections", "connections", 0),
        ("RSS MiB", "rss_mib", 1),
    ],
    "handshake": [("handshakes/s", "rate", 0), ("CPU us/handshake", "cpu_us", 0)],
    "startup": [("seconds to ready", "seconds", 3), ("CPU s", "cpu_s", 3)],
    "slow reader": [
        ("peak growth MiB", "growth_mib", 1),
        ("growth after MiB", "rss_after_mib", 1),
        ("probe received", "messages", 0),
    ],
    "reload": [("p50 ms", "p50_ms", 1), ("p99 ms", "p99_ms", 1)],
    "broker hop": [("p50 ms", "p50_ms", 2), ("p99 ms", "p99_ms", 2)],
}
_RATIO_KEY = {
    "echo": "cpu_us",
    "broadcast": "cpu_us",
    "idle": "kib_per_conn",
    "handshake": "cpu_us",
}


def _columns(scenario: str) -> list[tuple[str, str, int]]:
    for prefix, columns in _COLUMNS.items():
        if scenario.startswith(prefix):
            return columns
    return []


def _ratio_key(scenario: str) -> str | None:
    for prefix, key in _RATIO_KEY.items():
        if scenario.startswith(prefix):
            return key
    return None


def _metric_columns(rows: list[Row], scenario: str) -> list[tuple[str, str, int]]:
    """Columns for a scenario the table has no layout for: each metric, as named."""
    keys = dict.fromkeys(key for row in rows if row.scenario == scenario for key in row.metrics)
    return [(key, key, 2) for key in keys]


def markdown(rows: list[Row]) -> str:
    """Return one Markdown table per scenario, with ratios to raw aiohttp."""
    out: list[str] = []
    scenarios = list(dict.fromkeys(row.scenario for row in rows))
    for scenario in scenarios:
        columns = _columns(scenario) or _metric_columns(rows, scenario)
        ratio_key = _ratio_key(scenario)
        heads = ["server", *(title for title, _, _ in columns)]
        if ratio_key:
            heads.insert(2, "x aiohttp")
        heads.append("note")
        out += [f"### {scenario}", "", "| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
        for row in rows:
            if row.scenario != scenario:
                continue
            cells = [row.server]
            for _, key, digits in columns:
                cells.append(_fmt(row.metrics.get(key), digits))
            if ratio_key:
                base = _find(rows, scenario, _baseline(row.server))
                value = row.metrics.get(ratio_key)
                ratio = (
                    value / base.metrics[ratio_key]
                    if base and value is not None and base.metrics.get(ratio_key)
                    else None
                )
                cells.insert(2, f"{ratio:.2f}x" if ratio is not None else "-")
            cells.append(row.note)
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


@dataclass
class Target:
    """One target of the issue, with what was measured."""

    name: str
    limit: str
    measured: str
    met: bool | None  # None: not measured in this run


def _ratio(rows: list[Row], scenario: str, server: str, base: str, key: str) -> float | None:
    row, ref = _find(rows, scenario, server), _find(rows, scenario, base)
    if row is None or ref is None or not ref.metrics.get(key):
        return None
    return row.metrics[key] / ref.metrics[key]


def check_targets(rows: list[Row]) -> list[Target]:
    """Compare the run with the issue's targets."""
    targets: list[Target] = []

    def ratio_target(name: str, value: float | None, limit: float, lower: bool = True) -> None:
        sign = "<=" if lower else ">="
        met = None if value is None else (value <= limit if lower else value >= limit)
        targets.append(
            Target(
                name,
                f"{sign} {limit:.2f}x",
                _fmt(value, 2) + "x" if value is not None else "not measured",
                met,
            )
        )

    ratio_target(
        "echo CPU/msg: mockws vs raw aiohttp (asyncio)",
        _ratio(rows, "echo", "mockws", "aiohttp", "cpu_us"),
        1.10,
    )
    ratio_target(
        "echo CPU/msg: mockws+uvloop vs raw aiohttp+uvloop",
        _ratio(rows, "echo", "mockws+uvloop", "aiohttp+uvloop", "cpu_us"),
        1.10,
    )
    ratio_target(
        "echo CPU/msg: mockws+uvloop vs Node ws",
        _ratio(rows, "echo", "mockws+uvloop", "node-ws", "cpu_us"),
        1.30,
    )
    for scenario in dict.fromkeys(row.scenario for row in rows):
        # Paced broadcasts (one per loop iteration) have nothing to coalesce: no target.
        if scenario.startswith("broadcast") and not scenario.endswith("paced"):
            ratio_target(
                f"{scenario} CPU/delivered: mockws vs naive aiohttp send_str loop",
                _ratio(rows, scenario, "mockws", "aiohttp", "cpu_us"),
                0.25,
            )
    idle = _find(rows, "idle", "mockws")
    targets.append(
        Target(
            "idle connection RSS, mockws, no compression",
            "<= 16 KiB",
            f"{idle.metrics['kib_per_conn']:.1f} KiB" if idle else "not measured",
            idle.metrics["kib_per_conn"] <= 16 if idle else None,
        )
    )
    slow = _find(rows, "slow reader", "mockws")
    targets.append(
        Target(
            "burst toward a client that reads nothing: server growth",
            "<= 8 MiB (a few MiB)",
            f"{slow.metrics['growth_mib']:.1f} MiB" if slow else "not measured",
            slow.metrics["growth_mib"] <= 8 if slow else None,
        )
    )
    ratio_target(
        "handshakes/s with JWT vs without (mockws, same process)",
        _ratio(rows, "handshake JWT", "mockws, JWT", "mockws, no auth", "rate"),
        0.90,
        lower=False,
    )
    ratio_target(
        "startup to ready line vs python -c 'import aiohttp.web'",
        _ratio(rows, "startup", "mockws serve", "import aiohttp.web", "seconds"),
        1.30,
    )
    return targets


def targets_markdown(targets: list[Target]) -> str:
    """Return the targets as a Markdown table."""
    lines = ["| target | limit | measured | |", "|---|---|---|---|"]
    for target in targets:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target.met]
        lines.append(f"| {target.name} | {target.limit} | {target.measured} | {verdict} |")
    return "\n".join(lines) + "\n"


def write_json(path: Path, rows: list[Row], environment: dict[str, Any]) -> None:
    """Write every row and the environment to ``path``."""
    payload = {"environment": environment, "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


def _bar_chart(
    path: Path, title: str, panels: list[tuple[str, list[tuple[str, float]]]], unit: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(name, bars) for name, bars in panels if bars]
    if not panels:
        return
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(8, 1.0 + 0.42 * sum(len(bars) + 2 for _, bars in panels)),
        squeeze=False,
    )
    for axis, (name, bars) in zip(axes[:, 0], panels, strict=True):
        labels = [label for label, _ in bars][::-1]
        values = [value for _, value in bars][::-1]
        colors = ["#d9534f" if label.startswith("mockws") else "#5b8def" for label in labels]
        axis.barh(labels, values, color=colors)
        axis.set_title(name, fontsize=10, loc="left")
        axis.set_xlabel(unit, fontsize=9)
        for index, value in enumerate(values):
            axis.text(value, index, f" {_fmt(value, 2)}", va="center", fontsize=8)
        axis.margins(x=0.18)
        axis.tick_params(labelsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def charts(rows: list[Row], folder: Path) -> list[Path]:
    """Write the PNG charts into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    scenarios = list(dict.fromkeys(row.scenario for row in rows))

    def panels(match: Callable[[str], bool], key: str) -> list[tuple[str, list[tuple[str, float]]]]:
        return [
            (
                scenario,
                [
                    (row.server, row.metrics[key])
                    for row in rows
                    if row.scenario == scenario and key in row.metrics
                ],
            )
            for scenario in scenarios
            if match(scenario)
        ]

    specs = [
        (
            "bench-cpu.png",
            "Server CPU time per message (lower is better)",
            panels(lambda s: s == "echo" or s.startswith("broadcast"), "cpu_us"),
            "microseconds",
        ),
        (
            "bench-latency.png",
            "p99 latency (echo: round trip; broadcast: to the last recipient)",
            panels(lambda s: s == "echo" or s.startswith("broadcast"), "p99_ms"),
            "milliseconds",
        ),
        (
            "bench-idle.png",
            "Server RSS per idle connection (lower is better)",
            panels(lambda s: s.startswith("idle"), "kib_per_conn"),
            "KiB",
        ),
        (
            "bench-handshakes.png",
            "Handshakes per second (higher is better)",
            panels(lambda s: s.startswith("handshake"), "rate"),
            "handshakes/s",
        ),
        (
            "bench-startup.png",
            "Process start to ready line (lower is better)",
            panels(lambda s: s == "startup", "seconds"),
            "seconds",
        ),
    ]
    written = []
    for name, title, chart_panels, unit in specs:
        path = folder / name
        _bar_chart(path, title, chart_panels, unit)
        if path.exists():
            written.append(path)
    return written
