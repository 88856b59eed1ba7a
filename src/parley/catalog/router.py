"""HTTP routes of the catalog: each chat session's vendor and sellers."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from parley.api.deps import CurrentUser, PageDep
from parley.api.lane import PAGE, LaneCall, LaneRoute, lane_route
from parley.api.openapi import created_links, errors
from parley.catalog.dependencies import (
    SellerServiceDep,
    VendorServiceDep,
    catalog_hot_paths,
    hot_paths,
)
from parley.catalog.schemas import (
    SellerCreate,
    SellerRead,
    SellerUpdate,
    VendorCreate,
    VendorRead,
    VendorUpdate,
)
from parley.core.schemas import Envelope, Page, SearchQuery

router = APIRouter()
# The hot routes' lane twins (parley.api.lane), each beside its route.
lane_routes: list[LaneRoute] = []


VendorQuery = Annotated[
    SearchQuery | None, Query(description="Name or phone number contains (case-insensitive)")
]
SellerQuery = Annotated[
    SearchQuery | None,
    Query(description="Name, product, description or benefits contain (case-insensitive)"),
]


def _json(body: bytes) -> Response:
    # Bytes written from the rows; the route's response_model still documents them.
    return Response(body, media_type="application/json")


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


@router.get(
    "/sessions/{chat_session_id}/vendor",
    response_model=Envelope[VendorRead],
    responses=errors(404),
)
async def get_session_vendor(
    chat_session_id: UUID, request: Request, user: CurrentUser
) -> Response:
    """Return the vendor of a chat session; 404 when it has none."""
    return _json(await hot_paths(request).get_session_vendor(chat_session_id, viewer=user))


@lane_route(lane_routes, "GET", "/sessions/{chat_session_id}/vendor")
async def lane_get_session_vendor(call: LaneCall) -> tuple[int, bytes]:
    return 200, await catalog_hot_paths(call.resources).get_session_vendor(
        call.ids[0], viewer=call.user
    )


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


@router.get("/vendors", response_model=Envelope[Page[VendorRead]], responses=errors(400))
async def list_vendors(
    request: Request, user: CurrentUser, page: PageDep, q: VendorQuery = None
) -> Response:
    """List the caller's vendors across chat sessions, newest first (admins: everyone's)."""
    body = await hot_paths(request).list_vendors(
        viewer=user, q=q or None, limit=page.limit, cursor=page.cursor
    )
    return _json(body)


@lane_route(lane_routes, "GET", "/vendors", query=(*PAGE, "q"))
async def lane_list_vendors(call: LaneCall) -> tuple[int, bytes]:
    query = call.query
    body = await catalog_hot_paths(call.resources).list_vendors(
        viewer=call.user, q=query["q"] or None, limit=query["limit"], cursor=query["cursor"]
    )
    return 200, body


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


@router.get(
    "/sessions/{chat_session_id}/sellers",
    response_model=Envelope[Page[SellerRead]],
    responses=errors(400, 404),
)
async def list_session_sellers(
    chat_session_id: UUID,
    request: Request,
    user: CurrentUser,
    page: PageDep,
    q: SellerQuery = None,
) -> Response:
    """List a chat session's sellers, newest first (best matches first when `q` is given)."""
    body = await hot_paths(request).list_session_sellers(
        chat_session_id, viewer=user, q=q or None, limit=page.limit, cursor=page.cursor
    )
    return _json(body)


@lane_route(lane_routes, "GET", "/sessions/{chat_session_id}/sellers", query=(*PAGE, "q"))
async def lane_list_session_sellers(call: LaneCall) -> tuple[int, bytes]:
    query = call.query
    body = await catalog_hot_paths(call.resources).list_session_sellers(
        call.ids[0],
        viewer=call.user,
        q=query["q"] or None,
        limit=query["limit"],
        cursor=query["cursor"],
    )
    return 200, body


@router.get("/sellers", response_model=Envelope[Page[SellerRead]], responses=errors(400))
async def search_sellers(
    request: Request, user: CurrentUser, page: PageDep, q: SellerQuery = None
) -> Response:
    """List the caller's sellers across chat sessions (admins: everyone's).

    With `q`, name matches come first, then product matches, then description or benefits
    matches; newest first within each.
    """
    body = await hot_paths(request).search_sellers(
        viewer=user, q=q or None, limit=page.limit, cursor=page.cursor
    )
    return _json(body)


@lane_route(lane_routes, "GET", "/sellers", query=(*PAGE, "q"))
async def lane_search_sellers(call: LaneCall) -> tuple[int, bytes]:
    query = call.query
    body = await catalog_hot_paths(call.resources).search_sellers(
        viewer=call.user, q=query["q"] or None, limit=query["limit"], cursor=query["cursor"]
    )
    return 200, body


@router.get("/sellers/{seller_id}", response_model=Envelope[SellerRead], responses=errors(404))
async def get_seller(seller_id: UUID, request: Request, user: CurrentUser) -> Response:
    """Return one seller."""
    return _json(await hot_paths(request).get_seller(seller_id, viewer=user))


@lane_route(lane_routes, "GET", "/sellers/{seller_id}")
async def lane_get_seller(call: LaneCall) -> tuple[int, bytes]:
    return 200, await catalog_hot_paths(call.resources).get_seller(call.ids[0], viewer=call.user)


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
