"""The rows a benchmark database holds, generated fast and in bulk.

One benchmark user owns the measured data (deep chat sessions of 10^3, 10^5 and 10^6
messages, sessions to post into, 1,000 sellers); other users own a realistic bulk around it.
Rows come out as tuples in a column order, with values already in the storage format of the
target database (see `Encoder`).
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

import uuid_utils.compat as uuid7_compat
from uuid_utils import uuid7 as uuid7_fast

SEED_VERSION = 3
BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "quiet-harbour-lantern-1874"
SELLER_QUERY = "organic"


@dataclass(frozen=True)
class SeedSpec:
    users: int = 1000
    deep_sessions: tuple[int, ...] = (1_000, 100_000, 1_000_000)
    post_sessions: int = 16
    bench_catalog_sessions: int = 20
    sellers_per_bench_session: int = 50  # 20 x 50 = 1,000 sellers for the benchmark user
    bench_plain_sessions: int = 20
    other_sessions_per_user: int = 3
    messages_per_other_session: int = 25
    sellers_per_other_user: int = 10

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Encoder:
    """Turns Python values into what the database stores (identity for PostgreSQL)."""

    dialect: str

    def uuid(self, value: UUID) -> object:
        return value.hex if self.dialect == "sqlite" else value

    def ts(self, value: datetime) -> object:
        if self.dialect == "sqlite":
            return (
                value.astimezone(UTC)
                .replace(tzinfo=None)
                .isoformat(sep=" ", timespec="microseconds")
            )
        return value

    def flag(self, value: bool) -> object:
        return int(value) if self.dialect == "sqlite" else value

    def new_ids(self) -> Callable[[], object]:
        """A fast maker of new UUIDv7 values, already encoded."""
        if self.dialect == "sqlite":
            return lambda: uuid7_fast().hex
        return uuid7_fast  # asyncpg encodes anything with `.bytes` as a uuid

    def ts_series(self, first: datetime, count: int) -> Iterator[object]:
        """Encoded timestamps one second apart after `first`."""
        step = timedelta(seconds=1)
        if self.dialect == "sqlite":
            current = first.astimezone(UTC).replace(tzinfo=None)
            for _ in range(count):
                current += step
                yield current.isoformat(" ", "microseconds")
        else:
            current = first
            for _ in range(count):
                current += step
                yield current


@dataclass
class Manifest:
    """What the benchmark needs to find again in a seeded database."""

    email: str = BENCH_EMAIL
    password: str = BENCH_PASSWORD
    user_id: str = ""
    deep_sessions: dict[str, str] = field(default_factory=dict)  # message count -> id
    post_sessions: list[str] = field(default_factory=list)
    seller_query: str = SELLER_QUERY
    rows: dict[str, int] = field(default_factory=dict)


# (table, columns, rows) in insertion order.
Batch = tuple[str, tuple[str, ...], Iterator[tuple[object, ...]]]

GREETINGS = [
    "Hi! Is the {n} still available? I would like two if you ship this week.",
    "Thanks for your order #{n}. It leaves our warehouse tomorrow morning.",
    "Could you send a photo of the label on item {n}? Checking the size.",
    "Your package {n} is out for delivery; the driver will call ahead.",
    "We can offer 10% off on the bundle {n} if you confirm by Friday.",
    "Great, payment for invoice {n} received. Anything else I can help with?",
]
PRODUCTS = [
    "cold-pressed olive oil",
    "handmade soap bar",
    "single-origin coffee beans",
    "wool scarf",
    "ceramic mug",
    "leather wallet",
    "green tea sampler",
    "bamboo toothbrush set",
    "linen tote bag",
    "beeswax candle",
    "dark chocolate bar",
    "spice gift box",
]
ADJECTIVES = ["fresh", "artisan", "eco-friendly", "premium", "local", "fair-trade", "vegan"]


def _phone(n: int) -> str:
    return f"+49151{n:08d}"


def _uuid() -> UUID:
    return uuid7_compat.uuid7()


class Plan:
    """Generates every batch for one database; fills the manifest as it goes."""

    def __init__(self, spec: SeedSpec, enc: Encoder, password_hash: str) -> None:
        self.spec = spec
        self.enc = enc
        self.password_hash = password_hash
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.manifest = Manifest()
        self.users: list[UUID] = [_uuid() for _ in range(spec.users)]
        self.manifest.user_id = str(self.users[0])
        # (session id, owner, title, message count, seller count)
        self.sessions: list[tuple[UUID, UUID, str, int, int]] = []
        self._plan_sessions()

    def _plan_sessions(self) -> None:
        spec, bench = self.spec, self.users[0]
        for count in spec.deep_sessions:
            sid = _uuid()
            self.manifest.deep_sessions[str(count)] = str(sid)
            self.sessions.append((sid, bench, f"Deep history of {count} messages", count, 0))
        for i in range(spec.post_sessions):
            sid = _uuid()
            self.manifest.post_sessions.append(str(sid))
            self.sessions.append((sid, bench, f"Live chat {i + 1}", 0, 0))
        for i in range(spec.bench_catalog_sessions):
            self.sessions.append(
                (_uuid(), bench, f"Catalogue {i + 1}", 10, spec.sellers_per_bench_session)
            )
        for i in range(spec.bench_plain_sessions):
            self.sessions.append((_uuid(), bench, f"Customer conversation {i + 1}", 30, 0))
        for user in self.users[1:]:
            for i in range(spec.other_sessions_per_user):
                sellers = spec.sellers_per_other_user if i == 0 else 0
                self.sessions.append(
                    (
                        _uuid(),
                        user,
                        f"Conversation {i + 1}",
                        spec.messages_per_other_session,
                        sellers,
                    )
                )

    def batches(self) -> list[Batch]:
        return [
            ("users", USER_COLUMNS, self._users()),
            ("chat_sessions", SESSION_COLUMNS, self._chat_sessions()),
            ("vendors", VENDOR_COLUMNS, self._vendors()),
            ("sellers", SELLER_COLUMNS, self._sellers()),
            ("messages", MESSAGE_COLUMNS, self._messages()),
        ]

    def _count(self, table: str) -> Callable[[], None]:
        def bump() -> None:
            self.manifest.rows[table] = self.manifest.rows.get(table, 0) + 1

        return bump

    def _users(self) -> Iterator[tuple[object, ...]]:
        enc, created = self.enc, self.enc.ts(self.now - timedelta(days=400))
        for n, user in enumerate(self.users):
            email = BENCH_EMAIL if n == 0 else f"user{n:05d}@example.com"
            username = "bench" if n == 0 else f"user{n:05d}"
            self.manifest.rows["users"] = n + 1
            yield (
                enc.uuid(user),
                email,
                email,
                username,
                username,
                _phone(n),
                self.password_hash,
                "user",
                enc.flag(True),
                created,
                created,
            )

    def _last_at(self, count: int) -> datetime:
        return self.now - timedelta(hours=1)

    def _chat_sessions(self) -> Iterator[tuple[object, ...]]:
        enc = self.enc
        for n, (sid, owner, title, count, sellers) in enumerate(self.sessions):
            created = self.now - timedelta(days=300, seconds=-n)
            last = self._last_at(count) if count else None
            activity = last or created
            self.manifest.rows["chat_sessions"] = n + 1
            yield (
                enc.uuid(sid),
                enc.uuid(owner),
                title,
                enc.flag(False),
                enc.ts(last) if last else None,
                enc.ts(activity),
                count,
                sellers,
                count,
                enc.ts(created),
                enc.ts(activity),
            )

    def _vendors(self) -> Iterator[tuple[object, ...]]:
        enc, n = self.enc, 0
        for sid, owner, _title, _count, sellers in self.sessions:
            if not sellers:
                continue
            n += 1
            stamp = enc.ts(self.now - timedelta(days=200))
            self.manifest.rows["vendors"] = n
            yield (
                enc.uuid(_uuid()),
                enc.uuid(sid),
                enc.uuid(owner),
                f"Vendor {n:05d} Trading",
                _phone(900_000 + n),
                stamp,
                stamp,
            )

    def _sellers(self) -> Iterator[tuple[object, ...]]:
        enc, n = self.enc, 0
        for sid, owner, _title, _count, sellers in self.sessions:
            for i in range(sellers):
                n += 1
                product = PRODUCTS[n % len(PRODUCTS)]
                adjective = ADJECTIVES[n % len(ADJECTIVES)]
                # One seller in ten is "organic", in its description or its benefits.
                organic = "organic " if n % 10 == 0 else ""
                name = f"{adjective.title()} {product.split()[-1].title()} Shop {i + 1}"
                description = (
                    f"A {organic}{adjective} {product} from a small workshop, packed by hand."
                )
                benefits = "Ships in two days; free returns." + (
                    " Certified organic." if n % 10 == 5 else ""
                )
                stamp = enc.ts(self.now - timedelta(days=100, seconds=-n))
                self.manifest.rows["sellers"] = n
                yield (
                    enc.uuid(_uuid()),
                    enc.uuid(sid),
                    enc.uuid(owner),
                    name,
                    name.casefold(),
                    f"{adjective} {product}",
                    description,
                    benefits,
                    f"https://cdn.example.com/sellers/{n}.jpg",
                    stamp,
                    stamp,
                )

    def _messages(self) -> Iterator[tuple[object, ...]]:
        enc, total, new_id = self.enc, 0, self.enc.new_ids()
        texts = [g.replace("%", "%%").replace("{n}", "%d") for g in GREETINGS]
        phones = [_phone(n) for n in range(1000)]
        for sid, _owner, _title, count, _sellers in self.sessions:
            sid_value = enc.uuid(sid)
            stamps = enc.ts_series(self._last_at(count) - timedelta(seconds=count), count)
            for seq, stamp in zip(range(1, count + 1), stamps, strict=True):
                if seq & 1:
                    yield (
                        new_id(),
                        sid_value,
                        seq,
                        "customer",
                        "text",
                        texts[seq % 6] % seq,
                        phones[seq % 1000],
                        stamp,
                    )
                else:
                    yield (
                        new_id(),
                        sid_value,
                        seq,
                        "agent",
                        "text",
                        texts[seq % 6] % seq,
                        None,
                        stamp,
                    )
            total += count
        self.manifest.rows["messages"] = total


USER_COLUMNS = (
    "id",
    "email",
    "email_key",
    "username",
    "username_key",
    "phone_number",
    "password_hash",
    "role",
    "is_active",
    "created_at",
    "updated_at",
)
SESSION_COLUMNS = (
    "id",
    "user_id",
    "title",
    "title_is_default",
    "last_message_at",
    "activity_at",
    "message_count",
    "seller_count",
    "last_message_seq",
    "created_at",
    "updated_at",
)
VENDOR_COLUMNS = (
    "id",
    "chat_session_id",
    "user_id",
    "name",
    "phone_number",
    "created_at",
    "updated_at",
)
SELLER_COLUMNS = (
    "id",
    "chat_session_id",
    "user_id",
    "name",
    "name_key",
    "product",
    "description",
    "benefits",
    "image_url",
    "created_at",
    "updated_at",
)
MESSAGE_COLUMNS = (
    "id",
    "chat_session_id",
    "seq",
    "sender",
    "kind",
    "content",
    "phone_number",
    "created_at",
)
