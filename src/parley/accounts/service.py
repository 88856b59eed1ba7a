"""Accounts use cases: email verification, two-factor setup and the checks sign-in borrows
(second factor, new-device notice). Each use case opens the unit of work and commits; the
helpers work inside the caller's transaction."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts.devices import device_signature
from parley.accounts.errors import (
    InvalidMfaCode,
    InvalidVerificationToken,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaSetupNotStarted,
)
from parley.accounts.mail import new_device_notice
from parley.accounts.repository import (
    KnownDeviceRepository,
    MfaChallengeRepository,
    RecoveryCodeRepository,
    TotpRepository,
)
from parley.accounts.totp import (
    hash_recovery_code,
    looks_like_totp,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
)
from parley.audit.repository import AuditRepository
from parley.core.clock import utcnow
from parley.core.config import Settings
from parley.core.encryption import SecretBox, UnreadableSecret
from parley.core.errors import FieldError, RateLimited, ValidationFailed
from parley.core.passwords import verify_password
from parley.core.ratelimit import Limiter
from parley.core.tokens import hash_opaque_token
from parley.db.engine import Database
from parley.db.session import begin_write
from parley.db.uow import UnitOfWork
from parley.jobs.mail import send_mail
from parley.logins.cache import AccessCache
from parley.logins.devices import device_name
from parley.models.accounts import TotpCredential
from parley.models.user import User
from parley.users.repository import EmailVerificationRepository, UserRepository
from parley.users.verification import EmailVerification

# A sign-in from a device not seen on the account for this long mails its holder.
DEVICE_MEMORY = timedelta(days=90)
TOTP_PURPOSE = "totp-secret"


def totp_box(settings: Settings) -> SecretBox:
    return SecretBox.for_settings(settings, purpose=TOTP_PURPOSE)


class SecondFactor:
    """Checks a user's second factor inside the caller's (write) transaction."""

    def __init__(self, session: AsyncSession, *, settings: Settings) -> None:
        self.totp = TotpRepository(session)
        self.recovery = RecoveryCodeRepository(session)
        self.box = totp_box(settings)

    async def check(
        self, user_id: UUID, code: str, *, now: datetime, recovery: bool = True
    ) -> str | None:
        """ "totp" or "recovery_code" when the code is good (and now used up), else None."""
        credential = await self.totp.of_user(user_id)
        if credential is None or credential.confirmed_at is None:
            return None
        if looks_like_totp(code):
            return "totp" if await self.use_totp(credential, code) else None
        if recovery and await self.recovery.claim(user_id, hash_recovery_code(code), now=now):
            return "recovery_code"
        return None

    async def use_totp(self, credential: TotpCredential, code: str) -> bool:
        try:
            secret = self.box.open(credential.secret_encrypted)
        except UnreadableSecret:
            return False  # the key changed: the user must use a recovery code
        step = matching_step(secret, code, last_step=credential.last_step)
        if step is None:
            return False
        return await self.totp.use_step(credential.id, step=step, last_step=credential.last_step)

    async def new_recovery_codes(self, user_id: UUID) -> list[str]:
        codes = new_recovery_codes()
        await self.recovery.replace(user_id, [hash_recovery_code(code) for code in codes])
        return codes


async def notice_if_new_device(
    uow: UnitOfWork,
    *,
    devices: KnownDeviceRepository,
    users: UserRepository,
    settings: Settings,
    user: User,
    user_agent: str | None,
    ip_address: str | None,
    now: datetime,
) -> None:
    """Remember this sign-in's device; mail the holder when it was not seen on the account in
    the last 90 days. The account's first sign-in is no news to its holder."""
    device = device_signature(user_agent, ip_address)
    last_seen = await devices.remember(user.id, device, now=now)
    # The conditional update decides between two concurrent first sign-ins; later ones skip it.
    first = not user.has_signed_in and await users.mark_signed_in(user.id)
    if first or (last_seen is not None and last_seen >= now - DEVICE_MEMORY):
        return
    mail = new_device_notice(
        settings, user.email, device=device_name(user_agent), ip_address=ip_address
    )
    send_mail(uow, mail, settings=settings)


async def ensure_within_budget(limiter: Limiter, budgets: list[tuple[str, str]]) -> None:
    for budget in budgets:
        verdict = await limiter.test(*budget)
        if not verdict.allowed:
            raise RateLimited(
                "Too many failed attempts; try again later", retry_after=verdict.reset_after
            )


async def purge_spent_account_tokens(database: Database) -> int:
    """Delete verification links and MFA challenges spent (expired or used) over a day ago;
    return how many went. The periodic job system calls this."""
    before = utcnow() - timedelta(days=1)
    async with database.sessions() as db, UnitOfWork(db) as uow:
        purged = await EmailVerificationRepository(db).delete_spent(before=before)
        purged += await MfaChallengeRepository(db).delete_spent(before=before)
        await uow.commit()
    return purged


async def forget_unseen_devices(database: Database) -> int:
    """Delete the known devices not seen in 90 days (a sign-in from one is news again);
    return how many went. The periodic job system calls this."""
    async with database.sessions() as db, UnitOfWork(db) as uow:
        forgotten = await KnownDeviceRepository(db).forget_unseen(before=utcnow() - DEVICE_MEMORY)
        await uow.commit()
    return forgotten


@dataclass(frozen=True, slots=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


class AccountsService:
    def __init__(
        self,
        uow: UnitOfWork,
        *,
        settings: Settings,
        login_failures: Limiter,
        cache: AccessCache,
    ) -> None:
        self.uow = uow
        self.settings = settings
        self.login_failures = login_failures
        self.cache = cache
        self.users = UserRepository(uow.session)
        self.verification = EmailVerification(uow, settings=settings)
        self.verification_tokens = EmailVerificationRepository(uow.session)
        self.second_factor = SecondFactor(uow.session, settings=settings)
        self.audit = AuditRepository(uow.session)

    async def request_verification(self, user: User) -> None:
        """Mail a fresh verification link, unless the address is verified already."""
        if user.email_verified:
            return
        async with self.uow:
            await begin_write(self.uow.session)
            self.verification.send_link(user.id, user.email, email_key=user.email_key)
            await self.uow.commit()

    async def verify_email(self, token: str) -> None:
        """Mark the address a link was sent to verified; the link works once, for 24 hours."""
        now = utcnow()
        async with self.uow:
            claimed = await self.verification_tokens.claim(hash_opaque_token(token), now=now)
            if claimed is None:
                raise InvalidVerificationToken
            user = await self.users.lock(claimed.user_id, now=now)
            # A link sent to an address the account no longer has proves nothing.
            if user is None or user.email_key != claimed.email_key:
                raise InvalidVerificationToken
            user.email_verified = True
            await self.verification_tokens.use_up_all(user.id, now=now)
            self.audit.record(
                "auth.email_verified", actor_id=user.id, target_type="user", target_id=user.id
            )
            self._forget_after_commit(user.id)
            await self.uow.commit()

    async def start_totp_setup(self, user: User, *, password: str) -> TotpSetup:
        """Make a new TOTP secret for the user, inactive until a code confirms it."""
        await self._check_password(user, password)
        if user.mfa_enabled:
            raise MfaAlreadyEnabled
        secret = new_secret()
        async with self.uow:
            await begin_write(self.uow.session)
            totp = self.second_factor.totp
            await totp.remove(user.id)
            totp.add(
                TotpCredential(
                    user_id=user.id,
                    secret_encrypted=self.second_factor.box.seal(secret),
                    created_at=utcnow(),
                )
            )
            await self.uow.commit()
        return TotpSetup(secret, provisioning_uri(secret, account=user.email))

    async def confirm_totp(self, user: User, *, code: str) -> list[str]:
        """Turn MFA on with a first good code; return the recovery codes (shown only now)."""
        budget = ("account", user.email_key)
        await ensure_within_budget(self.login_failures, [budget])
        now = utcnow()
        async with self.uow:
            locked = await self.users.lock(user.id, now=now)
            if locked is None or locked.mfa_enabled:
                raise MfaAlreadyEnabled
            credential = await self.second_factor.totp.of_user(user.id)
            if credential is None:
                raise MfaSetupNotStarted
            if not await self.second_factor.use_totp(credential, code):
                await self.uow.rollback()
                await self.login_failures.hit(*budget)
                raise InvalidMfaCode
            credential.confirmed_at = now
            locked.mfa_enabled = True
            codes = await self.second_factor.new_recovery_codes(user.id)
            self.audit.record(
                "auth.mfa_enabled", actor_id=user.id, target_type="user", target_id=user.id
            )
            self._forget_after_commit(user.id)
            await self.uow.commit()
        return codes

    async def regenerate_recovery_codes(self, user: User, *, password: str, code: str) -> list[str]:
        """Replace the recovery codes after checking the password and a second factor."""
        await self._check_password(user, password)
        async with self.uow:
            await self._check_code(user, code)
            codes = await self.second_factor.new_recovery_codes(user.id)
            self.audit.record(
                "auth.recovery_codes_regenerated",
                actor_id=user.id,
                target_type="user",
                target_id=user.id,
            )
            await self.uow.commit()
        return codes

    async def disable_mfa(self, user: User, *, password: str, code: str) -> None:
        """Turn MFA off after checking the password and a second factor."""
        await self._check_password(user, password)
        async with self.uow:
            await self._check_code(user, code)
            locked = await self.users.lock(user.id, now=utcnow())
            assert locked is not None  # the caller is authenticated and its row locked above
            locked.mfa_enabled = False
            await self.second_factor.totp.remove(user.id)
            await self.second_factor.recovery.remove(user.id)
            self.audit.record(
                "auth.mfa_disabled", actor_id=user.id, target_type="user", target_id=user.id
            )
            self._forget_after_commit(user.id)
            await self.uow.commit()

    async def _check_code(self, user: User, code: str) -> None:
        """Check a second factor at the start of a write transaction (wrong: 401, counted)."""
        budget = ("account", user.email_key)
        await ensure_within_budget(self.login_failures, [budget])
        await begin_write(self.uow.session)
        if not user.mfa_enabled:
            raise MfaNotEnabled
        if await self.second_factor.check(user.id, code, now=utcnow()) is None:
            await self.uow.rollback()
            await self.login_failures.hit(*budget)
            raise InvalidMfaCode

    async def _check_password(self, user: User, password: str) -> None:
        """A wrong confirmation password is 422 (decision 003) and counts as a failure."""
        budget = ("account", user.email_key)
        await ensure_within_budget(self.login_failures, [budget])
        if not await verify_password(password, user.password_hash):
            await self.login_failures.hit(*budget)
            raise ValidationFailed(
                "Password is incorrect", details=[FieldError("body.password", "is incorrect")]
            )

    def _forget_after_commit(self, user_id: UUID) -> None:
        self.uow.after_commit(lambda: self.cache.invalidate_user(user_id))
