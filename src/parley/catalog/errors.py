"""Errors of the catalog domain."""

from parley.core.errors import Conflict, FieldError, Forbidden, NotFound


class CatalogWriteForbidden(Forbidden):
    message = "Only the session's owner can change its vendor and sellers"


class VendorNotFound(NotFound):
    message = "Vendor not found"


class VendorExists(Conflict):
    message = "This session already has a vendor"


class SellerNotFound(NotFound):
    message = "Seller not found"


class SellerNameTaken(Conflict):
    message = "A seller with this name already exists in this session"

    def __init__(self) -> None:
        super().__init__(details=[FieldError("body.name", "is already taken in this session")])
