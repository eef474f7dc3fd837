"""Authentication of upgrade requests (mockws/auth/) over real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mockws import AuthResult
from mockws.auth.base import coerce_result
from mockws.config import config_from_mapping, load_config
from mockws.errors import ConfigError
from mockws.server.endpoints import load_endpoints
from mockws.testing import RunningServer, run_server

from ..helpers import WriteFile, endpoint

SECRET = "a-test-secret-that-is-32-bytes-long!"
RECORDER = """
EVENTS = []

async def on_connect(conn):
    EVENTS.append("connect")
    await conn.send({"auth_data": conn.auth_data, "user_id": conn.user_id,
                     "query": dict(conn.query)})

async def on_message(conn, data):
    EVENTS.append(("message", data))

async def on_close(conn, code, reason):
    EVENTS.append(("close", code))
"""


@pytest.fixture(scope="module")
def rsa_pem() -> tuple[bytes, bytes]:
    """An RSA key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def sign(claims: dict[str, Any], key: str | bytes = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def jwt_endpoint(pattern: str = "/secure", **jwt_options: Any) -> dict[str, object]:
    options = {"secret": SECRET, "algorithms": ["HS256"], **jwt_options}
    return endpoint(pattern, "recorder.py", authenticate={"jwt": options})


def recorder(server: RunningServer) -> Any:
    return server.server.endpoints[0].handler.module


async def expect_refused(
    server: RunningServer, query: dict[str, str] | None = None, path: str = "/secure"
) -> tuple[int | None, str]:
    client = await server.connect(path, query=query)
    return await client.expect_close()


async def test_valid_jwt_sets_claims_user_and_hides_the_token(
    project: Path, write: WriteFile
) -> None:
    """A valid token connects: auth_data holds the claims, user_id the sub; query hides it."""
    write("recorder.py", RECORDER)
    claims = {"sub": "alice", "role": "admin", "exp": int(time.time()) + 60}
    async with run_server({"endpoints": [jwt_endpoint()]}, base_dir=project) as server:
        client = await server.connect("/secure", query={"token": sign(claims), "room": "a"})
        hello = await client.receive_json()
        assert hello == {"auth_data": claims, "user_id": "alice", "query": {"room": "a"}}
        assert recorder(server).EVENTS == ["connect"]


@pytest.mark.parametrize("query", [{}, {"token": ""}, {"other": "x"}])
async def test_missing_token_closes_4001_without_any_hook(
    project: Path, write: WriteFile, query: dict[str, str]
) -> None:
    """No token: accepted, closed with 4001, never registered, no hook runs."""
    write("recorder.py", RECORDER)
    async with run_server({"endpoints": [jwt_endpoint()]}, base_dir=project) as server:
        assert await expect_refused(server, query) == (4001, "No token provided")
        assert recorder(server).EVENTS == []
        assert not server.hub.connections


def _invalid_tokens(private_pem: bytes) -> list[tuple[str, str, str]]:
    """(label, token, why) for an endpoint with audience my-app, issuer me, exp required."""
    now = int(time.time())
    no_exp = {"sub": "a", "aud": "my-app", "iss": "me"}
    good = {**no_exp, "exp": now + 60}
    not_allowed = "The specified alg value is not allowed"
    return [
        ("bad signature", sign(good, "x" * 32), "Signature verification failed"),
        ("expired", sign({**good, "exp": now - 30}), "Signature has expired"),
        ("not yet valid", sign({**good, "nbf": now + 300}), "The token is not yet valid (nbf)"),
        ("wrong audience", sign({**good, "aud": "other-app"}), "Audience doesn't match"),
        ("wrong issuer", sign({**good, "iss": "evil"}), "Invalid issuer"),
        ("alg none", sign(good, "", "none"), not_allowed),
        ("RS token", sign(good, private_pem, "RS256"), not_allowed),
        ("garbage", "not-a-token", "Not enough segments"),
        ("missing claim", sign(no_exp), "Token is missing the \"exp\" claim"),
    ]  # fmt: skip


async def test_invalid_tokens_close_4002_with_why(
    project: Path, write: WriteFile, rsa_pem: tuple[bytes, bytes]
) -> None:
    """Every verification failure closes with 4002 "Invalid token: <why>" and runs no hook."""
    write("recorder.py", RECORDER)
    settings = jwt_endpoint(audience="my-app", issuer="me", required_claims=["exp"])
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        for label, token, why in _invalid_tokens(rsa_pem[0]):
            code, reason = await expect_refused(server, {"token": token})
            assert (code, reason) == (4002, f"Invalid token: {why}"), label
        assert recorder(server).EVENTS == []


async def test_hmac_token_signed_with_the_public_key_is_refused(
    project: Path, write: WriteFile, rsa_pem: tuple[bytes, bytes]
) -> None:
    """An RS256 endpoint accepts its key pair's tokens and refuses HS256 forged with its PEM."""
    write("recorder.py", RECORDER)
    write("public.pem", rsa_pem[1].decode())
    settings = jwt_endpoint(secret=None, public_key="public.pem", algorithms=["RS256"])
    del settings["authenticate"]["jwt"]["secret"]  # type: ignore[index]
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl"
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        client = await server.connect(
            "/secure", query={"token": sign({"sub": "bob"}, rsa_pem[0], "RS256")}
        )
        assert (await client.receive_json())["user_id"] == "bob"
        code, reason = await expect_refused(server, {"token": forged})
        assert (code, reason) == (4002, "Invalid token: The specified alg value is not allowed")


async def test_query_param_leeway_and_short_dev_secret(project: Path, write: WriteFile) -> None:
    """query_param names the parameter; leeway forgives a recent expiry; a short secret works."""
    write("recorder.py", RECORDER)
    settings = jwt_endpoint(secret="dev-secret", query_param="access", leeway=30)
    token = sign({"sub": "carol", "exp": int(time.time()) - 5}, "dev-secret")
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        client = await server.connect("/secure", query={"access": token, "token": "kept"})
        hello = await client.receive_json()
        assert hello["user_id"] == "carol" and hello["query"] == {"token": "kept"}
        assert await expect_refused(server, {"token": token}) == (4001, "No token provided")


AUTH_FUNCTIONS = """
import asyncio
from mockws import AuthResult

def allow_dict(request):
    return {"success": True, "data": {"sub": "dave", "plan": request.query.get("plan")}}

async def allow_result(request):
    await asyncio.sleep(0)
    return AuthResult(True, data={"team": "red"}, user_id="erin")

def deny(request):
    return False

async def deny_custom(request):
    return AuthResult(False, 4010, "Banned until " + request.query.get("until", "?"))

async def slow_deny(request):
    await asyncio.sleep(0.2)
    return False

def crash(request):
    raise RuntimeError("auth backend down")

def forgot_return(request):
    pass

def bad_code(request):
    return {"success": False, "code": 1006}
"""


async def test_custom_authenticate_results(project: Path, write: WriteFile) -> None:
    """A dict, an AuthResult or a bool from a sync or async callable decides the connection."""
    write("recorder.py", RECORDER)
    write("auth_functions.py", AUTH_FUNCTIONS)
    names = ["allow_dict", "allow_result", "deny", "deny_custom"]
    config = {
        "endpoints": [
            endpoint(f"/{name}", "recorder.py", authenticate=f"auth_functions.py:{name}")
            for name in names
        ]
    }
    async with run_server(config, base_dir=project) as server:
        first = await server.connect("/allow_dict", query={"plan": "pro"})
        hello = await first.receive_json()
        assert hello["auth_data"] == {"sub": "dave", "plan": "pro"}
        assert hello["user_id"] == "dave" and hello["query"] == {"plan": "pro"}
        second = await server.connect("/allow_result")
        assert await second.receive_json() == {
            "auth_data": {"team": "red"},
            "user_id": "erin",
            "query": {},
        }
        assert await expect_refused(server, path="/deny") == (4003, "Forbidden")
        refused = await expect_refused(server, {"until": "monday"}, path="/deny_custom")
        assert refused == (4010, "Banned until monday")
        assert recorder(server).EVENTS == ["connect", "connect"]


@pytest.mark.parametrize(
    ("function", "logged"),
    [
        ("crash", "auth backend down"),
        ("forgot_return", "authenticate returned NoneType"),
        ("bad_code", "close code 1006, which cannot be sent"),
    ],
)
async def test_failing_authenticate_closes_1011_and_logs_traceback(
    project: Path, write: WriteFile, caplog: pytest.LogCaptureFixture, function: str, logged: str
) -> None:
    """A callable that raises or returns nonsense closes with 1011; the traceback is logged."""
    write("recorder.py", RECORDER)
    write("auth_functions.py", AUTH_FUNCTIONS)
    settings = endpoint("/x", "recorder.py", authenticate=f"auth_functions.py:{function}")
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        with caplog.at_level(logging.ERROR, logger="mockws"):
            assert await expect_refused(server, path="/x") == (1011, "Authentication error")
        records = [r for r in caplog.records if "authenticate failed" in r.getMessage()]
        assert len(records) == 1 and records[0].exc_info is not None
        assert logged in str(records[0].exc_info[1])
        assert f"auth_functions.py:{function}" in records[0].getMessage()
        assert recorder(server).EVENTS == []


async def test_messages_from_a_refused_client_reach_no_handler(
    project: Path, write: WriteFile
) -> None:
    """Messages sent while authentication is pending are dropped with the refused connection."""
    write("recorder.py", RECORDER)
    write("auth_functions.py", AUTH_FUNCTIONS)
    settings = endpoint("/x", "recorder.py", authenticate="auth_functions.py:slow_deny")
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        client = await server.connect("/x")
        with contextlib.suppress(ConnectionError):
            await client.send({"sneaky": True})
        assert await client.expect_close() == (4003, "Forbidden")
        await asyncio.sleep(0.05)
        assert recorder(server).EVENTS == []
        assert not server.hub.connections


async def test_handler_module_own_authenticate_hook(project: Path, write: WriteFile) -> None:
    """A bare function name uses the endpoint's handler module, looked up at each connection."""
    write(
        "self_auth.py",
        """
        ALLOWED = {"frank"}

        def authenticate(request):
            user = request.query.get("user")
            return AuthResult(user in ALLOWED, data={"sub": user})

        async def on_connect(conn):
            await conn.send(conn.user_id)

        from mockws import AuthResult
        """,
    )
    settings = endpoint("/self", "self_auth.py", authenticate="authenticate")
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        client = await server.connect("/self", query={"user": "frank"})
        assert await client.receive() == "frank"
        assert await expect_refused(server, {"user": "gina"}, path="/self") == (4003, "Forbidden")
        server.server.endpoints[0].handler.module.ALLOWED = {"gina"}
        client = await server.connect("/self", query={"user": "gina"})
        assert await client.receive() == "gina"


def test_coerce_result_accepts_bool_dict_and_result() -> None:
    """True, False, a dict and an AuthResult all become AuthResults; sub fills user_id."""
    assert coerce_result(True) == AuthResult(True)
    assert coerce_result(False) == AuthResult(False, 4003, "Forbidden")
    assert coerce_result({"success": False, "code": 4100, "reason": "x"}) == AuthResult(
        False, 4100, "x"
    )
    assert coerce_result(AuthResult(True, data={"sub": "h"})).user_id == "h"
    assert coerce_result(AuthResult(True, data={"sub": "h"}, user_id="i")).user_id == "i"
    with pytest.raises(TypeError, match="needs 'success'"):
        coerce_result({"ok": True})
    with pytest.raises(ValueError, match="cannot be sent"):
        coerce_result(AuthResult(False, 2500))


def _load_error(project: Path, authenticate: object) -> str:
    config = config_from_mapping(
        {"endpoints": [endpoint("/a", "recorder.py", authenticate=authenticate)]}, base_dir=project
    )
    with pytest.raises(ConfigError) as caught:
        load_endpoints(config)
    return str(caught.value)


def test_unusable_authenticate_settings_are_config_errors(
    project: Path, write: WriteFile, rsa_pem: tuple[bytes, bytes]
) -> None:
    """Missing functions, wrong keys and unknown algorithms fail at load, naming the key."""
    write("recorder.py", RECORDER)
    write("auth_functions.py", AUTH_FUNCTIONS)
    write("public.pem", rsa_pem[1].decode())
    write("private.pem", rsa_pem[0].decode())
    key = "endpoints[0].authenticate"
    cases = [
        ("auth_functions.py:nope", "auth_functions.py has no function 'nope'"),
        ("no_such_file.py:f", "handler file not found"),
        ("authenticate", "recorder.py has no function 'authenticate'"),
        ("a b", "'a b': expected 'path/to/file.py:function'"),
        (
            {"jwt": {"public_key": "public.pem", "algorithms": ["HS256"]}},
            "the public_key public.pem cannot verify HS256 tokens: The specified key is an",
        ),
        (
            {"jwt": {"secret": SECRET, "algorithms": ["RS256"]}},
            "the secret cannot verify RS256 tokens",
        ),
        (
            {"jwt": {"public_key": "private.pem", "algorithms": ["RS256"]}},
            "the public_key private.pem is a private key",
        ),
        ({"jwt": {"secret": SECRET, "algorithms": ["HS999"]}}, "unsupported algorithm 'HS999'"),
    ]
    for authenticate, message in cases:
        where = key + (".jwt: " if isinstance(authenticate, dict) else ": ")
        assert where + message in _load_error(project, authenticate)


async def test_token_never_appears_in_any_log_line(
    project: Path, write: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    """Accepted, expired and forged tokens in a custom query_param are masked in every log."""
    write("recorder.py", RECORDER)
    settings = jwt_endpoint(query_param="ticket")
    now = int(time.time())
    tokens = [
        sign({"sub": "alice", "exp": now + 60}),
        sign({"sub": "alice", "exp": now - 60}),
        sign({"sub": "alice"}, "y" * 32),
        "not.a-valid.token-at-all",
    ]
    caplog.set_level(logging.DEBUG)
    async with run_server({"endpoints": [settings]}, base_dir=project) as server:
        accepted = await server.connect("/secure", query={"ticket": tokens[0]})
        await accepted.receive_json()
        for token in tokens[1:]:
            code, _ = await expect_refused(server, {"ticket": token, "x": "1"})
            assert code == 4002
        await accepted.close()
    formatter = logging.Formatter("%(name)s %(message)s")
    lines = [formatter.format(record) for record in caplog.records]
    access = [line for line in lines if line.startswith("aiohttp.access")]
    assert len(access) == 4 and all("ticket=***" in line for line in access), access
    assert any("refused: 4002 Invalid token" in line for line in lines)
    for token in tokens:
        for part in token.split("."):
            assert not any(part in line for line in lines), part


def test_authenticate_error_names_file_line_and_key(write: WriteFile) -> None:
    """A key that cannot verify the listed algorithm is reported at its jwt line."""
    write("recorder.py", RECORDER)
    path = write(
        "dev.yaml",
        """
        endpoints:
          - pattern: /a
            handler: recorder.py
            authenticate:
              jwt:
                secret: dev-secret
                algorithms: [RS256]
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_endpoints(load_config(path))
    assert "dev.yaml:5: endpoints[0].authenticate.jwt: the secret cannot verify RS256" in str(
        caught.value
    )
