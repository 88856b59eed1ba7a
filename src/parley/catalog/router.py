"""HTTP routes of the catalog: each chat session's vendor and sellers."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, status

from parley.api.deps import CurrentUser, DbSession, PageDep, ResourcesDep
from parley.api.openapi import created_links, errors
from parley.catalog.repository import SELLER_RANKS, SellerPosition
from parley.catalog.schemas import (
    SellerCreate,
    SellerRead,
    SellerUpdate,
    VendorCreate,
    VendorRead,
    VendorUpdate,
)
from parley.catalog.service import SellerService, VendorService
from parley.core.cursors import InvalidCursor, cursor_uuid, list_scope
from parley.core.schemas import Envelope, Page, SearchQuery
from parley.db.uow import UnitOfWork
from parley.models.catalog import Seller

router = APIRouter()


async def vendor_service(db: DbSession) -> VendorService:
    return VendorService(UnitOfWork(db))


async def seller_service(db: DbSession) -> SellerService:
    return SellerService(UnitOfWork(db))


VendorServiceDep = Annotated[VendorService, Depends(vendor_service)]
SellerServiceDep = Annotated[SellerService, Depends(seller_service)]
VendorQuery = Annotated[
    SearchQuery | None, Query(description="Name or phone number contains (case-insensitive)")
]
SellerQuery = Annotated[
    SearchQuery | None,
    Query(description="Name, product, description or benefits contain (case-insensitive)"),
]


def _seller_after(resources: ResourcesDep, cursor: str | None, scope: str) -> SellerPosition | None:
    if cursor is None:
        return None
    position = resources.cursors.decode(cursor, scope=scope, expect=frozenset({"rank", "id"}))
    rank = position["rank"]
    if type(rank) is not int or rank not in SELLER_RANKS:
        raise InvalidCursor
    return SellerPosition(rank=rank, id=cursor_uuid(position["id"]))


def _seller_page(
    resources: ResourcesDep, rows: list[tuple[Seller, int]], limit: int, scope: str
) -> Page[SellerRead]:
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        seller, rank = items[-1]
        next_cursor = resources.cursors.encode({"rank": rank, "id": str(seller.id)}, scope=scope)
    return Page[SellerRead](
        items=[SellerRead.model_validate(s) for s, _ in items], next_cursor=next_cursor
    )


# Vendors ------------------------------------------------------------------------------------


_VENDOR_SESSION = {"chat_session_id": "$request.path.chat_session_id"}
_VENDOR = {"vendor_id": "$response.body#/data/id"}


@router.post(
    "/sessions/{chat_session_id}/vendor",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 404, 409),
        **created_links(
            GetSessionVendor=("get", "/sessions/{chat_session_id}/vendor", _VENDOR_SESSION),
            UpdateVendor=("patch", "/sessions/{chat_session_id}/vendor", _VENDOR_SESSION),
            DeleteVendor=("delete", "/sessions/{chat_session_id}/vendor", _VENDOR_SESSION),
            GetVendor=("get", "/vendors/{vendor_id}", _VENDOR),
        ),
    },
)
async def create_vendor(
    chat_session_id: UUID, data: VendorCreate, user: CurrentUser, service: VendorServiceDep
) -> Envelope[VendorRead]:
    """Register the vendor of a chat session (one per session; a second one is 409)."""
    vendor = await service.create(chat_session_id, actor=user, data=data)
    return Envelope(message="Vendor created", data=VendorRead.model_validate(vendor))


@router.get("/sessions/{chat_session_id}/vendor", responses=errors(404))
async def get_session_vendor(
    chat_session_id: UUID, user: CurrentUser, service: VendorServiceDep
) -> Envelope[VendorRead]:
    """Return the vendor of a chat session; 404 when it has none."""
    vendor = await service.get_for_chat_session(chat_session_id, viewer=user)
    return Envelope(message="Vendor", data=VendorRead.model_validate(vendor))


@router.patch("/sessions/{chat_session_id}/vendor", responses=errors(403, 404))
async def update_vendor(
    chat_session_id: UUID, data: VendorUpdate, user: CurrentUser, service: VendorServiceDep
) -> Envelope[VendorRead]:
    """Change the vendor's name or phone number."""
    vendor = await service.update(chat_session_id, actor=user, data=data)
    return Envelope(message="Vendor updated", data=VendorRead.model_validate(vendor))


@router.delete("/sessions/{chat_session_id}/vendor", responses=errors(403, 404))
async def delete_vendor(
    chat_session_id: UUID, user: CurrentUser, service: VendorServiceDep
) -> Envelope[None]:
    """Remove the vendor of a chat session."""
    await service.delete(chat_session_id, actor=user)
    return Envelope(message="Vendor deleted", data=None)


@router.get("/vendors", responses=errors(400))
async def list_vendors(
    user: CurrentUser,
    service: VendorServiceDep,
    resources: ResourcesDep,
    page: PageDep,
    q: VendorQuery = None,
) -> Envelope[Page[VendorRead]]:
    """List the caller's vendors across chat sessions, newest first (admins: everyone's)."""
    scope = list_scope("vendors", user.id)
    after = resources.cursors.decode_id(page.cursor, scope=scope)
    rows = await service.list_vendors(viewer=user, q=q or None, limit=page.limit + 1, after=after)
    items = rows[: page.limit]
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = resources.cursors.encode_id(items[-1].id, scope=scope)
    data = Page[VendorRead](
        items=[VendorRead.model_validate(v) for v in items], next_cursor=next_cursor
    )
    return Envelope(message="Vendors", data=data)


@router.get("/vendors/{vendor_id}", responses=errors(404))
async def get_vendor(
    vendor_id: UUID, user: CurrentUser, service: VendorServiceDep
) -> Envelope[VendorRead]:
    """Return one vendor."""
    vendor = await service.get(vendor_id, viewer=user)
    return Envelope(message="Vendor", data=VendorRead.model_validate(vendor))


# Sellers ------------------------------------------------------------------------------------


_SELLER = {"seller_id": "$response.body#/data/id"}


@router.post(
    "/sessions/{chat_session_id}/sellers",
    status_code=status.HTTP_201_CREATED,
    responses={
        **errors(403, 404, 409),
        **created_links(
            GetSeller=("get", "/sellers/{seller_id}", _SELLER),
            UpdateSeller=("patch", "/sellers/{seller_id}", _SELLER),
            DeleteSeller=("delete", "/sellers/{seller_id}", _SELLER),
        ),
    },
)
async def create_seller(
    chat_session_id: UUID, data: SellerCreate, user: CurrentUser, service: SellerServiceDep
) -> Envelope[SellerRead]:
    """Add a seller to a chat session; names are unique per session, ignoring case."""
    seller = await service.create(chat_session_id, actor=user, data=data)
    return Envelope(message="Seller created", data=SellerRead.model_validate(seller))


@router.get("/sessions/{chat_session_id}/sellers", responses=errors(400, 404))
async def list_session_sellers(
    chat_session_id: UUID,
    user: CurrentUser,
    service: SellerServiceDep,
    resources: ResourcesDep,
    page: PageDep,
    q: SellerQuery = None,
) -> Envelope[Page[SellerRead]]:
    """List a chat session's sellers, newest first (best matches first when `q` is given)."""
    # `q` ranks the sellers, so a cursor holds only within the same search.
    scope = list_scope("session-sellers", chat_session_id, q or None)
    rows = await service.list_for_chat_session(
        chat_session_id,
        viewer=user,
        q=q or None,
        limit=page.limit + 1,
        after=_seller_after(resources, page.cursor, scope),
    )
    return Envelope(message="Sellers", data=_seller_page(resources, rows, page.limit, scope))


@router.get("/sellers", responses=errors(400))
async def search_sellers(
    user: CurrentUser,
    service: SellerServiceDep,
    resources: ResourcesDep,
    page: PageDep,
    q: SellerQuery = None,
) -> Envelope[Page[SellerRead]]:
    """List the caller's sellers across chat sessions (admins: everyone's).

    With `q`, name matches come first, then product matches, then description or benefits
    matches; newest first within each.
    """
    scope = list_scope("sellers", user.id, q or None)
    rows = await service.search(
        viewer=user,
        q=q or None,
        limit=page.limit + 1,
        after=_seller_after(resources, page.cursor, scope),
    )
    return Envelope(message="Sellers", data=_seller_page(resources, rows, page.limit, scope))


@router.get("/sellers/{seller_id}", responses=errors(404))
async def get_seller(
    seller_id: UUID, user: CurrentUser, service: SellerServiceDep
) -> Envelope[SellerRead]:
    """Return one seller."""
    seller = await service.get(seller_id, viewer=user)
    return Envelope(message="Seller", data=SellerRead.model_validate(seller))


@router.patch("/sellers/{seller_id}", responses=errors(403, 404, 409))
async def update_seller(
    seller_id: UUID, data: SellerUpdate, user: CurrentUser, service: SellerServiceDep
) -> Envelope[SellerRead]:
    """Change any of a seller's fields; `null` clears description, benefits or image_url."""
    seller = await service.update(seller_id, actor=user, data=data)
    return Envelope(message="Seller updated", data=SellerRead.model_validate(seller))


@router.delete("/sellers/{seller_id}", responses=errors(403, 404))
async def delete_seller(
    seller_id: UUID, user: CurrentUser, service: SellerServiceDep
) -> Envelope[None]:
    """Delete a seller."""
    await service.delete(seller_id, actor=user)
    return Envelope(message="Seller deleted", data=None)
