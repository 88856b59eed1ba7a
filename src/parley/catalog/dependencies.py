"""FastAPI dependency factories of the catalog: its services, and the lean reads' use cases."""

from typing import Annotated

from fastapi import Depends, Request

from parley.api.deps import DbSession
from parley.api.resources import Resources
from parley.catalog.hot_paths import CatalogHotPaths
from parley.catalog.service import SellerService, VendorService
from parley.db.uow import UnitOfWork


async def vendor_service(db: DbSession) -> VendorService:
    return VendorService(UnitOfWork(db))


async def seller_service(db: DbSession) -> SellerService:
    return SellerService(UnitOfWork(db))


VendorServiceDep = Annotated[VendorService, Depends(vendor_service)]
SellerServiceDep = Annotated[SellerService, Depends(seller_service)]


def hot_paths(request: Request) -> CatalogHotPaths:
    """The lean reads, called from their routes: those resolve only the caller and the
    parameters (no session or service dependencies: each costs a resolution on every
    request)."""
    resources: Resources = request.app.state.resources
    return catalog_hot_paths(resources)


def catalog_hot_paths(resources: Resources) -> CatalogHotPaths:
    return CatalogHotPaths(resources.database, resources.cursors, resources.seller_searches)
