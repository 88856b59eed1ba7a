"""Access tokens (JWT) and opaque secrets stored only as hashes."""

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import jwt

from parley.core.clock import utcnow
from parley.core.ids import new_id

ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a token type, not a secret


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: UUID
    login_session_id: UUID
    role: str
    expires_at: datetime


class InvalidToken(Exception):
    """The token is malformed, forged, expired or of the wrong kind."""


# Verified tokens remembered per process: a client sends the same access token on every
# request for its whole lifetime, and every request would otherwise verify it (twice: the
# rate limiter and the auth dependency both need the claims).
VERIFIED_TOKENS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class TokenCodec:
    secret: str
    algorithm: str
    lifetime_seconds: int
    _verified: dict[str, AccessClaims] = field(default_factory=dict, compare=False, repr=False)

    def issue(self, *, user_id: UUID, login_session_id: UUID, role: str) -> str:
        now = utcnow()
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "sid": str(login_session_id),
            "role": role,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.lifetime_seconds)).timestamp()),
            "jti": str(new_id()),
            "typ": ACCESS_TOKEN_TYPE,
        }
        return jwt.encode(claims, self.secret, algorithm=self.algorithm)

    def decode(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, expiry and type; raise InvalidToken otherwise."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at > utcnow():
                return claims
            del self._verified[token]
            raise InvalidToken("expired")
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[self.algorithm],
                options={"require": ["sub", "sid", "exp", "iat", "typ"]},
            )
            if claims["typ"] != ACCESS_TOKEN_TYPE:
                raise InvalidToken("not an access token")
            return AccessClaims(
                user_id=UUID(claims["sub"]),
                login_session_id=UUID(claims["sid"]),
                role=str(claims.get("role", "")),
                expires_at=datetime.fromtimestamp(claims["exp"], tz=utcnow().tzinfo),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_opaque_token() -> str:
    """Return a random URL-safe secret of 256 bits."""
    return secrets.token_urlsafe(32)


def hash_opaque_token(token: str) -> str:
    """Return the SHA-256 under which an opaque token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()
