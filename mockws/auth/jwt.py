"""Built-in JWT authentication: verify a query-string token, and sign one.

Verification accepts only the endpoint's configured ``algorithms``, never the
one a token names, so neither an ``alg: none`` token nor an HMAC token signed
with a published RSA public key can pass.

Verifying leans on a few parts of PyJWT that are not its documented API, to
prepare each endpoint's key once rather than at every handshake; they are
gathered in one marked section below, each naming the PyJWT source it relies
on, with contract tests in ``tests/auth/test_jwt.py``.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from jwt.algorithms import Algorithm, HMACAlgorithm

from ..config.model import JwtConfig
from ..errors import AuthError
from ..observe.redact import MASK
from ..wire.close import CloseCode
from .base import Authenticator, AuthResult

__all__ = ["JwtAuthenticator", "JwtVerifier", "is_hmac", "sign_token"]


@contextlib.contextmanager
def _short_keys_allowed() -> Iterator[None]:
    # A mock's HMAC secret is a shared dev value like "dev-secret"; PyJWT's
    # advice to use 32 bytes would only add a warning to every connection.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


def is_hmac(algorithm: str) -> bool:
    """Tell whether ``algorithm`` (``HS256``...) signs with a shared secret."""
    return isinstance(_algorithm(algorithm), HMACAlgorithm)


def _algorithm(name: str) -> jwt.algorithms.Algorithm:
    try:
        return jwt.get_algorithm_by_name(name)
    except NotImplementedError:
        supported = ", ".join(sorted(jwt.algorithms.get_default_algorithms().keys() - {"none"}))
        raise AuthError(f"unsupported algorithm {name!r}; supported: {supported}") from None


def _read_pem(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AuthError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _verification_key(settings: JwtConfig) -> str | bytes:
    """Return the key that verifies tokens, checked against every algorithm."""
    if settings.public_key is not None:
        key: str | bytes = _read_pem(settings.public_key, "public key")
        what = f"public_key {settings.public_key.name}"
    elif settings.secret is not None:
        key, what = settings.secret, "secret"
    else:
        raise AuthError("give exactly one of 'secret' or 'public_key'")
    for name in settings.algorithms:
        algorithm = _algorithm(name)
        try:
            prepared = algorithm.prepare_key(key)
        except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
            raise AuthError(f"the {what} cannot verify {name} tokens: {exc}") from None
        if hasattr(prepared, "private_bytes"):
            raise AuthError(
                f"the {what} is a private key; give its public half "
                "(openssl pkey -in private.pem -pubout -out public.pem)"
            )
    return key


# --- PyJWT internals: every reliance of mockws on them, and nothing else -------------
#
# Read against PyJWT 2.15; tests/auth/test_jwt.py has a contract test for each
# point below that fails naming ``jwt.__version__`` and the code to revisit.
#
# 1. jwt/api_jwt.py ``PyJWT.__init__`` builds its own ``PyJWS`` as the private
#    attribute ``_jws``, and ``PyJWT.decode`` -> ``decode_complete`` verifies the
#    signature through ``self._jws.decode_complete``, passing the caller's key
#    object on unchanged.
# 2. jwt/api_jws.py ``PyJWS.register_algorithm`` refuses a name that is already
#    registered (hence ``unregister_algorithm`` first); both change only that
#    instance's table, never the module-level ``jwt.encode`` / ``jwt.decode``.
# 3. jwt/api_jws.py ``PyJWS.decode_complete`` -> ``_verify_signature``, once the
#    token's ``alg`` is among ``algorithms``, takes the algorithm object from
#    that instance's table (``get_algorithm_by_name``) and calls only
#    ``prepare_key(key)`` with the very key object given to decode, then
#    ``check_key_length(prepared)`` with what ``prepare_key`` returned (a message
#    becomes an ``InsecureKeyLengthWarning``), then ``verify(signing_input,
#    prepared, signature)``. :class:`_FixedKey` answers the first two from what
#    it prepared once, recognising the endpoint's key and prepared key by identity.
# 4. jwt/algorithms.py ``Algorithm``'s abstract methods are ``prepare_key``,
#    ``sign``, ``verify``, ``to_jwk`` and ``from_jwk``: :class:`_FixedKey`
#    implements exactly those.


class _FixedKey(Algorithm):
    """One algorithm whose verification key is prepared and length-checked once.

    PyJWT prepares (and, for HMAC, re-parses as PEM, DER and JSON) the key
    and checks its length on every decode: most of a handshake's cost.
    """

    def __init__(self, algorithm: Algorithm, key: str | bytes) -> None:
        self._algorithm = algorithm
        self._key = key
        with _short_keys_allowed():
            self._prepared = algorithm.prepare_key(key)

    def prepare_key(self, key: Any) -> Any:
        """Return the prepared key for the endpoint's key, else prepare ``key``."""
        return self._prepared if key is self._key else self._algorithm.prepare_key(key)

    def check_key_length(self, key: Any) -> str | None:
        """Accept the endpoint's key: a mock's short dev secret is allowed on purpose."""
        return None if key is self._prepared else self._algorithm.check_key_length(key)

    def sign(self, msg: bytes, key: Any) -> bytes:
        """Sign with the wrapped algorithm."""
        return self._algorithm.sign(msg, key)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        """Verify with the wrapped algorithm."""
        return self._algorithm.verify(msg, key, sig)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        """Not used: verification keys come from the config, never from JWKs."""
        raise NotImplementedError

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        """Not used: verification keys come from the config, never from JWKs."""
        raise NotImplementedError


def _fixed_key_decoder(
    required_claims: tuple[str, ...], algorithms: tuple[str, ...], key: str | bytes
) -> jwt.PyJWT:
    """Return a decoder whose ``algorithms`` use ``key`` prepared once (points 1 to 3 above)."""
    decoder = jwt.PyJWT({"require": list(required_claims)})
    jws = decoder._jws
    for name in algorithms:
        fixed = _FixedKey(_algorithm(name), key)
        jws.unregister_algorithm(name)
        jws.register_algorithm(name, fixed)
    return decoder


# --- end of the PyJWT internals -----------------------------------------------------


class JwtVerifier:
    """Verifies tokens against one endpoint's JWT settings.

    Args:
        settings: The endpoint's ``authenticate.jwt`` settings.

    Raises:
        AuthError: The key cannot be read, is unusable for an algorithm, or
            an algorithm is unknown.
    """

    def __init__(self, settings: JwtConfig) -> None:
        self.settings = settings
        self._key = _verification_key(settings)
        # Everything but the token is fixed per endpoint: build it once.
        self._jwt = _fixed_key_decoder(settings.required_claims, settings.algorithms, self._key)
        self._algorithms = list(settings.algorithms)

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of ``token`` once its signature and claims check out.

        Raises:
            jwt.InvalidTokenError: The token is malformed, signed with another
                key or algorithm, expired, not yet valid, for another audience
                or issuer, or lacks a required claim.
        """
        settings = self.settings
        claims: dict[str, Any] = self._jwt.decode(
            token,
            self._key,
            algorithms=self._algorithms,
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway,
        )
        return claims


def sign_token(
    settings: JwtConfig,
    claims: Mapping[str, Any],
    *,
    ttl: float | None,
    private_key: Path | None = None,
    algorithm: str | None = None,
    now: float | None = None,
) -> str:
    """Return a token that the endpoint with ``settings`` accepts.

    ``iat`` is set to now, ``exp`` to now + ``ttl`` (none when ``ttl`` is
    None), and ``aud`` and ``iss`` to the configured audience and issuer
    unless ``claims`` gives them. The token is verified with the endpoint's
    own settings before it is returned.

    Args:
        settings: The endpoint's JWT settings.
        claims: Claims to include, such as ``sub``.
        ttl: Seconds until the token expires; None for no ``exp``.
        private_key: PEM file that signs, required for public-key endpoints.
        algorithm: One of the configured algorithms; default the first.
        now: The issue time (seconds since the epoch); default the clock.

    Raises:
        AuthError: No signing key is available, the algorithm is not
            configured, or the endpoint would refuse the token (a required
            claim is missing, say).
    """
    algorithm = algorithm or settings.algorithms[0]
    if algorithm not in settings.algorithms:
        raise AuthError(
            f"algorithm {algorithm} is not configured for this endpoint "
            f"(it accepts {', '.join(settings.algorithms)})"
        )
    key: str | bytes
    if is_hmac(algorithm):
        if settings.secret is None:
            raise AuthError(f"{algorithm} needs the endpoint's secret, and it has a public_key")
        key = settings.secret
    elif private_key is None:
        raise AuthError(
            "this endpoint verifies with a public_key, so a token must be signed with the "
            "matching private key: pass --private-key PATH (a PEM file)"
        )
    else:
        key = _read_pem(private_key, "private key")
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"iat": issued}
    if ttl is not None:
        payload["exp"] = issued + int(ttl)
    if settings.audience is not None:
        payload["aud"] = settings.audience
    if settings.issuer is not None:
        payload["iss"] = settings.issuer
    payload.update(claims)
    try:
        with _short_keys_allowed():
            token = jwt.encode(payload, key, algorithm=algorithm)
    except (jwt.InvalidKeyError, ValueError, TypeError) as exc:
        raise AuthError(f"cannot sign a {algorithm} token with that key: {exc}") from None
    except AttributeError:
        # PyJWT loads a public PEM as a public key object, then calls its missing .sign().
        raise AuthError(
            f"cannot sign a {algorithm} token with that key: it is a public key, "
            "and signing needs the private key"
        ) from None
    try:
        JwtVerifier(settings).verify(token)
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"the endpoint would refuse this token: {exc}") from None
    return token


class JwtAuthenticator(Authenticator):
    """Built-in JWT: the token comes from the ``query_param`` of the URL.

    Args:
        settings: The endpoint's ``authenticate.jwt`` settings.

    Raises:
        AuthError: The settings' key or algorithms are unusable.
    """

    name = "jwt"

    def __init__(self, settings: JwtConfig) -> None:
        self._verifier = JwtVerifier(settings)
        self.query_param = settings.query_param

    async def __call__(self, request: web.Request) -> AuthResult:
        """Accept a valid token (4001 without one, 4002 for an invalid one)."""
        assert self.query_param is not None
        return self.check(request.query.get(self.query_param, ""))

    async def with_payload(self, request: web.Request, payload: Any) -> AuthResult:
        """Read the token from the ``auth`` payload's ``query_param`` key, else from the URL."""
        assert self.query_param is not None
        token = payload.get(self.query_param) if isinstance(payload, Mapping) else None
        if not isinstance(token, str) or not token:
            token = request.query.get(self.query_param, "")
        return self.check(token)

    def check(self, token: str) -> AuthResult:
        """Accept ``token`` if it verifies (4001 when empty, 4002 when invalid)."""
        if not token:
            return AuthResult(False, CloseCode.NO_TOKEN, "No token provided")
        try:
            claims = self._verifier.verify(token)
        except jwt.InvalidTokenError as exc:
            # PyJWT's messages do not quote the token; mask it in case one ever does.
            why = str(exc).replace(token, MASK) or type(exc).__name__
            return AuthResult(False, CloseCode.INVALID_TOKEN, f"Invalid token: {why}")
        subject = claims.get("sub")
        return AuthResult(True, data=claims, user_id=subject if isinstance(subject, str) else None)
