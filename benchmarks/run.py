"""Run every benchmark scenario against mockws and its peers, in one go.

    python -m benchmarks.run [--quick] [--out DIR] [--only NAMES] [--skip NAMES]

Each server is started here as its own process and loaded from separate
client processes over loopback. The results go to DIR (default
``artifacts/bench``): ``results.json``, ``results.md`` and PNG charts.
docs/benchmarks.md explains the scenarios and shows a full run.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import report, scenarios
from .features import FeatureContext, feature_targets, run_features
from .peers import HANDLERS, JWT_SECRET, ROOT, Peer, ServerProcess, all_peers
from .procstat import cpu_seconds, wait_until_quiet
from .scenarios import FULL, QUICK, Profile, Row

__all__ = ["main"]

RELOAD_SCRIPT = Path(__file__).resolve().parent / "reload_latency.py"
DEFLATE_OFFER = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _write_configs(work: Path) -> dict[str, Path]:
    """Write the mockws configs: plain, with compression, with JWT auth."""
    work.mkdir(parents=True, exist_ok=True)
    echo, room = HANDLERS / "mockws_echo.py", HANDLERS / "mockws_room.py"
    base = (
        # No connection cap: the idle scenario opens 10,000 (the default cap) and more.
        "host: 127.0.0.1\nport: 0\nreload: false\nallowed_origins: ['*']\n"
        "limits: {max_connections: 0}\nendpoints:\n"
        f"  - pattern: /echo\n    handler: {echo}\n"
        f"  - pattern: /room\n    handler: {room}\n"
    )
    configs = {
        "base": base,
        "compression": base.replace(
            f"handler: {echo}\n", f"handler: {echo}\n    compression: {{enabled: true}}\n", 1
        ),
        "jwt": base
        + (
            f"  - pattern: /auth/echo\n    handler: {echo}\n    authenticate:\n      jwt:\n"
            f"        secret: {JWT_SECRET}\n        algorithms: [HS256]\n"
        ),
    }
    paths = {}
    for name, text in configs.items():
        paths[name] = work / f"mockws-{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return paths


def _config_refused(config: Path) -> str | None:
    """Return why ``mockws check`` refuses ``config``, or None when it accepts it."""
    done = subprocess.run(
        [sys.executable, "-m", "mockws", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    if done.returncode == 0:
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[-1] if lines else f"mockws check exited {done.returncode}"


def _client_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _attempt(rows: list[Row], scenario: str, server: str, work: Callable[[], Any]) -> None:
    """Run one scenario; a failure becomes a row with a note, not the end of the run."""
    try:
        result = work()
    except Exception as exc:  # noqa: BLE001 - report and go on to the next scenario
        _log(f"{scenario} on {server} failed: {exc}")
        rows.append(Row(scenario, server, {}, f"failed: {exc}"))
        return
    rows.extend(result if isinstance(result, list) else [result])


def _measure_peer(
    peer: Peer, config: Path, profile: Profile, wanted: set[str], logs: Path
) -> list[Row]:
    rows: list[Row] = []
    loop = _client_loop()
    _log(f"starting {peer.name}")
    with ServerProcess(peer, config=config, log=logs / f"{peer.name}.log") as server:
        pid, port = server.pid, server.port
        if not peer.is_mockws or peer.name != "mockws":
            rows.append(Row("startup", peer.name, {"seconds": server.startup}, "one launch"))
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("idle", lambda: scenarios.idle_memory(pid, port, profile, peer.name, loop)),
            ("echo", lambda: scenarios.echo(pid, port, profile, peer.name, loop)),
            ("broadcast", lambda: scenarios.broadcast(pid, port, profile, peer.name, loop)),
            ("handshake", lambda: scenarios.handshakes(pid, port, profile, peer.name, loop)),
        ]
        for scenario, step in steps:
            if scenario in wanted:
                waited = wait_until_quiet(pid)
                _log(f"{peer.name}: {scenario} (server quiet after {waited:.1f}s)")
                _attempt(rows, scenario, peer.name, step)
    return rows


def _time_to_ready(argv: list[str], ready: str, env: dict[str, str]) -> tuple[float, float]:
    """Spawn ``argv``; return (wall seconds, CPU seconds) until ``ready`` is printed."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            if ready in raw.decode("utf-8", "replace"):
                return time.perf_counter() - started, cpu_seconds(process.pid)
        raise RuntimeError(f"{argv[0]} exited without printing {ready!r}")
    finally:
        process.terminate()
        process.wait(10)


def startup(config: Path, profile: Profile) -> list[Row]:
    """Scenario 5: process start to the ready line, beside the bare aiohttp import."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    serve = [
        sys.executable,
        "-m",
        "mockws",
        "serve",
        "--config",
        str(config),
        "--port",
        "0",
        "--no-reload",
        "--log-level",
        "warning",
    ]
    # Timed the same way: from spawning to a line printed once the import is done.
    bare = [
        sys.executable,
        "-c",
        "import aiohttp.web, time; print('imported', flush=True); time.sleep(5)",
    ]
    # Like aiohttp (compiled by pip at install), mockws starts from bytecode. A checkout
    # run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module each start.
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "mockws")], check=True, env=env
    )
    served, imported = [], []
    for _ in range(profile.startup_runs):  # alternate, so load changes hit both alike
        served.append(_time_to_ready(serve, "ready on", env))
        imported.append(_time_to_ready(bare, "imported", env))
    rows = []
    for name, runs in (("mockws serve", served), ("import aiohttp.web", imported)):
        rows.append(
            Row(
                "startup",
                name,
                {
                    "seconds": statistics.median(run[0] for run in runs),
                    "cpu_s": statistics.median(run[1] for run in runs),
                },
                f"median of {len(runs)}",
            )
        )
    return rows


def reload_latency(quick: bool, out: Path) -> list[Row]:
    """Scenario 6: run benchmarks/reload_latency.py when the hot-reload work provides it."""
    if not RELOAD_SCRIPT.exists():
        return [
            Row(
                "reload",
                "mockws",
                {},
                "not yet available: benchmarks/reload_latency.py comes with the hot-reload issue",
            )
        ]
    argv = [sys.executable, str(RELOAD_SCRIPT)]
    # Pass --quick only to a script that knows it (running --help could run it whole).
    if quick and "--quick" in RELOAD_SCRIPT.read_text(encoding="utf-8"):
        argv.append("--quick")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MOCKWS_BENCH_QUICK": "1" if quick else ""}
    done = subprocess.run(
        argv, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120 if quick else 600
    )
    (out / "reload_latency.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    lines = done.stdout.strip().splitlines()
    note = f"exit {done.returncode}; output in reload_latency.txt"
    metrics: dict[str, float] = {}
    if lines:
        import json

        try:
            parsed = json.loads(lines[-1])
            parsed = parsed if isinstance(parsed, dict) else {}
            metrics = {
                key: float(value)
                for key, value in parsed.items()
                if isinstance(value, (int, float)) and not isinstance(value, bool)
            }
        except ValueError:
            note = f"{note}; last line: {lines[-1][:120]}"
    return [Row("reload", "mockws", metrics, note)]


def environment(profile: Profile) -> dict[str, Any]:
    """Describe what was measured on: CPU, versions, load."""

    def version(module: str) -> str:
        try:
            from importlib.metadata import version as dist_version

            return dist_version(module)
        except Exception:  # noqa: BLE001 - not installed
            return "not installed"

    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def command(argv: list[str]) -> str:
        try:
            return subprocess.run(
                argv, capture_output=True, text=True, timeout=30, cwd=ROOT
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "not available"

    node_versions = {}
    for package in ("ws", "vite", "vite-plugin-mock-dev-server"):
        manifest = ROOT / "benchmarks" / "node" / "node_modules" / package / "package.json"
        if manifest.is_file():
            import json

            node_versions[package] = json.loads(manifest.read_text())["version"]
    return {
        "profile": profile.name,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "mockws_commit": command(["git", "rev-parse", "--short", "HEAD"]),
        "aiohttp": version("aiohttp"),
        "websockets": version("websockets"),
        "uvloop": version("uvloop"),
        "node": command(["node", "--version"]) or "not installed",
        **node_versions,
        "load_average": " ".join(f"{value:.2f}" for value in os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the suite; return the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small loads, under a minute")
    parser.add_argument("--out", type=Path, help="results folder (default artifacts/bench)")
    parser.add_argument("--only", help="comma-separated servers to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated servers to leave out")
    parser.add_argument(
        "--scenarios",
        default="idle,echo,broadcast,handshake,extras,features",
        help="comma-separated subset of idle,echo,broadcast,handshake,extras,features",
    )
    parser.add_argument(
        "--features",
        help="comma-separated feature modules of benchmarks/features to run (default: all)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 if a scenario or an installed peer failed (for CI)",
    )
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    out = args.out or ROOT / "artifacts" / ("bench-quick" if args.quick else "bench")
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    limit = _raise_fd_limit(profile.idle_clients * 2 + 1000)
    wanted = set(args.scenarios.split(","))
    configs = _write_configs(out / "work")
    started = time.monotonic()
    env_before = environment(profile)
    _log(f"profile {profile.name}, fd limit {limit}, results in {out}")

    rows: list[Row] = []
    skipped: list[str] = []
    only = set(args.only.split(",")) if args.only else None
    peer_scenarios = wanted & {"idle", "echo", "broadcast", "handshake"}
    for peer in all_peers() if peer_scenarios else []:
        if (only is not None and peer.name not in only) or peer.name in args.skip.split(","):
            continue
        if peer.missing:
            skipped.append(f"{peer.name}: skipped, {peer.missing}")
            _log(skipped[-1])
            continue
        try:
            rows += _measure_peer(peer, configs["base"], profile, wanted, logs)
        except Exception as exc:  # noqa: BLE001 - one broken peer must not stop the suite
            skipped.append(f"{peer.name}: failed to run, {exc}")
            _log(skipped[-1])

    if "extras" in wanted and (only is None or "mockws" in only):
        rows += _mockws_extras(configs, profile, out, logs, args.quick)

    if "features" in wanted and (only is None or "mockws" in only):
        context = FeatureContext(
            profile=profile,
            quick=args.quick,
            out=out,
            logs=logs,
            work=out / "work",
            client_loop=_client_loop(),
            log=_log,
        )
        rows += run_features(context, set(args.features.split(",")) if args.features else None)

    environment_info = {
        **env_before,
        "load_average_after": environment(profile)["load_average"],
        "seconds": round(time.monotonic() - started, 1),
        "skipped": skipped,
    }
    table = report.markdown(rows)
    targets = report.targets_markdown(report.check_targets(rows) + feature_targets(rows))
    text = f"{table}\n### targets\n\n{targets}\n" + "".join(f"- {line}\n" for line in skipped)
    (out / "results.md").write_text(text, encoding="utf-8")
    report.write_json(out / "results.json", rows, environment_info)
    print(text)
    try:
        written = report.charts(rows, out)
        _log("charts: " + ", ".join(str(path) for path in written))
    except ImportError:
        _log("matplotlib is not installed (pip install -e '.[bench]'): no charts")
    _log(f"done in {time.monotonic() - started:.0f}s")
    failures = [row for row in rows if row.note.startswith("failed")]
    failures += [line for line in skipped if "failed to run" in line]
    if args.strict and failures:
        _log(f"{len(failures)} failure(s); see the notes above")
        return 1
    return 0


def _mockws_extras(
    configs: dict[str, Path], profile: Profile, out: Path, logs: Path, quick: bool
) -> list[Row]:
    """mockws-only rows: compression, JWT, a slow reader, startup, hot reload."""
    rows: list[Row] = []
    loop = _client_loop()
    mockws = next(peer for peer in all_peers() if peer.name == "mockws")

    refused = _config_refused(configs["compression"])
    if refused:
        rows.append(Row("idle compressed", "mockws", {}, f"not yet available: {refused}"))
    else:
        _log("mockws: idle with compression")
        with ServerProcess(mockws, configs["compression"], log=logs / "mockws-z.log") as server:
            _attempt(
                rows,
                "idle compressed",
                "mockws",
                lambda: scenarios.idle_memory(
                    server.pid,
                    server.port,
                    profile,
                    "mockws",
                    loop,
                    headers=DEFLATE_OFFER,
                    scenario="idle compressed",
                ),
            )

    refused = _config_refused(configs["jwt"])
    if refused:
        rows.append(Row("handshake JWT", "mockws", {}, f"not yet available: {refused}"))
    else:
        import jwt

        token = jwt.encode({"sub": "bench"}, JWT_SECRET, algorithm="HS256")
        _log("mockws: handshakes with JWT")
        with ServerProcess(mockws, configs["jwt"], log=logs / "mockws-jwt.log") as server:
            for name, path in (
                ("mockws, no auth", "/echo"),
                ("mockws, JWT", f"/auth/echo?token={token}"),
            ):
                _attempt(
                    rows,
                    "handshake JWT",
                    name,
                    lambda name=name, path=path: scenarios.handshakes(
                        server.pid,
                        server.port,
                        profile,
                        name,
                        loop,
                        path=path,
                        scenario="handshake JWT",
                    ),
                )

    _log("mockws: slow reader")
    with ServerProcess(mockws, configs["base"], log=logs / "mockws-slow.log") as server:
        _attempt(
            rows,
            "slow reader",
            "mockws",
            lambda: scenarios.slow_reader(server.pid, server.port, profile, "mockws", loop),
        )
    _log("startup")
    _attempt(rows, "startup", "mockws serve", lambda: startup(configs["base"], profile))
    _attempt(rows, "reload", "mockws", lambda: reload_latency(quick, out))
    return rows


if __name__ == "__main__":
    sys.exit(main())
