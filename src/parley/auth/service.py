"""Auth use cases: each opens the unit of work, applies the rules and commits.

Slow password hashing always happens outside a database transaction, and write transactions
begin with their write, so SQLite never has to upgrade a stale read snapshot.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from parley.accounts.devices import device_signature
from parley.accounts.errors import EmailNotVerified, InvalidMfaCode, InvalidMfaToken
from parley.accounts.repository import KnownDeviceRepository, MfaChallengeRepository
from parley.accounts.service import DEVICE_MEMORY, SecondFactor, notice_if_new_device
from parley.audit.repository import AuditRepository
from parley.auth.errors import (
    InvalidAccessToken,
    InvalidCredentials,
    InvalidRefreshToken,
    InvalidResetToken,
    LoginSessionNotFound,
    RefreshTokenReused,
)
from parley.auth.repository import LoginRows, RefreshTokenRepository, ResetTokenRepository
from parley.core.clock import utcnow as utcnow  # the auth use cases' clock (hot_paths.py too)
from parley.core.config import Settings
from parley.core.errors import AccountDisabled, FieldError, RateLimited, ValidationFailed
from parley.core.ids import new_id
from parley.core.logging import security_event
from parley.core.mail import Mail
from parley.core.passwords import dummy_hash, hash_password, verify_password
from parley.core.ratelimit import Limiter
from parley.core.tokens import InvalidToken, TokenCodec, hash_opaque_token, new_opaque_token
from parley.db.engine import Database
from parley.db.fast import Driver, reading, transaction
from parley.db.session import begin_write
from parley.db.uow import UnitOfWork
from parley.jobs.mail import send_mail
from parley.logins.cache import AccessCache
from parley.logins.devices import MAX_USER_AGENT, device_name
from parley.logins.repository import LoginSessionRepository
from parley.models.accounts import MfaChallenge
from parley.models.user import LoginSession, RefreshToken, User
from parley.ops.metrics import LOGIN_ATTEMPTS
from parley.users.repository import UserRepository, email_key
from parley.users.service import check_new_password
from parley.users.verification import EmailVerification

# Two refreshes of one token this close together are a client racing itself, not theft.
REFRESH_REUSE_GRACE = timedelta(seconds=10)
RESET_TOKEN_LIFETIME = timedelta(hours=1)
MFA_TOKEN_LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user and the login session the access token belongs to; for an API
    key (`api_key`), `login_session_id` is the key's id, the access cache keeping both by id
    (decision 130). Whatever must stay live with the caller checks the one its kind names."""

    user: User
    login_session_id: UUID
    api_key: bool = False


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: UUID


@dataclass(frozen=True, slots=True)
class MfaRequired:
    """A correct password of an account with MFA on: the second step's single-use token."""

    mfa_token: str
    expires_in: int
    mfa_required: bool = True


class SecondStepRequired(Exception):
    """Raised instead of issuing an MfaRequired where no second step can follow (/auth/token)."""


async def authenticate_access(
    token: str, *, tokens: TokenCodec, database: Database, cache: AccessCache
) -> Principal:
    """Accept an access token only while its login session is live and its user active."""
    try:
        claims = tokens.decode(token)
    except InvalidToken:
        raise InvalidAccessToken from None
    user = cache.get(claims.login_session_id, claims.user_id)
    if user is None:

        async def read(epoch: int) -> User | None:
            now = utcnow()
            # A short session of its own: the request's session must start its transaction
            # fresh.
            async with database.sessions() as db:
                found = await LoginSessionRepository(db).get_live_with_user(
                    claims.login_session_id, user_id=claims.user_id, now=now
                )
            if found is None:
                return None
            login_session, user = found
            expires_in = (login_session.expires_at - now).total_seconds()
            cache.put(login_session.id, user, session_expires_in=expires_in, epoch=epoch)
            return user

        user = await cache.shared_read((claims.login_session_id, claims.user_id), read)
        if user is None:
            raise InvalidAccessToken
    return Principal(user=user, login_session_id=claims.login_session_id)


class AuthService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        settings: Settings,
        tokens: TokenCodec,
        login_failures: Limiter,
        cache: AccessCache,
        users: UserRepository | None = None,
        login_sessions: LoginSessionRepository | None = None,
        refresh_tokens: RefreshTokenRepository | None = None,
        reset_tokens: ResetTokenRepository | None = None,
        audit: AuditRepository | None = None,
        devices: KnownDeviceRepository | None = None,
        database: Database | None = None,
    ) -> None:
        """Repositories default to SQL ones on the unit of work's session; tests pass fakes.
        With `database`, a sign-in from a known device takes the lean path."""
        self.uow = uow
        self.database = database
        self.cache = cache
        self.settings = settings
        self.tokens = tokens
        self.login_failures = login_failures
        self.users = users or UserRepository(uow.session)
        self.login_sessions = login_sessions or LoginSessionRepository(uow.session)
        self.refresh_tokens = refresh_tokens or RefreshTokenRepository(uow.session)
        self.reset_tokens = reset_tokens or ResetTokenRepository(uow.session)
        self.audit = audit or AuditRepository(uow.session)
        self.devices = devices or KnownDeviceRepository(uow.session)

    async def login(
        self, email: str, password: str, *, client: ClientInfo, second_step: bool = True
    ) -> IssuedTokens | MfaRequired:
        """Check the credentials (throttled per IP and per account) and open a login session,
        or, with MFA on, answer the token of the second step (`second_step=False`: refuse)."""
        budgets = [("ip", client.ip_address or "unknown"), ("account", email_key(email))]
        await self._ensure_within_budget(budgets)
        user = await self._account(email)
        stored = user.password_hash if user else await dummy_hash(self.settings.bcrypt_rounds)
        if not await verify_password(password, stored) or user is None:
            for budget in budgets:
                await self.login_failures.hit(*budget)
            LOGIN_ATTEMPTS.labels("invalid_credentials").inc()
            security_event("login_failed", ip=client.ip_address, known_account=user is not None)
            await self._record_failed_login(user.id if user else None, reason="invalid_credentials")
            raise InvalidCredentials
        if not user.is_active:
            LOGIN_ATTEMPTS.labels("account_disabled").inc()
            raise AccountDisabled
        if self.settings.require_email_verification and not user.email_verified:
            LOGIN_ATTEMPTS.labels("email_not_verified").inc()
            await self._resend_verification(user)
            raise EmailNotVerified
        if user.mfa_enabled:
            if not second_step:
                raise SecondStepRequired
            return await self._issue_mfa_challenge(user)
        issued = await self._open_login_session(user, client)
        LOGIN_ATTEMPTS.labels("success").inc()
        return issued

    async def _account(self, email: str) -> User | None:
        if self.database is None:
            async with self.uow:
                return await self.users.get_by_email(email)
        async with reading(self.database) as conn:
            return await LoginRows(conn, conn.dialect).account(email_key(email))

    async def complete_mfa(self, mfa_token: str, code: str, *, client: ClientInfo) -> IssuedTokens:
        """The second step of a sign-in with MFA: a TOTP code, or an unused recovery code."""
        ip_budget = ("ip", client.ip_address or "unknown")
        await self._ensure_within_budget([ip_budget])
        now = utcnow()
        challenges = MfaChallengeRepository(self.uow.session)
        async with self.uow:
            challenge = await challenges.find_live(hash_opaque_token(mfa_token), now=now)
            user = await self.users.get(challenge.user_id) if challenge else None
        if challenge is None or user is None or not user.is_active:
            await self.login_failures.hit(*ip_budget)
            raise InvalidMfaToken
        user_id, budgets = user.id, [ip_budget, ("account", user.email_key)]
        await self._ensure_within_budget(budgets)
        async with self.uow:
            await begin_write(self.uow.session)
            factor = await SecondFactor(self.uow.session, settings=self.settings).check(
                user_id, code, now=now
            )
            if factor is None:
                await self.uow.rollback()  # expires `user`: only user_id is read below
                for budget in budgets:
                    await self.login_failures.hit(*budget)
                LOGIN_ATTEMPTS.labels("invalid_mfa_code").inc()
                await self._record_failed_login(user_id, reason="invalid_mfa_code")
                raise InvalidMfaCode
            if not await challenges.claim(challenge.id, now=now):
                raise InvalidMfaToken  # a concurrent request used it first
            issued = await self._add_login_session(user, client, now, factor=factor)
            await self.uow.commit()
        LOGIN_ATTEMPTS.labels("success").inc()
        return issued

    async def _issue_mfa_challenge(self, user: User) -> MfaRequired:
        token = new_opaque_token()
        now = utcnow()
        async with self.uow:
            MfaChallengeRepository(self.uow.session).add(
                MfaChallenge(
                    user_id=user.id,
                    token_hash=hash_opaque_token(token),
                    created_at=now,
                    expires_at=now + MFA_TOKEN_LIFETIME,
                )
            )
            await self.uow.commit()
        return MfaRequired(token, int(MFA_TOKEN_LIFETIME.total_seconds()))

    async def _resend_verification(self, user: User) -> None:
        """Mail an unverified account a fresh link: without it, it could never sign in."""
        async with self.uow:
            await begin_write(self.uow.session)
            EmailVerification(self.uow, settings=self.settings).send_link(
                user.id, user.email, email_key=user.email_key
            )
            await self.uow.commit()

    async def _record_failed_login(self, user_id: UUID | None, *, reason: str) -> None:
        """A failed sign-in is recorded in a transaction of its own (nothing else changes)."""
        async with self.uow:
            self.audit.record(
                "auth.login_failed",
                actor_id=None,
                target_type="user" if user_id else None,
                target_id=user_id,
                details={"reason": reason},
            )
            await self.uow.commit()

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Rotate a refresh token; a reused one revokes its whole login session."""
        token_hash = hash_opaque_token(refresh_token)
        now = utcnow()
        async with self.uow:
            claimed = await self.refresh_tokens.claim(token_hash, now=now)
            found = await self.refresh_tokens.find(token_hash)
            if found is None:
                raise InvalidRefreshToken
            token, login_session, user = found
            if not claimed:
                await self._on_unclaimable(token, login_session, now)
                raise InvalidRefreshToken
            if login_session.revoked_at is not None or login_session.expires_at <= now:
                raise InvalidRefreshToken
            if not user.is_active:
                raise InvalidRefreshToken
            issued = self._issue(user, login_session.id, now)
            await self.login_sessions.touch(
                login_session.id, now=now, expires_at=self._refresh_expiry(now)
            )
            await self.uow.commit()
        return issued

    async def _on_unclaimable(
        self, token: RefreshToken, login_session: LoginSession, now: datetime
    ) -> None:
        """Revoke the login session when a rotated token comes back after the grace window."""
        if token.used_at is None or now - token.used_at <= REFRESH_REUSE_GRACE:
            return  # expired, or a client refreshing twice at once: refused, not punished
        if login_session.revoked_at is None:
            await self.login_sessions.revoke(
                login_session.id, user_id=login_session.user_id, now=now
            )
            self._forget_after_commit(login_session.user_id)
            self.audit.record(
                "auth.refresh_reused",
                actor_id=None,
                target_type="user",
                target_id=login_session.user_id,
                details={"login_session_id": str(login_session.id)},
            )
            # The revocation must survive the 401 that follows: commit it on its own first.
            await self.uow.commit()
        security_event(
            "refresh_token_reused",
            user_id=str(login_session.user_id),
            session_id=str(login_session.id),
        )
        raise RefreshTokenReused

    async def logout(self, principal: Principal) -> None:
        """Revoke the caller's current login session."""
        await self.revoke_login_session(
            principal.login_session_id, user_id=principal.user.id, action="auth.logout"
        )

    async def logout_all(self, user_id: UUID) -> int:
        """Revoke every login session of the user; return how many were live."""
        async with self.uow:
            revoked = await self.login_sessions.revoke_all(user_id, now=utcnow())
            self.audit.record(
                "auth.logout",
                actor_id=user_id,
                target_type="user",
                target_id=user_id,
                details={"all_sessions": True, "revoked": len(revoked)},
            )
            self._forget_after_commit(user_id)
            await self.uow.commit()
        security_event("login_sessions_revoked", user_id=str(user_id), count=len(revoked))
        return len(revoked)

    async def list_login_sessions(
        self, user_id: UUID, *, limit: int, before: UUID | None
    ) -> list[LoginSession]:
        async with self.uow:
            return await self.login_sessions.list_live(
                user_id, now=utcnow(), limit=limit, before=before
            )

    async def revoke_login_session(
        self, login_session_id: UUID, *, user_id: UUID, action: str = "auth.session_revoked"
    ) -> None:
        """Revoke one of the user's live login sessions; another user's is not found."""
        async with self.uow:
            if not await self.login_sessions.revoke(
                login_session_id, user_id=user_id, now=utcnow()
            ):
                raise LoginSessionNotFound
            self.audit.record(
                action, actor_id=user_id, target_type="login_session", target_id=login_session_id
            )
            self._forget_after_commit(user_id)
            await self.uow.commit()
        security_event(
            "login_session_revoked", user_id=str(user_id), session_id=str(login_session_id)
        )

    async def change_password(
        self, principal: Principal, *, current_password: str, new_password: str
    ) -> None:
        """Change the password after checking the current one; other login sessions end."""
        user = principal.user
        budget = ("account", user.email_key)
        await self._ensure_within_budget([budget])
        if not await verify_password(current_password, user.password_hash):
            await self.login_failures.hit(*budget)
            raise ValidationFailed(
                "Current password is incorrect",
                details=[FieldError("body.current_password", "is incorrect")],
            )
        check_new_password(new_password, "body.new_password")
        new_hash = await hash_password(new_password, self.settings.bcrypt_rounds)
        async with self.uow:
            await self.login_sessions.revoke_all(
                user.id, now=utcnow(), keep=principal.login_session_id
            )
            await self._set_password(user.id, new_hash)
            self.audit.record(
                "auth.password_changed", actor_id=user.id, target_type="user", target_id=user.id
            )
            self._forget_after_commit(user.id)
            await self.uow.commit()

    async def forgot_password(self, email: str) -> None:
        """Mail a single-use reset link when an active account has this email; say nothing."""
        token = new_opaque_token()
        now = utcnow()
        async with self.uow:
            address = await self.reset_tokens.issue(
                email_key(email),
                token_hash=hash_opaque_token(token),
                now=now,
                expires_at=now + RESET_TOKEN_LIFETIME,
            )
            if address is None:
                return
            # A job: the answer takes as long whether or not the account exists.
            send_mail(self.uow, self._reset_mail(address, token), settings=self.settings)
            await self.uow.commit()

    def _reset_mail(self, address: str, token: str) -> Mail:
        link = f"{self.settings.public_base_url}/reset-password?token={token}"
        return Mail(
            to=address,
            subject="Reset your Parley password",
            body=(
                "Someone asked to reset the password of your Parley account.\n\n"
                f"To choose a new password, open this link within an hour:\n{link}\n\n"
                "If it was not you, ignore this message; your password stays as it is.\n"
            ),
        )

    async def reset_password(self, token: str, new_password: str) -> None:
        """Set a new password with a reset token (single use); every login session ends."""
        check_new_password(new_password, "body.new_password")
        new_hash = await hash_password(new_password, self.settings.bcrypt_rounds)
        now = utcnow()
        async with self.uow:
            user_id = await self.reset_tokens.claim(hash_opaque_token(token), now=now)
            if user_id is None:
                raise InvalidResetToken
            await self.reset_tokens.use_up_all(user_id, now=now)
            await self.login_sessions.revoke_all(user_id, now=now)
            await self._set_password(user_id, new_hash)
            self.audit.record(
                "auth.password_reset", actor_id=user_id, target_type="user", target_id=user_id
            )
            self._forget_after_commit(user_id)
            await self.uow.commit()
        security_event("password_reset", user_id=str(user_id))

    def _forget_after_commit(self, user_id: UUID) -> None:
        self.uow.after_commit(lambda: self.cache.invalidate_user(user_id))

    async def _set_password(self, user_id: UUID, password_hash: str) -> None:
        user = await self.users.get(user_id)
        if user is None:
            raise InvalidResetToken
        user.password_hash = password_hash

    async def _ensure_within_budget(self, budgets: list[tuple[str, str]]) -> None:
        for budget in budgets:
            verdict = await self.login_failures.test(*budget)
            if not verdict.allowed:
                LOGIN_ATTEMPTS.labels("rate_limited").inc()
                security_event("login_throttled", budget=budget[0])
                raise RateLimited(
                    "Too many failed attempts; try again later", retry_after=verdict.reset_after
                )

    async def _open_login_session(self, user: User, client: ClientInfo) -> IssuedTokens:
        now = utcnow()
        if self.database is not None and user.has_signed_in:
            issued = await self._open_on_known_device(self.database, user, client, now)
            if issued is not None:
                return issued
        async with self.uow:
            await begin_write(self.uow.session)
            issued = await self._add_login_session(user, client, now)
            await self.uow.commit()
        return issued

    async def _open_on_known_device(
        self, database: Database, user: User, client: ClientInfo, now: datetime
    ) -> IssuedTokens | None:
        """The everyday sign-in on the lean path (decision 198): an account that signed in
        before, from a device it used in the last 90 days, so no notice goes out. The same
        rows as `_add_login_session`, with no ORM work on the event loop; None when the
        device is new or forgotten (nothing written: the full path takes it from there)."""
        user_agent = client.user_agent[:MAX_USER_AGENT] if client.user_agent else None
        session_id, refresh_token = new_id(), new_opaque_token()

        async def open_session(conn: Driver) -> bool:
            return await LoginRows(conn, conn.dialect).open_on_known_device(
                user.id,
                device_signature(user_agent, client.ip_address),
                seen_since=now - DEVICE_MEMORY,
                session_id=session_id,
                user_agent=user_agent,
                ip_address=client.ip_address,
                device_name=device_name(user_agent),
                now=now,
                expires_at=self._refresh_expiry(now),
                token_hash=hash_opaque_token(refresh_token),
            )

        if not await transaction(database, open_session):
            return None
        return self._tokens(user, session_id, refresh_token)

    async def _add_login_session(
        self, user: User, client: ClientInfo, now: datetime, *, factor: str | None = None
    ) -> IssuedTokens:
        """Open a login session in the current transaction: recorded, and a device not seen
        lately mailed to the account's holder."""
        user_agent = client.user_agent[:MAX_USER_AGENT] if client.user_agent else None
        await notice_if_new_device(
            self.uow,
            devices=self.devices,
            users=self.users,
            settings=self.settings,
            user=user,
            user_agent=user_agent,
            ip_address=client.ip_address,
            now=now,
        )
        login_session = self.login_sessions.add(
            LoginSession(
                user_id=user.id,
                user_agent=user_agent,
                ip_address=client.ip_address,
                device=device_name(user_agent),
                created_at=now,
                last_used_at=now,
                expires_at=self._refresh_expiry(now),
            )
        )
        await self.login_sessions.flush()
        self.audit.record(
            "auth.login",
            actor_id=user.id,
            target_type="login_session",
            target_id=login_session.id,
            details={"second_factor": factor} if factor else None,
        )
        return self._issue(user, login_session.id, now)

    def _issue(self, user: User, login_session_id: UUID, now: datetime) -> IssuedTokens:
        """Issue an access token and a new refresh token (added to the transaction)."""
        refresh_token = new_opaque_token()
        self.refresh_tokens.add(
            RefreshToken(
                login_session_id=login_session_id,
                token_hash=hash_opaque_token(refresh_token),
                created_at=now,
                expires_at=self._refresh_expiry(now),
            )
        )
        return self._tokens(user, login_session_id, refresh_token)

    def _tokens(self, user: User, login_session_id: UUID, refresh_token: str) -> IssuedTokens:
        access_token = self.tokens.issue(
            user_id=user.id, login_session_id=login_session_id, role=user.role
        )
        return IssuedTokens(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.tokens.lifetime_seconds,
            session_id=login_session_id,
        )

    def _refresh_expiry(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.refresh_token_expires_in)
