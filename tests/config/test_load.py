"""Config loading and validation (mockws/config/load.py, mockws/config/yaml_source.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mockws.config import CompressionConfig, Config, JwtConfig, config_from_mapping, load_config
from mockws.errors import ConfigError
from mockws.server.endpoints import load_endpoints

from ..helpers import EXAMPLE_CONFIG, WriteFile

HANDLER = "async def on_message(conn, data):\n    await conn.send(data)\n"


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_example_config_loads_with_defaults() -> None:
    """config.example.yaml is valid and gets the documented defaults."""
    config = load_config(EXAMPLE_CONFIG)
    assert config.host == "127.0.0.1" and config.port == 8765 and config.prefix == ""
    assert [e.pattern for e in config.endpoints] == [
        "/ws/chat",
        "/ws/dashboard",
        "/ws/games/{game_id}",
        "/ws/notifications",
    ]
    first = config.endpoints[0]
    assert first.parse_json is True and first.heartbeat is None
    assert first.max_message_size == 1024 * 1024
    assert config.base_dir == EXAMPLE_CONFIG.parent


def test_every_endpoint_key_is_parsed(write: WriteFile) -> None:
    """Each key of the contract's section 1 lands in the typed config."""
    write("key.pem", "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")
    path = write(
        "dev.yaml",
        """
        host: 0.0.0.0
        port: 0
        prefix: /api/
        reload: false
        allowed_origins: ["http://localhost:5173"]
        endpoints:
          - pattern: /ws/chat
            handler: handlers/chat.py
            heartbeat: 2.5
            compression: {enabled: true, threshold: 512}
            max_message_size: 2048
            subprotocols: [chat.v1, chat.v2]
            parse_json: false
            authenticate:
              jwt:
                public_key: key.pem
                algorithms: [RS256]
                query_param: access
                audience: my-app
                issuer: me
                leeway: 5
                required_claims: [exp]
          - pattern: /ws/custom
            handler: handlers.custom
            authenticate: handlers/auth.py:authenticate
    """,
    )
    config = load_config(path)
    assert (config.host, config.port, config.prefix, config.reload) == ("0.0.0.0", 0, "/api", False)
    assert config.allowed_origins == ("http://localhost:5173",)
    chat, custom = config.endpoints
    assert chat.heartbeat == 2.5
    assert chat.compression == CompressionConfig(enabled=True, threshold=512)
    assert chat.max_message_size == 2048 and chat.subprotocols == ("chat.v1", "chat.v2")
    assert chat.parse_json is False
    assert isinstance(chat.authenticate, JwtConfig)
    assert chat.authenticate.public_key == (path.parent / "key.pem").resolve()
    assert chat.authenticate.query_param == "access" and chat.authenticate.leeway == 5.0
    assert custom.authenticate is not None and custom.handler == "handlers.custom"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "port: 8765\nendpoints:\n  - pattern: /a\n    handler: h.py\n    hartbeat: 3\n",
            "dev.yaml:5: endpoints[0].hartbeat: unknown key (did you mean 'heartbeat'?)",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n  - pattern: /b\n    handler: h.py\n"
            "    heartbeat: fast\n",
            "dev.yaml:6: endpoints[1].heartbeat: expected a number of seconds, got 'fast'",
        ),
        ("port: eighty\n", "dev.yaml:1: port: expected a whole number, got 'eighty'"),
        ("port: 70000\n", "dev.yaml:1: port: expected a number between 0 and 65535, got 70000"),
        (
            "endpoints:\n  - pattern: ws/chat\n    handler: h.py\n",
            "dev.yaml:2: endpoints[0].pattern: pattern 'ws/chat' must start with '/'",
        ),
        (
            "endpoints:\n  - pattern: /a/{x}\n    handler: h.py\n"
            "  - pattern: /a/{y}\n    handler: h.py\n",
            "dev.yaml:4: endpoints[1].pattern: pattern '/a/{y}' duplicates '/a/{x}'",
        ),
        (
            "endpoints:\n  - handler: h.py\n",
            "dev.yaml:2: endpoints[0]: missing required key 'pattern'",
        ),
        (
            "endpoints:\n  - pattern: /a\n    heartbeat: 3\n",
            "dev.yaml:2: endpoints[0]: an endpoint needs something to serve it: give one of "
            "'handler', 'rules'",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: ''\n",
            "dev.yaml:3: endpoints[0].handler: expected a file path or a dotted module name",
        ),
        ("endpoints: {pattern: /a}\n", "dev.yaml:1: endpoints: expected a list of endpoints"),
        ("reload: yes please\n", "dev.yaml:1: reload: expected true or false, got 'yes please'"),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    compression: {threshold: -1}\n",
            "dev.yaml:4: endpoints[0].compression.threshold: expected a number >= 0, got -1",
        ),
        (
            'endpoints:\n  - pattern: /a\n    handler: h.py\n    subprotocols: ["bad proto"]\n',
            "dev.yaml:4: endpoints[0].subprotocols[0]: 'bad proto' is not a valid protocol token",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    authenticate:\n      jwt:\n"
            "        secret: s\n",
            "dev.yaml:5: endpoints[0].authenticate.jwt.algorithms: required",
        ),
        (
            "endpoints:\n  - pattern: /a\n    handler: h.py\n    authenticate:\n      jwt:\n"
            "        secret: s\n        algorithms: [none]\n",
            "dev.yaml:7: endpoints[0].authenticate.jwt.algorithms: 'none' is not an acceptable",
        ),
        ("port: 1\nport: 2\n", "dev.yaml:2: port: key is given twice"),
        ("endpoints:\n  - pattern: /a\n   handler: x\n", "dev.yaml:3: invalid YAML"),
        ("- just\n- a list\n", "dev.yaml:1: expected a mapping at the top level, got a list"),
    ],
)
def test_config_errors_name_file_line_and_key(write: WriteFile, body: str, expected: str) -> None:
    """Every invalid config is reported as file:line: key: message."""
    message = config_error(write("dev.yaml", body))
    assert f"{os.sep}{expected}" in message, message


def test_env_expansion(write: WriteFile, monkeypatch: pytest.MonkeyPatch) -> None:
    """${VAR} and ${VAR:-default} expand from the environment in string values."""
    monkeypatch.setenv("MOCKWS_TEST_HOST", "127.0.0.2")
    monkeypatch.delenv("MOCKWS_UNSET", raising=False)
    path = write(
        "dev.yaml",
        """
        host: ${MOCKWS_TEST_HOST}
        endpoints:
          - pattern: /a
            handler: ${MOCKWS_UNSET:-handlers/a.py}
    """,
    )
    config = load_config(path)
    assert config.host == "127.0.0.2"
    assert config.endpoints[0].handler == "handlers/a.py"


def test_unset_env_without_default_is_an_error(
    write: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset variable without a default names the variable, key and line."""
    monkeypatch.delenv("MOCKWS_UNSET", raising=False)
    message = config_error(write("dev.yaml", "port: 1\nhost: ${MOCKWS_UNSET}\n"))
    assert "dev.yaml:2: host: environment variable MOCKWS_UNSET is not set" in message


def test_python_config_dict_and_object(write: WriteFile) -> None:
    """A .py config may define config as a dict or as a mockws.Config."""
    as_dict = write(
        "dict_config.py",
        """
        config = {"port": 9001, "endpoints": [{"pattern": "/a", "handler": "h.py"}]}
    """,
    )
    assert load_config(as_dict).port == 9001
    as_object = write(
        "object_config.py",
        """
        from mockws import Config, EndpointConfig
        config = Config(port=9002, endpoints=(EndpointConfig(pattern="/a", handler="h.py"),))
    """,
    )
    loaded = load_config(as_object)
    assert isinstance(loaded, Config) and loaded.port == 9002
    assert loaded.base_dir == as_object.parent


def test_python_config_errors(write: WriteFile) -> None:
    """A .py config that lacks `config`, or has a bad key, is a config error with its line."""
    assert "must define 'config'" in config_error(write("none.py", "x = 1\n"))
    message = config_error(write("bad.py", "import os\n\nconfig = {'prot': 1}\n"))
    assert "bad.py:3: prot: unknown key (did you mean 'port'?)" in message


def test_missing_config_file(project: Path) -> None:
    """A config path that does not exist is reported as such."""
    assert "config file not found" in config_error(project / "nope.yaml")


def test_handler_errors_name_config_key_and_handler_line(write: WriteFile) -> None:
    """A missing handler file or one with a syntax error is reported at its config key."""
    write("handlers/broken.py", "def on_message(conn, data)\n    pass\n")
    write("handlers/ok.py", HANDLER)
    path = write(
        "dev.yaml",
        """
        endpoints:
          - pattern: /ok
            handler: handlers/ok.py
          - pattern: /missing
            handler: handlers/missing.py
          - pattern: /broken
            handler: handlers/broken.py
    """,
    )
    config = load_config(path)
    with pytest.raises(ConfigError) as caught:
        load_endpoints(config)
    message = str(caught.value)
    assert "dev.yaml:5: endpoints[1].handler: cannot load 'handlers/missing.py'" in message
    assert "handler file not found" in message
    broken = config_from_mapping(
        {"endpoints": [{"pattern": "/b", "handler": "handlers/broken.py"}]},
        base_dir=path.parent,
        source=path,
    )
    with pytest.raises(ConfigError) as caught:
        load_endpoints(broken)
    assert "handlers/broken.py:1: SyntaxError" in str(caught.value)


def test_handler_that_raises_at_import(write: WriteFile) -> None:
    """An exception at import names the handler file and line that raised."""
    write("boom.py", "X = 1\nraise RuntimeError('no database')\n")
    config = config_from_mapping(
        {"endpoints": [{"pattern": "/a", "handler": "boom.py"}]}, base_dir=write("x.txt", "").parent
    )
    with pytest.raises(ConfigError) as caught:
        load_endpoints(config)
    assert "boom.py:2: RuntimeError while importing: no database" in str(caught.value)


def test_file_and_dotted_names_give_one_module(write: WriteFile) -> None:
    """handlers/chat.py and handlers.chat load the same module, sharing one slot."""
    write("app_handlers/__init__.py", "")
    write("app_handlers/chat.py", "from app_handlers.common import GREETING\n")
    write("app_handlers/common.py", "GREETING = 'hi'\n")
    config = config_from_mapping(
        {
            "endpoints": [
                {"pattern": "/a", "handler": "app_handlers/chat.py"},
                {"pattern": "/b", "handler": "app_handlers.chat"},
            ]
        },
        base_dir=write("x.txt", "").parent,
    )
    first, second = load_endpoints(config)
    assert first.handler is second.handler
    assert first.handler.module.GREETING == "hi"
