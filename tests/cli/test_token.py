"""``mockws token`` (mockws/cli/commands.py, mockws/cli/token.py, mockws/auth/jwt.py)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mockws.cli import main
from mockws.cli.token import parse_claims, parse_ttl
from mockws.testing import run_server

from ..helpers import WriteFile

SECRET = "cli-test-secret-of-thirty-two-bytes"
CONFIG = f"""
port: 8765
prefix: /api
endpoints:
  - pattern: /ws/rooms/{{room}}
    handler: whoami.py
    authenticate:
      jwt:
        secret: {SECRET}
        algorithms: [HS256]
        audience: my-app
  - pattern: /ws/signed
    handler: whoami.py
    authenticate:
      jwt:
        public_key: public.pem
        algorithms: [ES256]
        query_param: access
  - pattern: /ws/strict
    handler: whoami.py
    authenticate:
      jwt:
        secret: dev-secret
        algorithms: [HS256]
        required_claims: [email]
  - pattern: /ws/open
    handler: whoami.py
"""
WHOAMI = """
async def on_connect(conn):
    room = conn.params.get("room")
    await conn.send({"user": conn.user_id, "claims": conn.auth_data, "room": room})
"""


def _pem(key: ec.EllipticCurvePrivateKey) -> tuple[str, str]:
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


@pytest.fixture
def config_path(write: WriteFile) -> Path:
    """A project with HS256, ES256, strict and open endpoints and both halves of an EC key."""
    private, public = _pem(ec.generate_private_key(ec.SECP256R1()))
    write("private.pem", private)
    write("public.pem", public)
    write("other.pem", _pem(ec.generate_private_key(ec.SECP256R1()))[0])
    write("whoami.py", WHOAMI)
    return write("dev.yaml", CONFIG)


def run(config_path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["token", "--config", str(config_path), *args])


async def test_token_for_hmac_endpoint_is_accepted_by_the_server(config_path: Path) -> None:
    """The printed token carries sub, typed claims, aud and exp, and the server accepts it."""
    result = run(
        config_path,
        *("--endpoint", "/ws/rooms/lobby", "--sub", "alice", "--ttl", "15m"),
        *("--claim", "role=admin", "--claim", "level=3", "--claim", 'tags=["a","b"]'),
    )
    assert result.exit_code == 0, result.output
    token, url = result.stdout.splitlines()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="my-app")
    assert claims["sub"] == "alice" and claims["role"] == "admin"
    assert claims["level"] == 3 and claims["tags"] == ["a", "b"]
    assert claims["exp"] - claims["iat"] == 900 and abs(claims["iat"] - time.time()) < 5
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "ws",
        "127.0.0.1:8765",
        "/api/ws/rooms/lobby",
    )
    assert parse_qs(parts.query) == {"token": [token]}
    async with run_server(config_path) as server:
        client = await server.connect("/ws/rooms/lobby", query={"token": token})
        hello = await client.receive_json()
        assert hello == {"user": "alice", "claims": claims, "room": "lobby"}


async def test_public_key_endpoint_needs_the_matching_private_key(config_path: Path) -> None:
    """A public_key endpoint asks for --private-key, refuses a wrong one, accepts the right one."""
    missing = run(config_path, "--endpoint", "/ws/signed", "--sub", "bob")
    assert missing.exit_code == 2 and "pass --private-key PATH" in missing.stderr
    other = config_path.parent / "other.pem"
    wrong = run(config_path, "--endpoint", "/ws/signed", "--private-key", str(other))
    assert wrong.exit_code == 2
    assert "the endpoint would refuse this token: Signature verification failed" in wrong.stderr
    private = config_path.parent / "private.pem"
    result = run(
        config_path, "--endpoint", "/ws/signed", "--sub", "bob", "--private-key", str(private)
    )
    assert result.exit_code == 0, result.output
    token, url = result.stdout.splitlines()
    assert url.endswith(f"/api/ws/signed?access={token}")
    async with run_server(config_path) as server:
        client = await server.connect("/ws/signed", query={"access": token})
        assert (await client.receive_json())["user"] == "bob"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "/nope"], "no endpoint '/nope' in the config (endpoints: /ws/rooms/{room}"),
        (["--endpoint", "/ws/open"], "endpoint /ws/open uses no authentication"),
        (["--endpoint", "/ws/strict"], 'would refuse this token: Token is missing the "email"'),
        (["--endpoint", "/ws/strict", "--ttl", "soon"], "'soon' is not a duration"),
        (["--endpoint", "/ws/strict", "--claim", "novalue"], "'novalue' is not KEY=VALUE"),
        (["--endpoint", "/ws/strict", "--algorithm", "HS512"], "algorithm HS512 is not configured"),
    ],
)
def test_token_usage_errors_exit_2(config_path: Path, args: list[str], message: str) -> None:
    """Unknown or unauthenticated endpoints and unusable options exit 2 with the reason."""
    result = run(config_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_token_for_required_claims_and_no_expiry(config_path: Path) -> None:
    """--claim fills a required claim; --ttl none leaves exp out."""
    result = run(
        config_path, "--endpoint", "/api/ws/strict", "--claim", "email=a@b.c", "--ttl", "none"
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.splitlines()[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["email"] == "a@b.c" and "exp" not in claims and "sub" not in claims


def test_parse_ttl_and_claims() -> None:
    """Durations take s/m/h/d units; claim values parse as JSON where they can."""
    assert [parse_ttl(text) for text in ("90", "30s", "15m", "1h", "2d", "none")] == [
        90,
        30,
        900,
        3600,
        172800,
        None,
    ]
    for bad in ("0", "-5", "1w", ""):
        with pytest.raises(ValueError):
            parse_ttl(bad)
    assert parse_claims(["a=1", "b=true", "c=text", "d=", 'e={"x": null}', "f=a=b"]) == {
        "a": 1,
        "b": True,
        "c": "text",
        "d": "",
        "e": {"x": None},
        "f": "a=b",
    }


def test_token_url_is_wss_when_the_config_has_tls(tmp_path: Path) -> None:
    """A config with tls: prints a wss:// URL; a wildcard bind is shown on loopback."""
    from dataclasses import replace

    from mockws.cli.token import token_url
    from mockws.config.load import config_from_mapping
    from mockws.config.model import TlsConfig

    config = config_from_mapping({"host": "0.0.0.0", "port": 9001}, base_dir=tmp_path)
    assert token_url(config, "/ws", "token", "t") == "ws://127.0.0.1:9001/ws?token=t"
    secure = replace(config, tls=TlsConfig(cert=tmp_path / "c.pem"))
    assert token_url(secure, "/ws", "token", "t") == "wss://127.0.0.1:9001/ws?token=t"
