"""Signing tokens for a config's JWT endpoints (mockws/server/signing.py)."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from mockws.config.load import config_from_mapping
from mockws.config.model import Config
from mockws.errors import AuthError
from mockws.server.signing import parse_ttl, sign_for

from ..helpers import WriteFile, endpoint

SECRET = "signing-test-secret-of-32-bytes!"


def config(base: Path) -> Config:
    return config_from_mapping(
        {
            "prefix": "/api",
            "endpoints": [
                endpoint(
                    "/ws/rooms/{room}",
                    "h.py",
                    authenticate={
                        "jwt": {"secret": SECRET, "algorithms": ["HS256"], "audience": "app"}
                    },
                ),
                endpoint("/ws/open", "h.py"),
            ],
        },
        base_dir=base,
    )


def test_sign_for_takes_a_pattern_or_a_path_and_a_ttl(write: WriteFile) -> None:
    """The token verifies with the endpoint's key and audience; ttl strings and numbers work."""
    cfg = config(write("h.py", "").parent)
    for name, ttl, lifetime in (("/ws/rooms/{room}", "15m", 900), ("/ws/rooms/lobby", 60, 60)):
        token = sign_for(cfg, name, {"sub": "ann"}, ttl=ttl)
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="app")
        assert claims["sub"] == "ann" and claims["exp"] - claims["iat"] == lifetime
    token = sign_for(cfg, "/ws/rooms/x", {}, ttl="none")
    assert "exp" not in jwt.decode(token, SECRET, algorithms=["HS256"], audience="app")


def test_sign_for_refuses_what_it_cannot_sign(write: WriteFile) -> None:
    """An endpoint without JWT, a bad ttl and a key outside the folder are AuthErrors."""
    cfg = config(write("h.py", "").parent)
    with pytest.raises(AuthError, match="no authentication"):
        sign_for(cfg, "/ws/open", {})
    with pytest.raises(AuthError, match="ttl"):
        sign_for(cfg, "/ws/rooms/x", {}, ttl="soon")
    with pytest.raises(AuthError, match="outside the config folder"):
        sign_for(cfg, "/ws/rooms/x", {}, private_key="../key.pem")


def test_parse_ttl_units() -> None:
    """90, 30s, 15m, 1h, 7d and none."""
    assert [parse_ttl(t) for t in ("90", "30s", "15m", "1h", "7d", "none")] == [
        90,
        30,
        900,
        3600,
        604800,
        None,
    ]
