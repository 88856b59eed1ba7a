"""`POST /auth/refresh` on the lean path (db/fast.py): the same rotation as AuthService.refresh,
answered as the response bytes, in as few round trips as each database allows.

PostgreSQL: one statement, which is its own transaction (claim, new token, sliding expiry and
`last_used_at`, or the revocation of a reused token's login session). SQLite: in the process's
writer turn, in one call to its writer thread: BEGIN IMMEDIATE, the read, the writes, COMMIT.
MariaDB: the read, the token's row locked by its primary key, the writes, COMMIT. A reuse past
the grace window commits the revocation before the 401 that follows, then forgets the user's
cached sessions.
"""

from datetime import timedelta
from uuid import UUID

from parley.auth import service as auth_service
from parley.auth.errors import InvalidRefreshToken, RefreshTokenReused
from parley.auth.repository import RefreshOutcome, RefreshRows
from parley.core.ids import new_id
from parley.core.logging import security_event
from parley.core.tokens import TokenCodec, hash_opaque_token, new_opaque_token
from parley.db.engine import Database
from parley.db.fast import Driver, envelope, transaction
from parley.logins.cache import AccessCache


class AuthHotPaths:
    def __init__(
        self,
        database: Database,
        *,
        tokens: TokenCodec,
        cache: AccessCache,
        refresh_expires_in: int,
    ) -> None:
        self.database = database
        self.tokens = tokens
        self.cache = cache
        self.refresh_lifetime = timedelta(seconds=refresh_expires_in)

    async def refresh(self, refresh_token: str) -> bytes:
        """Rotate a refresh token; a reused one revokes its whole login session."""
        # The auth use cases' one clock, read where both paths read it (tests move it there).
        now = auth_service.utcnow()
        reuse_before = now - auth_service.REFRESH_REUSE_GRACE
        new_token = new_opaque_token()

        async def rotate(conn: Driver) -> tuple[RefreshOutcome, UUID, str, bool, bool]:
            rows = RefreshRows(conn, conn.dialect)
            found = await rows.refresh(
                hash_opaque_token(refresh_token),
                now=now,
                reuse_before=reuse_before,
                new_id=new_id(),
                new_hash=hash_opaque_token(new_token),
                expires_at=now + self.refresh_lifetime,
            )
            if found is None:
                raise InvalidRefreshToken
            user_id = UUID(conn.uuid_text(found.user_id))
            session_id = conn.uuid_text(found.login_session_id)
            reused = found.used_at is not None and conn.time_value(found.used_at) < reuse_before
            if not found.claimed and not reused:
                raise InvalidRefreshToken  # expired, revoked, disabled, or a racing twin
            revoked = reused and found.unrevoked
            if revoked:
                await rows.record_reuse(login_session_id=UUID(session_id), user_id=user_id, now=now)
            # Committed when this returns: the rotation, or the revocation that must survive
            # the 401 that follows.
            return found, user_id, session_id, reused, revoked

        found, user_id, session_id, reused, revoked = await transaction(self.database, rotate)
        if revoked:
            await self.cache.invalidate_user(user_id)
        if reused:
            security_event("refresh_token_reused", user_id=str(user_id), session_id=session_id)
            raise RefreshTokenReused
        access_token = self.tokens.issue(
            user_id=user_id, login_session_id=UUID(session_id), role=found.role
        )
        return envelope(
            "Tokens refreshed",
            {
                "access_token": access_token,
                "refresh_token": new_token,
                "token_type": "bearer",
                "expires_in": self.tokens.lifetime_seconds,
                "session_id": session_id,
            },
        )
