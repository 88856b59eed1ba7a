"""Fixtures of the unit tests: services wired to in-memory repositories."""

from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from limits.aio.storage import MemoryStorage

from parley.auth.service import AuthService, ClientInfo
from parley.core.config import Settings
from parley.core.encryption import SecretBox
from parley.core.mail import Mail
from parley.core.ratelimit import Limiter
from parley.core.tokens import TokenCodec
from parley.jobs.mail import MAIL_PURPOSE
from parley.models.jobs import Job
from parley.users.schemas import UserCreate
from parley.users.service import UserService
from tests.unit.fakes import (
    FakeAuditRepository,
    FakeKnownDeviceRepository,
    FakeLoginSessionRepository,
    FakeRefreshTokenRepository,
    FakeResetTokenRepository,
    FakeUnitOfWork,
    FakeUserRepository,
    RecordingCache,
)

PASSWORD = "correct horse battery staple"
CLIENT = ClientInfo(
    ip_address="203.0.113.7",
    user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
)


@dataclass
class Outbox:
    """The mail the services enqueued in committed transactions."""

    uow: FakeUnitOfWork
    settings: Settings

    @property
    def sent(self) -> list[Mail]:
        box = SecretBox.for_settings(self.settings, purpose=MAIL_PURPOSE)
        return [
            Mail(**orjson.loads(box.open(orjson.loads(job.payload)["sealed"])))
            for job in self.uow.session.committed
            if isinstance(job, Job) and job.name == "mail.send"
        ]


@dataclass
class World:
    uow: FakeUnitOfWork
    users: FakeUserRepository
    login_sessions: FakeLoginSessionRepository
    refresh_tokens: FakeRefreshTokenRepository
    reset_tokens: FakeResetTokenRepository
    cache: RecordingCache
    outbox: Outbox
    settings: Settings
    audit: FakeAuditRepository = field(default_factory=FakeAuditRepository)
    devices: FakeKnownDeviceRepository = field(default_factory=FakeKnownDeviceRepository)

    def auth(self, *, failures: int = 10) -> AuthService:
        return AuthService(
            self.uow,  # type: ignore[arg-type]
            settings=self.settings,
            tokens=TokenCodec("k" * 64, "HS256", 900),
            login_failures=Limiter(
                MemoryStorage(), count=failures, window_seconds=900, namespace="t", moving=True
            ),
            cache=self.cache,  # type: ignore[arg-type]
            users=self.users,  # type: ignore[arg-type]
            login_sessions=self.login_sessions,  # type: ignore[arg-type]
            refresh_tokens=self.refresh_tokens,  # type: ignore[arg-type]
            reset_tokens=self.reset_tokens,  # type: ignore[arg-type]
            audit=self.audit,  # type: ignore[arg-type]
            devices=self.devices,  # type: ignore[arg-type]
        )

    async def register(self, email: str = "shop@example.com") -> Any:
        service = UserService(
            self.uow,  # type: ignore[arg-type]
            settings=self.settings,
            users=self.users,  # type: ignore[arg-type]
            login_sessions=self.login_sessions,  # type: ignore[arg-type]
            audit=self.audit,  # type: ignore[arg-type]
        )
        return await service.register(UserCreate(email=email, password=PASSWORD))


@pytest.fixture
def world() -> World:
    users = FakeUserRepository()
    login_sessions = FakeLoginSessionRepository(users)
    uow = FakeUnitOfWork()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        jwt_secret="k" * 64,
        environment="staging",
        bcrypt_rounds=4,
    )
    return World(
        uow=uow,
        users=users,
        login_sessions=login_sessions,
        refresh_tokens=FakeRefreshTokenRepository(login_sessions),
        reset_tokens=FakeResetTokenRepository(users),
        cache=RecordingCache(),
        outbox=Outbox(uow, settings),
        settings=settings,
    )
