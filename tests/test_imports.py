"""Startup pays only for what the config uses: heavy optional modules load lazily."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Imported only where a config uses the feature (docs/benchmarks.md, "Startup").
LAZY_MODULES = (
    "jwt",
    "cryptography",
    "watchfiles",
    "uvloop",
    "mockws.testing",
    "mockws.cli.token",
    "mockws.cli.init",
    "mockws.auth.jwt",
    "mockws.reload.reloader",
    "jinja2",
    "mockws.config.sandbox",
)


def test_cli_and_a_plain_server_import_no_optional_module() -> None:
    """Importing mockws and its CLI and building a plain server loads none of LAZY_MODULES."""
    script = textwrap.dedent(
        f"""
        import sys
        import mockws, mockws.cli
        from mockws.server.app import MockServer
        MockServer(mockws.config_from_mapping({{"reload": False, "endpoints": []}}))
        print(",".join(name for name in {LAZY_MODULES!r} if name in sys.modules))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
