"""All SQL of the accounts domain: TOTP credentials, recovery codes, the
challenges of two-step sign-in and the devices accounts signed in from."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from parley.accounts.devices import DeviceSignature
from parley.db.repository import Repository, rows_changed
from parley.models.accounts import (
    DEVICE_PART_LENGTH,
    KnownDevice,
    MfaChallenge,
    RecoveryCode,
    TotpCredential,
)


class TotpRepository(Repository[TotpCredential]):
    model = TotpCredential

    async def of_user(self, user_id: UUID) -> TotpCredential | None:
        return await self.session.scalar(
            select(TotpCredential).where(TotpCredential.user_id == user_id)
        )

    async def use_step(self, credential_id: UUID, *, step: int, last_step: int | None) -> bool:
        """Record `step` as used unless a concurrent request used it (or a later one) first."""
        query = update(TotpCredential).where(TotpCredential.id == credential_id)
        if last_step is None:
            query = query.where(TotpCredential.last_step.is_(None))
        else:
            query = query.where(TotpCredential.last_step == last_step)
        return rows_changed(await self.session.execute(query.values(last_step=step))) == 1

    async def remove(self, user_id: UUID) -> None:
        await self.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user_id))


class RecoveryCodeRepository(Repository[RecoveryCode]):
    model = RecoveryCode

    async def replace(self, user_id: UUID, code_hashes: list[str]) -> None:
        await self.remove(user_id)
        for code_hash in code_hashes:
            self.add(RecoveryCode(user_id=user_id, code_hash=code_hash))

    async def claim(self, user_id: UUID, code_hash: str, *, now: datetime) -> bool:
        result = await self.session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash,
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return rows_changed(result) == 1

    async def remove(self, user_id: UUID) -> None:
        await self.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


class MfaChallengeRepository(Repository[MfaChallenge]):
    model = MfaChallenge

    async def find_live(self, token_hash: str, *, now: datetime) -> MfaChallenge | None:
        return await self.session.scalar(
            select(MfaChallenge).where(
                MfaChallenge.token_hash == token_hash,
                MfaChallenge.used_at.is_(None),
                MfaChallenge.expires_at > now,
            )
        )

    async def delete_spent(self, *, before: datetime) -> int:
        """Delete challenges that expired, or were used, before `before`."""
        result = await self.session.execute(
            delete(MfaChallenge).where(
                or_(MfaChallenge.expires_at < before, MfaChallenge.used_at < before)
            )
        )
        return rows_changed(result)

    async def claim(self, challenge_id: UUID, *, now: datetime) -> bool:
        result = await self.session.execute(
            update(MfaChallenge)
            .where(MfaChallenge.id == challenge_id, MfaChallenge.used_at.is_(None))
            .values(used_at=now)
        )
        return rows_changed(result) == 1


class KnownDeviceRepository:
    """The devices each account signed in from, with when each was last seen."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def remember(
        self, user_id: UUID, device: DeviceSignature, *, now: datetime
    ) -> datetime | None:
        """Record a sign-in from `device` at `now`; return when it was seen before, or None."""
        browser, system, network = (part[:DEVICE_PART_LENGTH] for part in device)
        key = (
            KnownDevice.user_id == user_id,
            KnownDevice.browser == browser,
            KnownDevice.system == system,
            KnownDevice.network == network,
        )
        seen = update(KnownDevice).where(*key).values(last_seen_at=now)
        previous = await self.session.scalar(select(KnownDevice.last_seen_at).where(*key))
        if previous is not None:
            await self.session.execute(seen)
            return previous
        row = {"user_id": user_id, "browser": browser, "system": system, "network": network}
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(KnownDevice).values(**row, last_seen_at=now))
        except IntegrityError:
            # A concurrent sign-in from the same device recorded it first: seen just now.
            await self.session.execute(seen)
            return now
        return None

    async def forget_unseen(self, *, before: datetime) -> int:
        """Delete devices last seen before `before`."""
        result = await self.session.execute(
            delete(KnownDevice).where(KnownDevice.last_seen_at < before)
        )
        return rows_changed(result)
