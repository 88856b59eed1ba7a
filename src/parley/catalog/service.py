"""Catalog use cases: a chat session's vendor and its sellers.

Reads are open to the owner and to admins; writes only to the owner. An admin writing to
another user's chat session is told 403, anyone else 404 (existence does not leak).
"""

from uuid import UUID

from parley.catalog.errors import CatalogWriteForbidden, SellerNotFound, VendorNotFound
from parley.catalog.repository import SellerPosition, SellerRepository, VendorRepository, name_key
from parley.catalog.schemas import (
    SellerCreate,
    SellerRead,
    SellerUpdate,
    VendorCreate,
    VendorRead,
    VendorUpdate,
)
from parley.chats.errors import ChatSessionNotFound
from parley.chats.repository import ChatSessionRepository
from parley.core.clock import utcnow
from parley.core.errors import ParleyError
from parley.db.uow import UnitOfWork
from parley.events import outbox
from parley.events.types import EventType
from parley.models.catalog import Seller, Vendor
from parley.models.user import Role, User


class _CatalogService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.chat_sessions = ChatSessionRepository(uow.session)

    async def _load_chat_session_for(self, chat_session_id: UUID, viewer: User) -> None:
        if await self.chat_sessions.get_visible(chat_session_id, viewer) is None:
            raise ChatSessionNotFound

    async def _refusal(self, chat_session_id: UUID, actor: User) -> ParleyError:
        """Explain a failed write: 403 for an admin on another's session, else 404."""
        if (
            actor.role == Role.ADMIN
            and await self.chat_sessions.get_visible(chat_session_id, actor) is not None
        ):
            return CatalogWriteForbidden()
        return ChatSessionNotFound()


class VendorService(_CatalogService):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.vendors = VendorRepository(uow.session)

    async def create(self, chat_session_id: UUID, *, actor: User, data: VendorCreate) -> Vendor:
        """Register the chat session's vendor; 409 when it already has one."""
        async with self.uow:
            if not await self.vendors.claim_chat_session(chat_session_id, actor.id, now=utcnow()):
                raise await self._refusal(chat_session_id, actor)
            vendor = self.vendors.add(
                Vendor(
                    chat_session_id=chat_session_id,
                    user_id=actor.id,
                    name=data.name,
                    phone_number=data.phone_number,
                )
            )
            await self.vendors.flush()
            self._record(EventType.VENDOR_CREATED, vendor, actor)
            await self.uow.commit()
        return vendor

    async def get_for_chat_session(self, chat_session_id: UUID, *, viewer: User) -> Vendor:
        async with self.uow:
            await self._load_chat_session_for(chat_session_id, viewer)
            vendor = await self.vendors.get_for_chat_session(chat_session_id)
        if vendor is None:
            raise VendorNotFound
        return vendor

    async def update(self, chat_session_id: UUID, *, actor: User, data: VendorUpdate) -> Vendor:
        """Change the vendor's name or phone number; omitted fields are kept."""
        async with self.uow:
            if not await self.vendors.claim_chat_session(chat_session_id, actor.id, now=utcnow()):
                raise await self._refusal(chat_session_id, actor)
            vendor = await self.vendors.get_for_chat_session(chat_session_id)
            if vendor is None:
                raise VendorNotFound
            if data.name is not None:
                vendor.name = data.name
            if data.phone_number is not None:
                vendor.phone_number = data.phone_number
            await self.vendors.flush()
            self._record(EventType.VENDOR_UPDATED, vendor, actor)
            await self.uow.commit()
        return vendor

    async def delete(self, chat_session_id: UUID, *, actor: User) -> None:
        async with self.uow:
            if not await self.vendors.claim_chat_session(chat_session_id, actor.id, now=utcnow()):
                raise await self._refusal(chat_session_id, actor)
            vendor = await self.vendors.get_for_chat_session(chat_session_id)
            if vendor is None or not await self.vendors.delete_for_chat_session(chat_session_id):
                raise VendorNotFound
            outbox.record(
                self.uow,
                EventType.VENDOR_DELETED,
                session_id=chat_session_id,
                user_id=actor.id,
                data=outbox.deleted(vendor.id, chat_session_id),
            )
            await self.uow.commit()

    def _record(self, type_: EventType, vendor: Vendor, actor: User) -> None:
        outbox.record(
            self.uow,
            type_,
            session_id=vendor.chat_session_id,
            user_id=actor.id,
            data=VendorRead.model_validate(vendor).model_dump_json(),
        )

    async def get(self, vendor_id: UUID, *, viewer: User) -> Vendor:
        async with self.uow:
            vendor = await self.vendors.get_visible(vendor_id, viewer)
        if vendor is None:
            raise VendorNotFound
        return vendor

    async def list_vendors(
        self, *, viewer: User, q: str | None, limit: int, after: UUID | None
    ) -> list[Vendor]:
        """List the viewer's vendors across chat sessions (an admin's: everyone's)."""
        async with self.uow:
            return await self.vendors.list_page(viewer=viewer, q=q, limit=limit, after=after)


class SellerService(_CatalogService):
    def __init__(self, uow: UnitOfWork) -> None:
        super().__init__(uow)
        self.sellers = SellerRepository(uow.session)

    async def create(self, chat_session_id: UUID, *, actor: User, data: SellerCreate) -> Seller:
        """Add a seller to the chat session; 409 when its name is taken there."""
        async with self.uow:
            counted = await self.sellers.claim_chat_session(
                chat_session_id, actor.id, now=utcnow(), seller_delta=1
            )
            if not counted:
                raise await self._refusal(chat_session_id, actor)
            seller = self.sellers.add(
                Seller(
                    chat_session_id=chat_session_id,
                    user_id=actor.id,
                    name=data.name,
                    name_key=name_key(data.name),
                    product=data.product,
                    description=data.description,
                    benefits=data.benefits,
                    image_url=data.image_url,
                )
            )
            await self.sellers.flush()
            self._record(EventType.SELLER_CREATED, seller, actor)
            await self.uow.commit()
        return seller

    async def get(self, seller_id: UUID, *, viewer: User) -> Seller:
        async with self.uow:
            seller = await self.sellers.get_visible(seller_id, viewer)
        if seller is None:
            raise SellerNotFound
        return seller

    async def update(self, seller_id: UUID, *, actor: User, data: SellerUpdate) -> Seller:
        """Change any of the seller's fields; 409 when the new name is taken in its session."""
        async with self.uow:
            seller = await self.sellers.claim(seller_id, actor.id, now=utcnow())
            if seller is None:
                raise await self._seller_refusal(seller_id, actor)
            changes = data.model_dump(exclude_unset=True)
            for field, value in changes.items():
                setattr(seller, field, value)
            if "name" in changes:
                seller.name_key = name_key(seller.name)
            await self.sellers.flush()
            self._record(EventType.SELLER_UPDATED, seller, actor)
            await self.uow.commit()
        return seller

    async def delete(self, seller_id: UUID, *, actor: User) -> None:
        """Delete the seller and count it out of its chat session, in one transaction."""
        now = utcnow()
        async with self.uow:
            # Locked first, so a concurrent delete of the same seller waits and then finds none.
            chat_session_id = await self.sellers.lock(seller_id, actor.id)
            if chat_session_id is None:
                raise await self._seller_refusal(seller_id, actor)
            await self.sellers.claim_chat_session(
                chat_session_id, actor.id, now=now, seller_delta=-1
            )
            await self.sellers.delete_by_id(seller_id)
            outbox.record(
                self.uow,
                EventType.SELLER_DELETED,
                session_id=chat_session_id,
                user_id=actor.id,
                data=outbox.deleted(seller_id, chat_session_id),
            )
            await self.uow.commit()

    async def list_for_chat_session(
        self,
        chat_session_id: UUID,
        *,
        viewer: User,
        q: str | None,
        limit: int,
        after: SellerPosition | None,
    ) -> list[tuple[Seller, int]]:
        async with self.uow:
            await self._load_chat_session_for(chat_session_id, viewer)
            return await self.sellers.list_for_chat_session(
                chat_session_id, q=q, limit=limit, after=after
            )

    async def search(
        self, *, viewer: User, q: str | None, limit: int, after: SellerPosition | None
    ) -> list[tuple[Seller, int]]:
        """List the viewer's sellers across chat sessions, best matches first for `q`."""
        async with self.uow:
            return await self.sellers.search(viewer=viewer, q=q, limit=limit, after=after)

    def _record(self, type_: EventType, seller: Seller, actor: User) -> None:
        outbox.record(
            self.uow,
            type_,
            session_id=seller.chat_session_id,
            user_id=actor.id,
            data=SellerRead.model_validate(seller).model_dump_json(),
        )

    async def _seller_refusal(self, seller_id: UUID, actor: User) -> ParleyError:
        if actor.role == Role.ADMIN and await self.sellers.get_visible(seller_id, actor):
            return CatalogWriteForbidden()
        return SellerNotFound()
