"""Built-in JWT (mockws/auth/jwt.py): PyJWT contracts, the verifier, sign_token, the authenticator.

The first tests pin what the "PyJWT internals" section of mockws/auth/jwt.py
assumes PyJWT does; each failure names ``jwt.__version__`` and what to
revisit. The rest test JwtVerifier, sign_token and JwtAuthenticator directly,
without a server (tests/auth/test_authentication.py covers them over sockets).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import Algorithm, ECAlgorithm, HMACAlgorithm

from mockws import AuthResult
from mockws.auth.jwt import JwtAuthenticator, JwtVerifier, is_hmac, sign_token
from mockws.config.model import JwtConfig
from mockws.errors import AuthError

TESTED_PYJWT = "2.15"
SECRET = "a-jwt-test-secret-of-at-least-32-bytes"
SHORT_SECRET = "dev-secret"


def broken(relies_on: str, revisit: str) -> str:
    """The failure message of a PyJWT contract: the assumption, where to look, the versions."""
    return (
        f"mockws relies on {relies_on}; that no longer holds with PyJWT {jwt.__version__} "
        f"(mockws was checked against {TESTED_PYJWT}.x): revisit {revisit} in the "
        f"'PyJWT internals' section of mockws/auth/jwt.py"
    )


def sign(claims: dict[str, Any], key: Any = SECRET, algorithm: str = "HS256") -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm)


def fresh(text: str) -> str:
    """An equal string that is a distinct object, so that identity checks mean something."""
    return "".join(list(text))


@pytest.fixture(scope="module")
def ec_pem() -> tuple[bytes, bytes]:
    """An EC P-256 key pair as (private PEM, public PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


class Recording(Algorithm):
    """Wraps an algorithm and records what PyJWS calls on it, and which attributes it reads."""

    def __init__(self, inner: Algorithm, length_message: str | None = None) -> None:
        self.inner = inner
        self.length_message = length_message
        self.calls: list[tuple[str, Any]] = []
        self.read: set[str] = set()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("__"):
            object.__getattribute__(self, "read").add(name)
        return object.__getattribute__(self, name)

    def prepare_key(self, key: Any) -> Any:
        prepared = self.inner.prepare_key(key)
        self.calls.append(("prepare_key", key))
        self.calls.append(("prepared", prepared))
        return prepared

    def check_key_length(self, key: Any) -> str | None:
        self.calls.append(("check_key_length", key))
        return self.length_message

    def sign(self, msg: bytes, key: Any) -> bytes:
        return self.inner.sign(msg, key)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        self.calls.append(("verify", key))
        return self.inner.verify(msg, key, sig)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError


def recording_decoder(name: str, inner: Algorithm, **options: Any) -> tuple[jwt.PyJWT, Recording]:
    """A PyJWT whose own PyJWS has ``name`` replaced by a Recording, as mockws replaces it."""
    decoder = jwt.PyJWT()
    jws = getattr(decoder, "_jws", None)
    assert isinstance(jws, jwt.PyJWS), broken(
        f"PyJWT() keeping its own PyJWS as the private attribute _jws (found {jws!r})",
        "_fixed_key_decoder",
    )
    recorder = Recording(inner, **options)
    jws.unregister_algorithm(name)
    jws.register_algorithm(name, recorder)
    return decoder, recorder


# The PyJWT contracts


def test_pyjwt_verifies_through_its_own_jws_and_leaves_the_global_one() -> None:
    """An algorithm registered on PyJWT()._jws verifies that instance's tokens, and only its."""
    token = sign({"sub": "a"})
    decoder, recorder = recording_decoder("HS256", HMACAlgorithm(HMACAlgorithm.SHA256))
    assert decoder.decode(token, SECRET, algorithms=["HS256"]) == {"sub": "a"}
    assert recorder.calls, broken(
        "PyJWT.decode verifying the signature through self._jws, the instance's own PyJWS",
        "_fixed_key_decoder",
    )
    assert not isinstance(jwt.get_algorithm_by_name("HS256"), Recording), broken(
        "PyJWT()._jws being an instance of its own, not the module-level PyJWS",
        "_fixed_key_decoder",
    )
    other = jwt.PyJWT()
    recorder.calls.clear()
    assert other.decode(token, SECRET, algorithms=["HS256"]) == {"sub": "a"}
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"sub": "a"}
    assert recorder.calls == [], broken(
        "an algorithm registered on one PyJWT()._jws not being used by another PyJWT or by "
        "jwt.decode",
        "_fixed_key_decoder",
    )


def test_register_algorithm_refuses_a_taken_name_until_unregistered() -> None:
    """PyJWS.register_algorithm refuses a registered name; after unregister_algorithm it takes."""
    jws = jwt.PyJWT()._jws
    replacement = HMACAlgorithm(HMACAlgorithm.SHA256)
    try:
        jws.register_algorithm("HS256", replacement)
    except ValueError:
        pass
    else:
        pytest.fail(
            broken(
                "PyJWS.register_algorithm refusing a name that is already registered, which is "
                "why mockws unregisters first",
                "_fixed_key_decoder",
            )
        )
    jws.unregister_algorithm("HS256")
    jws.register_algorithm("HS256", replacement)
    assert jws.get_algorithm_by_name("HS256") is replacement, broken(
        "unregister_algorithm then register_algorithm replacing the instance's algorithm",
        "_fixed_key_decoder",
    )
    assert "HS256" in jws.get_algorithms(), broken(
        "register_algorithm making the name valid again after unregister_algorithm",
        "_fixed_key_decoder",
    )


@pytest.mark.parametrize("algorithm", ["HS256", "ES256"])
def test_verification_calls_prepare_check_and_verify_with_the_keys_given(
    algorithm: str, ec_pem: tuple[bytes, bytes]
) -> None:
    """PyJWS passes decode's key object to prepare_key, and its result to the next two calls."""
    if algorithm == "HS256":
        inner: Algorithm = HMACAlgorithm(HMACAlgorithm.SHA256)
        signing_key: Any = SECRET
        key: Any = fresh(SECRET)
    else:
        inner = ECAlgorithm(ECAlgorithm.SHA256)
        signing_key = ec_pem[0]
        key = bytes(bytearray(ec_pem[1]))
    token = sign({"sub": "a"}, signing_key, algorithm)
    decoder, recorder = recording_decoder(algorithm, inner)
    recorder.read.clear()
    decoder.decode(token, key, algorithms=[algorithm])
    names = [name for name, _ in recorder.calls]
    assert names == ["prepare_key", "prepared", "check_key_length", "verify"], broken(
        f"PyJWS._verify_signature calling prepare_key, check_key_length and verify once each, "
        f"in that order (got {names})",
        "_FixedKey",
    )
    calls = dict(recorder.calls)
    assert calls["prepare_key"] is key, broken(
        "PyJWT.decode passing the very key object it was given on to prepare_key",
        "_FixedKey.prepare_key",
    )
    prepared = calls["prepared"]
    assert calls["check_key_length"] is prepared and calls["verify"] is prepared, broken(
        "PyJWS._verify_signature giving check_key_length and verify what prepare_key returned",
        "_FixedKey.check_key_length",
    )
    extra = recorder.read - {"prepare_key", "check_key_length", "verify"}
    extra -= {"inner", "length_message", "calls", "read"}  # Recording's own bookkeeping
    assert not extra, broken(
        f"PyJWS using nothing of an algorithm but prepare_key, check_key_length and verify "
        f"(it also read {sorted(extra)}), which is all _FixedKey forwards",
        "_FixedKey",
    )


def test_check_key_length_message_is_the_only_source_of_the_short_key_warning() -> None:
    """A check_key_length message becomes InsecureKeyLengthWarning; None means no warning."""
    token = sign({"sub": "a"}, SHORT_SECRET)
    for message, expected in (("too short", ["too short"]), (None, [])):
        decoder, _ = recording_decoder(
            "HS256", HMACAlgorithm(HMACAlgorithm.SHA256), length_message=message
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            decoder.decode(token, SHORT_SECRET, algorithms=["HS256"])
        warned = [
            str(w.message) for w in caught if issubclass(w.category, jwt.InsecureKeyLengthWarning)
        ]
        assert warned == expected, broken(
            f"PyJWS warning InsecureKeyLengthWarning exactly when check_key_length returns a "
            f"message (returned {message!r}, warned {warned})",
            "_FixedKey.check_key_length",
        )


def test_algorithm_abstract_methods_are_the_five_fixed_key_implements() -> None:
    """Algorithm's abstract methods are prepare_key, sign, verify, to_jwk and from_jwk."""
    expected = {"prepare_key", "sign", "verify", "to_jwk", "from_jwk"}
    assert set(Algorithm.__abstractmethods__) == expected, broken(
        f"jwt.algorithms.Algorithm's abstract methods being {sorted(expected)} "
        f"(they are {sorted(Algorithm.__abstractmethods__)})",
        "_FixedKey",
    )
    assert isinstance(jwt.get_algorithm_by_name("HS512"), HMACAlgorithm), broken(
        "HMAC algorithms being jwt.algorithms.HMACAlgorithm instances", "is_hmac"
    )


# JwtVerifier


def test_verifier_prepares_its_key_once_not_per_token(monkeypatch: pytest.MonkeyPatch) -> None:
    """After construction, verifying tokens never prepares or length-checks the key again."""
    tokens = [sign({"sub": f"user-{n}"}) for n in range(3)]
    prepared: list[Any] = []
    checked: list[Any] = []
    prepare, check = HMACAlgorithm.prepare_key, HMACAlgorithm.check_key_length

    def counting_prepare(self: HMACAlgorithm, key: Any) -> bytes:
        prepared.append(key)
        return prepare(self, key)

    def counting_check(self: HMACAlgorithm, key: bytes) -> str | None:
        checked.append(key)
        return check(self, key)

    monkeypatch.setattr(HMACAlgorithm, "prepare_key", counting_prepare)
    monkeypatch.setattr(HMACAlgorithm, "check_key_length", counting_check)
    verifier = JwtVerifier(JwtConfig(algorithms=("HS256", "HS512"), secret=fresh(SECRET)))
    assert prepared, "the verifier should prepare its key when it is built"
    prepared.clear()
    for n, token in enumerate(tokens):
        assert verifier.verify(token) == {"sub": f"user-{n}"}
    assert (prepared, checked) == ([], [])


def test_short_dev_secret_verifies_without_a_warning() -> None:
    """A secret below PyJWT's recommended length verifies tokens and warns nothing."""
    verifier = JwtVerifier(JwtConfig(algorithms=("HS256",), secret=SHORT_SECRET))
    token = sign({"sub": "dev"}, SHORT_SECRET)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert verifier.verify(token) == {"sub": "dev"}
    assert [str(w.message) for w in caught] == []


def test_verifiers_with_different_secrets_do_not_share_keys() -> None:
    """Two endpoints' verifiers each accept only their own tokens; jwt.decode is unaffected."""
    first = JwtVerifier(JwtConfig(algorithms=("HS256",), secret=SECRET))
    second = JwtVerifier(JwtConfig(algorithms=("HS256",), secret=SECRET[::-1]))
    token = sign({"sub": "a"})
    assert first.verify(token) == {"sub": "a"}
    with pytest.raises(jwt.InvalidSignatureError):
        second.verify(token)
    other = sign({"sub": "b"}, "another-secret-of-thirty-two-bytes!!")
    assert jwt.decode(other, "another-secret-of-thirty-two-bytes!!", algorithms=["HS256"]) == {
        "sub": "b"
    }
    assert type(jwt.get_algorithm_by_name("HS256")) is HMACAlgorithm


def test_verifier_accepts_each_listed_algorithm_and_no_other() -> None:
    """Every configured algorithm verifies; an unlisted one is refused, whatever the token says."""
    verifier = JwtVerifier(JwtConfig(algorithms=("HS256", "HS512"), secret=SECRET))
    for algorithm in ("HS256", "HS512"):
        assert verifier.verify(sign({"alg": algorithm}, algorithm=algorithm)) == {"alg": algorithm}
    with pytest.raises(jwt.InvalidAlgorithmError, match="not allowed"):
        verifier.verify(sign({"sub": "a"}, algorithm="HS384"))


def test_verifier_checks_audience_issuer_and_required_claims() -> None:
    """audience, issuer and required_claims are all enforced by verify."""
    settings = JwtConfig(
        algorithms=("HS256",), secret=SECRET, audience="app", issuer="me", required_claims=("exp",)
    )
    verifier = JwtVerifier(settings)
    good = {"sub": "a", "aud": "app", "iss": "me", "exp": int(time.time()) + 60}
    assert verifier.verify(sign(good)) == good
    for claims, error in [
        ({**good, "aud": "other"}, jwt.InvalidAudienceError),
        ({**good, "iss": "them"}, jwt.InvalidIssuerError),
        ({k: v for k, v in good.items() if k != "exp"}, jwt.MissingRequiredClaimError),
    ]:
        with pytest.raises(error):
            verifier.verify(sign(claims))


def test_verifier_with_a_public_key(tmp_path: Path, ec_pem: tuple[bytes, bytes]) -> None:
    """A public_key endpoint verifies its key pair's tokens and refuses another pair's."""
    public = tmp_path / "public.pem"
    public.write_bytes(ec_pem[1])
    verifier = JwtVerifier(JwtConfig(algorithms=("ES256",), public_key=public))
    assert verifier.verify(sign({"sub": "ec"}, ec_pem[0], "ES256")) == {"sub": "ec"}
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(sign({"sub": "ec"}, stranger, "ES256"))


def test_verifier_refuses_unusable_keys(tmp_path: Path) -> None:
    """No key, an unreadable key file and an unknown algorithm are AuthErrors that say why."""
    with pytest.raises(AuthError, match="give exactly one of 'secret' or 'public_key'"):
        JwtVerifier(JwtConfig(algorithms=("HS256",)))
    with pytest.raises(AuthError, match="cannot read the public key .*missing.pem"):
        JwtVerifier(JwtConfig(algorithms=("ES256",), public_key=tmp_path / "missing.pem"))
    with pytest.raises(AuthError, match="unsupported algorithm 'XS1'; supported: ES256") as caught:
        JwtVerifier(JwtConfig(algorithms=("XS1",), secret=SECRET))
    assert "none" not in str(caught.value).split("supported: ")[1].split(", ")


def test_is_hmac() -> None:
    """HS* algorithms sign with a shared secret; RS*, ES*, PS* and EdDSA do not."""
    assert [is_hmac(name) for name in ("HS256", "HS384", "HS512")] == [True] * 3
    assert [is_hmac(name) for name in ("RS256", "ES256", "PS256", "EdDSA")] == [False] * 4
    with pytest.raises(AuthError, match="unsupported algorithm 'HS1'"):
        is_hmac("HS1")


# sign_token


def test_sign_token_sets_iat_exp_audience_and_issuer() -> None:
    """iat is now, exp now + ttl, aud and iss come from the settings; claims may override them."""
    settings = JwtConfig(algorithms=("HS256",), secret=SECRET, audience="app", issuer="me")
    now = time.time()
    token = sign_token(settings, {"sub": "a"}, ttl=60, now=now)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="app")
    assert claims == {"iat": int(now), "exp": int(now) + 60, "aud": "app", "iss": "me", "sub": "a"}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    plain = sign_token(JwtConfig(algorithms=("HS256",), secret=SECRET), {"sub": "b"}, ttl=None)
    assert "exp" not in jwt.decode(plain, SECRET, algorithms=["HS256"])
    with pytest.raises(AuthError, match="would refuse this token: Audience doesn't match"):
        sign_token(settings, {"aud": "elsewhere"}, ttl=60)


def test_sign_token_refuses_a_token_the_endpoint_would_refuse() -> None:
    """A token that would be expired already, or lacks a required claim, is an AuthError."""
    settings = JwtConfig(algorithms=("HS256",), secret=SECRET, required_claims=("email",))
    with pytest.raises(AuthError, match="would refuse this token: Signature has expired"):
        sign_token(settings, {"email": "a@b"}, ttl=60, now=time.time() - 3600)
    with pytest.raises(AuthError, match='would refuse this token: .*"email"'):
        sign_token(settings, {"sub": "a"}, ttl=60)


def test_sign_token_chooses_a_configured_algorithm() -> None:
    """The first configured algorithm is the default; an unconfigured one is an AuthError."""
    settings = JwtConfig(algorithms=("HS512", "HS256"), secret=SECRET)
    assert jwt.get_unverified_header(sign_token(settings, {}, ttl=60))["alg"] == "HS512"
    chosen = sign_token(settings, {}, ttl=60, algorithm="HS256")
    assert jwt.get_unverified_header(chosen)["alg"] == "HS256"
    with pytest.raises(AuthError, match="HS384 is not configured .*accepts HS512, HS256"):
        sign_token(settings, {}, ttl=60, algorithm="HS384")


def test_sign_token_with_a_short_dev_secret_warns_nothing() -> None:
    """Signing with a short dev secret gives a valid token and no InsecureKeyLengthWarning."""
    settings = JwtConfig(algorithms=("HS256",), secret=SHORT_SECRET)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        token = sign_token(settings, {"sub": "dev"}, ttl=60)
    assert [str(w.message) for w in caught] == []
    assert JwtVerifier(settings).verify(token)["sub"] == "dev"


def test_sign_token_for_a_public_key_endpoint(tmp_path: Path, ec_pem: tuple[bytes, bytes]) -> None:
    """A public-key endpoint's token needs its private key file; HS* needs a secret it lacks."""
    public, private = tmp_path / "public.pem", tmp_path / "private.pem"
    public.write_bytes(ec_pem[1])
    private.write_bytes(ec_pem[0])
    settings = JwtConfig(algorithms=("ES256",), public_key=public)
    token = sign_token(settings, {"sub": "ec"}, ttl=60, private_key=private)
    assert JwtVerifier(settings).verify(token)["sub"] == "ec"
    with pytest.raises(AuthError, match="pass --private-key PATH"):
        sign_token(settings, {}, ttl=60)
    with pytest.raises(AuthError, match="cannot read the private key .*absent.pem"):
        sign_token(settings, {}, ttl=60, private_key=tmp_path / "absent.pem")
    mixed = JwtConfig(algorithms=("ES256", "HS256"), public_key=public)
    with pytest.raises(AuthError, match="HS256 needs the endpoint's secret, and it has a pub"):
        sign_token(mixed, {}, ttl=60, algorithm="HS256")


def test_sign_token_with_the_public_key_as_private_key(
    tmp_path: Path, ec_pem: tuple[bytes, bytes]
) -> None:
    """Passing the public PEM as the private key is an AuthError, not a crash."""
    public = tmp_path / "public.pem"
    public.write_bytes(ec_pem[1])
    settings = JwtConfig(algorithms=("ES256",), public_key=public)
    with pytest.raises(AuthError, match="cannot sign a ES256 token with that key"):
        sign_token(settings, {}, ttl=60, private_key=public)


# JwtAuthenticator


async def authenticate(settings: JwtConfig, **query: str) -> AuthResult:
    request = make_mocked_request("GET", "/secure?" + urlencode(query))
    return await JwtAuthenticator(settings)(request)


async def test_authenticator_reads_its_query_param() -> None:
    """The token comes from query_param; the claims become data and a string sub the user_id."""
    settings = JwtConfig(algorithms=("HS256",), secret=SECRET, query_param="access")
    authenticator = JwtAuthenticator(settings)
    assert (authenticator.name, authenticator.query_param) == ("jwt", "access")
    accepted = await authenticate(settings, access=sign({"sub": "ann", "role": "x"}))
    assert accepted == AuthResult(True, data={"sub": "ann", "role": "x"}, user_id="ann")
    anonymous = await authenticate(settings, access=sign({"role": "x"}))
    assert anonymous == AuthResult(True, data={"role": "x"}, user_id=None)
    assert await authenticate(settings, token=sign({"sub": "ann"})) == AuthResult(
        False, 4001, "No token provided"
    )


async def test_authenticator_refusal_reason_masks_the_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A verification error quoting the token is masked; an empty one is named by its type."""
    settings = JwtConfig(algorithms=("HS256",), secret=SECRET)
    token = sign({"sub": "ann"})
    errors = iter([jwt.InvalidTokenError(f"bad token {token}!"), jwt.ExpiredSignatureError()])

    def failing(self: JwtVerifier, given: str) -> dict[str, Any]:
        raise next(errors)

    monkeypatch.setattr(JwtVerifier, "verify", failing)
    masked = await authenticate(settings, token=token)
    assert masked == AuthResult(False, 4002, "Invalid token: bad token ***!")
    unnamed = await authenticate(settings, token=token)
    assert unnamed == AuthResult(False, 4002, "Invalid token: ExpiredSignatureError")


async def test_authenticator_refuses_a_non_string_subject() -> None:
    """A token whose sub is not a string is refused with 4002 (PyJWT's verify_sub)."""
    settings = JwtConfig(algorithms=("HS256",), secret=SECRET)
    refused = await authenticate(settings, token=sign({"sub": 42}))
    assert (refused.success, refused.code) == (False, 4002)
    assert refused.reason.startswith("Invalid token: ")
