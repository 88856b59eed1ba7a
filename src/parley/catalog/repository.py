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
    ColumnElement,
    CursorResult,
    Select,
    and_,
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
from parley.db.repository import Repository, lock_row, violates
from parley.db.search import dialect_name, folded_contains
from parley.models.catalog import SELLER_SEARCH, Seller, Vendor
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

    async def _rowcount(self, statement: Any) -> int:
        result = cast(
            CursorResult[Any],
            await self.session.execute(statement, execution_options={"synchronize_session": False}),
        )
        return result.rowcount

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
            await self._rowcount(delete(Vendor).where(Vendor.chat_session_id == chat_session_id))
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

    async def delete_by_id(self, seller_id: UUID) -> bool:
        return bool(await self._rowcount(delete(Seller).where(Seller.id == seller_id)))

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

    def matches(self) -> ColumnElement[bool]:
        text_fields = [Seller.product, Seller.description, Seller.benefits]
        scan = or_(self._name(), *(folded_contains(c, self.q, self.dialect) for c in text_fields))
        # The index folds case itself: the raw query finds name_key unless casefold does more
        # than lowercase (ß to ss), and one phrase over all four columns is the cheapest lookup.
        name_query = self.q if self.key == self.q.lower() else self.key
        queries = {"name_key": name_query} | {c.key: self.q for c in text_fields}
        return SELLER_SEARCH.any_contains(queries, self.dialect, otherwise=scan)

    def rank(self) -> ColumnElement[int]:
        # Ranks only the rows that matched, so a scan of those is cheaper than a second lookup.
        return case(
            (self._name(), RANK_NAME),
            (folded_contains(Seller.product, self.q, self.dialect), RANK_PRODUCT),
            else_=RANK_TEXT,
        )
