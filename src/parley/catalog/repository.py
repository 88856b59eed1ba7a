"""All SQL of the catalog domain: vendors, sellers, and the chat-session rows they count on.

Every write use case starts with a claim: it locks the row by its primary key so concurrent
writers to one chat session queue up (on SQLite it takes the write lock first), and authorises
the owner on what it read under that lock, never on an UPDATE's row count.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from uuid import UUID

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    delete,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from parley.catalog.errors import SellerNameTaken, VendorExists
from parley.core.errors import ParleyError
from parley.db.base import Base
from parley.db.fast import Compiled, Driver, Row, compiled, page_limit
from parley.db.repository import Repository, lock_row, violates
from parley.db.search import (
    LIKE_ESCAPE,
    bound_scan,
    contains_pattern,
    dialect_name,
    folded_contains,
    scan_pattern,
)
from parley.models.catalog import SELLER_SEARCH, CatalogVersion, Seller, Vendor
from parley.models.chat import ChatSession
from parley.models.user import Role, User

ModelT = TypeVar("ModelT", bound=Base)

# Search ranks: a name match beats a product match beats a description or benefits match.
RANK_NAME, RANK_PRODUCT, RANK_TEXT = 0, 1, 2
SELLER_RANKS = frozenset({RANK_NAME, RANK_PRODUCT, RANK_TEXT})


@dataclass(frozen=True, slots=True)
class SellerPosition:
    """Where a page of sellers ended: the last item's search rank and id."""

    rank: int
    id: UUID


def name_key(name: str) -> str:
    """Return the key that makes seller names unique case-insensitively, the same on every DB."""
    return name.casefold()


class _CatalogRepository(Repository[ModelT]):
    @property
    def _dialect(self) -> str:
        return dialect_name(self.session)

    async def claim_chat_session(
        self, chat_session_id: UUID, owner_id: UUID, *, now: datetime, seller_delta: int = 0
    ) -> bool:
        """Lock the owner's chat session for this transaction; False when it is not theirs."""
        row = await lock_row(self.session, ChatSession, chat_session_id, ChatSession.user_id)
        if row is None or row.user_id != owner_id:
            return False
        values: dict[str, Any] = {"updated_at": now}
        if seller_delta:
            values["seller_count"] = ChatSession.seller_count + seller_delta
        await self.session.execute(
            update(ChatSession).where(ChatSession.id == chat_session_id).values(values),
            execution_options={"synchronize_session": False},
        )
        return True


def _visible_to(owner_column: Any, viewer: User) -> ColumnElement[bool]:
    """Admins see every owner's rows; anyone else only their own."""
    if viewer.role == Role.ADMIN:
        return true()
    return cast(ColumnElement[bool], owner_column == viewer.id)


class VendorRepository(_CatalogRepository[Vendor]):
    model = Vendor

    async def get_for_chat_session(self, chat_session_id: UUID) -> Vendor | None:
        return await self.session.scalar(
            select(Vendor).where(Vendor.chat_session_id == chat_session_id)
        )

    async def get_visible(self, vendor_id: UUID, viewer: User) -> Vendor | None:
        """Return the vendor when the viewer owns it or is an admin."""
        return await self.session.scalar(
            select(Vendor).where(Vendor.id == vendor_id, _visible_to(Vendor.user_id, viewer))
        )

    async def delete_for_chat_session(self, chat_session_id: UUID) -> bool:
        """Delete the chat session's vendor; False when it has none."""
        return bool(
            await self.run_counted(delete(Vendor).where(Vendor.chat_session_id == chat_session_id))
        )

    async def list_page(
        self, *, viewer: User, q: str | None, limit: int, after: UUID | None
    ) -> list[Vendor]:
        """Return up to `limit` vendors the viewer may see, newest first, after `after`."""
        query = select(Vendor).order_by(Vendor.id.desc()).limit(limit)
        if viewer.role != Role.ADMIN:
            # With ORDER BY id this is a range scan of ix_vendors_user_id_id.
            query = query.where(Vendor.user_id == viewer.id)
        if after is not None:
            query = query.where(Vendor.id < after)
        if q:
            query = query.where(
                or_(
                    # Vendors are one per chat session: a scan of the owner's few rows.
                    folded_contains(Vendor.name, q, self._dialect),
                    Vendor.phone_number.contains(q, autoescape=True),
                )
            )
        return list(await self.session.scalars(query))

    def integrity_error(self, exc: IntegrityError) -> ParleyError | IntegrityError:
        if violates(exc, "uq_vendors_chat_session_id", "vendors.chat_session_id"):
            return VendorExists()
        return exc


class SellerRepository(_CatalogRepository[Seller]):
    model = Seller

    async def get_visible(self, seller_id: UUID, viewer: User) -> Seller | None:
        """Return the seller when the viewer owns it or is an admin."""
        return await self.session.scalar(
            select(Seller).where(Seller.id == seller_id, _visible_to(Seller.user_id, viewer))
        )

    async def claim(self, seller_id: UUID, owner_id: UUID, *, now: datetime) -> Seller | None:
        """Lock the owner's seller for this transaction and return it; None when not theirs."""
        row = await lock_row(self.session, Seller, seller_id, Seller.user_id)
        if row is None or row.user_id != owner_id:
            return None
        await self.session.execute(
            update(Seller).where(Seller.id == seller_id).values(updated_at=now),
            execution_options={"synchronize_session": False},
        )
        return await self.session.get(Seller, seller_id, populate_existing=True)

    async def lock(self, seller_id: UUID, owner_id: UUID) -> UUID | None:
        """Lock the owner's seller for this transaction, unchanged (it is about to go), and
        return its chat session's id; None when it is not theirs. Its chat session is locked
        next: every writer of sellers takes the session before the owner's catalogue version,
        which the first change to a seller row takes (db/versions.py)."""
        row = await lock_row(
            self.session, Seller, seller_id, Seller.user_id, Seller.chat_session_id
        )
        if row is None or row.user_id != owner_id:
            return None
        chat_session_id: UUID = row.chat_session_id
        return chat_session_id

    async def delete_by_id(self, seller_id: UUID) -> bool:
        return bool(await self.run_counted(delete(Seller).where(Seller.id == seller_id)))

    async def list_for_chat_session(
        self, chat_session_id: UUID, *, q: str | None, limit: int, after: SellerPosition | None
    ) -> list[tuple[Seller, int]]:
        """Return a page of the chat session's sellers with their search rank."""
        return await self._page(Seller.chat_session_id == chat_session_id, q, limit, after)

    async def search(
        self, *, viewer: User, q: str | None, limit: int, after: SellerPosition | None
    ) -> list[tuple[Seller, int]]:
        """Return a page of the sellers the viewer may see, best matches first when `q` is set."""
        return await self._page(_visible_to(Seller.user_id, viewer), q, limit, after)

    async def _page(
        self,
        scope: ColumnElement[bool],
        q: str | None,
        limit: int,
        after: SellerPosition | None,
    ) -> list[tuple[Seller, int]]:
        if not q:
            query: Select[Seller, int] = select(Seller, literal(RANK_NAME))
            if after is not None:
                query = query.where(Seller.id < after.id)
            query = query.order_by(Seller.id.desc())
        else:
            search = _SellerSearch(q, self._dialect)
            rank = search.rank()
            query = select(Seller, rank).where(search.matches())
            if after is not None:
                query = query.where(
                    or_(rank > after.rank, and_(rank == after.rank, Seller.id < after.id))
                )
            query = query.order_by(rank, Seller.id.desc())
        rows = await self.session.execute(query.where(scope).limit(limit))
        return [(seller, int(rank_)) for seller, rank_ in rows]

    def integrity_error(self, exc: IntegrityError) -> ParleyError | IntegrityError:
        if violates(
            exc,
            "uq_sellers_chat_session_id_name_key",
            "sellers.chat_session_id",
            "sellers.name_key",
        ):
            return SellerNameTaken()
        return exc


class _SellerSearch:
    """Seller search (decisions 032 and 095): the name through its case-folded key, the other
    fields through the database's search structure, all folding case the same way."""

    def __init__(self, q: str, dialect: str) -> None:
        self.q, self.key, self.dialect = q, name_key(q), dialect

    def _name(self) -> ColumnElement[bool]:
        # name_key is the case-folded name, so the folded query matches it on every database.
        return Seller.name_key.contains(self.key, autoescape=True)

    def name_query(self) -> str:
        # The index folds case itself: the raw query finds name_key unless casefold does more
        # than lowercase (ß to ss), and one phrase over all four columns is the cheapest lookup.
        return self.q if self.key == self.q.lower() else self.key

    def queries(self) -> dict[str, str]:
        """What each searched column of the index is asked for."""
        text_fields = ("product", "description", "benefits")
        return {"name_key": self.name_query()} | dict.fromkeys(text_fields, self.q)

    def matches(self) -> ColumnElement[bool]:
        text_fields = [Seller.product, Seller.description, Seller.benefits]
        scan = or_(self._name(), *(folded_contains(c, self.q, self.dialect) for c in text_fields))
        return SELLER_SEARCH.any_contains(self.queries(), self.dialect, otherwise=scan)

    def rank(self) -> ColumnElement[int]:
        # Ranks only the rows that matched, so a scan of those is cheaper than a second lookup.
        return case(
            (self._name(), RANK_NAME),
            (folded_contains(Seller.product, self.q, self.dialect), RANK_PRODUCT),
            else_=RANK_TEXT,
        )


# The lean path (db/fast.py) ----------------------------------------------------------------

_s = cast(Any, Seller.__table__).c
_v = cast(Any, Vendor.__table__).c
_cs = cast(Any, ChatSession.__table__).c
_cv = cast(Any, CatalogVersion.__table__).c

SELLER_COLUMNS = (
    _s.id,
    _s.chat_session_id,
    _s.name,
    _s.product,
    _s.description,
    _s.benefits,
    _s.image_url,
    _s.created_at,
    _s.updated_at,
)
VENDOR_COLUMNS = (
    _v.id,
    _v.chat_session_id,
    _v.name,
    _v.phone_number,
    _v.created_at,
    _v.updated_at,
)
SELLER_RANK = len(SELLER_COLUMNS)  # where a searched seller row holds its rank


class CatalogRows:
    """The catalog SQL of the lean path, on one driver connection: each read is one statement
    with the visibility rule (the owner, or an admin) in it."""

    def __init__(self, db: Driver, dialect: Any) -> None:
        self.db = db
        self.dialect = dialect

    def _statement(self, key: tuple[Any, ...], build: Any) -> Compiled:
        return compiled(key, self.dialect, build)

    def _viewer(self, viewer: User) -> dict[str, Any]:
        return {"viewer": self.db.uuid(viewer.id)}

    async def seller(self, seller_id: UUID, viewer: User) -> Row | None:
        admin = viewer.role == Role.ADMIN
        statement = self._statement(("catalog.seller", admin), lambda: _seller_read(admin))
        rows = await self.db.fetch(
            statement, {"id": self.db.uuid(seller_id)} | self._viewer(viewer)
        )
        return rows[0] if rows else None

    async def seller_page(
        self,
        viewer: User,
        *,
        chat_session_id: UUID | None,
        q: str | None,
        limit: int,
        after: SellerPosition | None,
    ) -> list[Row]:
        """Up to limit + 1 sellers: the chat session's when it is given and visible to the
        viewer, else all the viewer may see; best matches first when `q` is set."""
        admin = viewer.role == Role.ADMIN
        in_session = chat_session_id is not None
        search = _SellerSearchVariant.of(q, self.dialect.name)
        key = ("catalog.sellers", admin, in_session, after is not None, search, limit + 1)
        statement = self._statement(
            key, lambda: _seller_page(admin, in_session, after is not None, search, limit + 1)
        )
        params: dict[str, Any] = self._viewer(viewer)
        if chat_session_id is not None:
            params["sid"] = self.db.uuid(chat_session_id)
        if q and search is not None:
            params |= search.params(q)
        if after is not None:
            params["after_rank"] = after.rank
            params["after_id"] = self.db.uuid(after.id)
        return await self.db.fetch(statement, params)

    async def catalog_version(self, owner_id: UUID) -> int:
        """How many times the owner's sellers have changed (db/versions.py); 0: never."""
        statement = self._statement(
            ("catalog.version",),
            lambda: select(_cv.version).where(_cv.user_id == bindparam("owner")),
        )
        rows = await self.db.fetch(statement, {"owner": self.db.uuid(owner_id)})
        return int(rows[0][0]) if rows else 0

    async def session_vendor(self, chat_session_id: UUID, viewer: User) -> Row | None:
        """The visible chat session's row with its vendor's columns (None when it has none);
        no row when the session is not visible."""
        admin = viewer.role == Role.ADMIN
        statement = self._statement(
            ("catalog.session_vendor", admin), lambda: _session_vendor(admin)
        )
        params = {"sid": self.db.uuid(chat_session_id)} | self._viewer(viewer)
        rows = await self.db.fetch(statement, params)
        return rows[0] if rows else None

    async def vendor_page(
        self, viewer: User, *, q: str | None, limit: int, after: UUID | None
    ) -> list[Row]:
        """Up to limit + 1 vendors the viewer may see, newest first, after `after`."""
        admin = viewer.role == Role.ADMIN
        dialect = self.dialect.name
        ascii_only = bool(q) and (q or "").isascii()
        key = ("catalog.vendors", admin, after is not None, bool(q), ascii_only, limit + 1)
        statement = self._statement(
            key,
            lambda: _vendor_page(admin, after is not None, bool(q), ascii_only, dialect, limit + 1),
        )
        params: dict[str, Any] = self._viewer(viewer)
        if q:
            params["name_pattern"] = scan_pattern(q, dialect)
            params["phone_pattern"] = contains_pattern(q)
        if after is not None:
            params["after_id"] = self.db.uuid(after)
        return await self.db.fetch(statement, params)


@dataclass(frozen=True, slots=True)
class _SellerSearchVariant:
    """The shape of a seller search statement, the same for every query it fits (the text is
    bound): _SellerSearch's SQL with its operands as parameters."""

    dialect: str
    indexed: bool  # SQLite: one FTS5 lookup
    ascii_only: bool  # SQLite's scans: LIKE for ASCII, GLOB otherwise

    @classmethod
    def of(cls, q: str | None, dialect: str) -> "_SellerSearchVariant | None":
        if not q:
            return None
        name_query = _SellerSearch(q, dialect).name_query()
        indexed = all(SELLER_SEARCH.uses_index(text, dialect) for text in (q, name_query))
        return cls(dialect, indexed, q.isascii() if dialect == "sqlite" else False)

    def params(self, q: str) -> dict[str, Any]:
        search = _SellerSearch(q, self.dialect)
        params = {
            "name_pattern": contains_pattern(search.key),
            "text_pattern": scan_pattern(q, self.dialect),
        }
        if self.indexed:
            params["fts_query"] = SELLER_SEARCH.fts_expression(search.queries())
        return params

    def _text(self, column: Any) -> ColumnElement[bool]:
        return bound_scan(
            column, self.dialect, ascii_only=self.ascii_only, param=bindparam("text_pattern")
        )

    def _name(self) -> ColumnElement[bool]:
        return cast(
            ColumnElement[bool], _s.name_key.like(bindparam("name_pattern"), escape=LIKE_ESCAPE)
        )

    def matches(self) -> ColumnElement[bool]:
        if self.indexed:
            return SELLER_SEARCH.bound_contains(
                _s.name_key, self.dialect, indexed=True, param=bindparam("fts_query")
            )
        return or_(
            self._name(), *(self._text(c) for c in (_s.product, _s.description, _s.benefits))
        )

    def rank(self) -> ColumnElement[int]:
        return case(
            (self._name(), RANK_NAME), (self._text(_s.product), RANK_PRODUCT), else_=RANK_TEXT
        )


def _visible(owner: Any, admin: bool) -> ColumnElement[bool]:
    if admin:
        return true()
    return cast(ColumnElement[bool], owner == bindparam("viewer"))


def _seller_read(admin: bool) -> ClauseElement:
    return select(*SELLER_COLUMNS).where(_s.id == bindparam("id"), _visible(_s.user_id, admin))


def _seller_page(
    admin: bool, in_session: bool, after: bool, search: _SellerSearchVariant | None, rows: int
) -> ClauseElement:
    if in_session:
        # The chat session's visibility, tested on its own row in the same statement.
        session_visible = (
            select(_cs.id).where(_cs.id == bindparam("sid"), _visible(_cs.user_id, admin)).exists()
        )
        scope: ColumnElement[bool] = and_(_s.chat_session_id == bindparam("sid"), session_visible)
    else:
        scope = _visible(_s.user_id, admin)
    after_id = bindparam("after_id", type_=_s.id.type)
    if search is None:
        query = select(*SELLER_COLUMNS)
        if after:
            query = query.where(_s.id < after_id)
        query = query.order_by(_s.id.desc())
    else:
        rank = search.rank()
        query = select(*SELLER_COLUMNS, rank).where(search.matches())
        if after:
            after_rank = bindparam("after_rank", type_=Integer)
            query = query.where(or_(rank > after_rank, and_(rank == after_rank, _s.id < after_id)))
        query = query.order_by(rank, _s.id.desc())
    return query.where(scope).limit(page_limit(rows))


def _session_vendor(admin: bool) -> ClauseElement:
    return (
        select(_cs.id, *VENDOR_COLUMNS)
        .select_from(
            ChatSession.__table__.outerjoin(Vendor.__table__, _v.chat_session_id == _cs.id)
        )
        .where(_cs.id == bindparam("sid"), _visible(_cs.user_id, admin))
    )


def _vendor_page(
    admin: bool, after: bool, q: bool, ascii_only: bool, dialect: str, rows: int
) -> ClauseElement:
    query = select(*VENDOR_COLUMNS).where(_visible(_v.user_id, admin))
    if after:
        query = query.where(_v.id < bindparam("after_id", type_=_v.id.type))
    if q:
        name = bound_scan(_v.name, dialect, ascii_only=ascii_only, param=bindparam("name_pattern"))
        phone = _v.phone_number.like(bindparam("phone_pattern"), escape=LIKE_ESCAPE)
        query = query.where(or_(name, phone))
    return query.order_by(_v.id.desc()).limit(page_limit(rows))
