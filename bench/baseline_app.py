"""The baseline: the smallest FastAPI app answering envelope-shaped JSON of about the size
Parley answers, through a response_model, with no database, auth or middleware.

It marks what the framework and server cost on their own, so Parley's figures read as a
ratio to it. Served by `uvicorn bench.baseline_app:app` with the same flags as `parley serve`.
"""

from datetime import UTC, datetime, timedelta
from typing import Generic, Literal, TypeVar
from uuid import UUID, uuid4

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
SESSION_ID = uuid4()


class Envelope(BaseModel, Generic[T]):
    status: Literal["success"] = "success"
    message: str
    data: T


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class UserRead(BaseModel):
    id: UUID
    email: str
    username: str | None
    phone_number: str | None
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class MessageRead(BaseModel):
    id: UUID
    session_id: UUID
    sender: str
    kind: str
    content: str | None
    phone_number: str | None
    media: None = None
    created_at: datetime


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=4096)
    sender: Literal["customer", "agent", "bot", "system"] = "agent"
    phone_number: str | None = None


class SellerRead(BaseModel):
    id: UUID
    session_id: UUID
    name: str
    product: str
    description: str | None
    benefits: str | None
    image_url: str | None
    created_at: datetime
    updated_at: datetime


class VendorRead(BaseModel):
    id: UUID
    session_id: UUID
    name: str
    phone_number: str
    created_at: datetime
    updated_at: datetime


class SessionRead(BaseModel):
    id: UUID
    title: str
    user_id: UUID
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    message_count: int
    vendor: VendorRead | None
    seller_count: int


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    session_id: UUID


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str


def _user() -> dict[str, object]:
    return {
        "id": uuid4(),
        "email": "bench@example.com",
        "username": "bench",
        "phone_number": "+4915100000000",
        "role": "user",
        "is_active": True,
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }


def _message(seq: int, content: str = "") -> dict[str, object]:
    text = content or f"Hello, is the order #{seq} still available for delivery this week? Thanks!"
    return {
        "id": uuid4(),
        "session_id": SESSION_ID,
        "sender": "customer" if seq % 2 else "agent",
        "kind": "text",
        "content": text,
        "phone_number": "+4915112345678" if seq % 2 else None,
        "created_at": EPOCH + timedelta(seconds=seq),
    }


def _seller(n: int) -> dict[str, object]:
    return {
        "id": uuid4(),
        "session_id": SESSION_ID,
        "name": f"Seller {n:04d} Organic Goods",
        "product": "Organic cold-pressed olive oil, 500 ml bottle",
        "description": "Small-batch oil from a family grove, pressed within hours of harvest.",
        "benefits": "Rich in polyphenols; recyclable glass; ships in two days.",
        "image_url": f"https://cdn.example.com/sellers/{n:04d}.jpg",
        "created_at": EPOCH,
        "updated_at": EPOCH,
    }


def _session(n: int) -> dict[str, object]:
    sid = uuid4()
    return {
        "id": sid,
        "title": f"Customer conversation {n + 1}",
        "user_id": SESSION_ID,
        "created_at": EPOCH,
        "updated_at": EPOCH + timedelta(seconds=n),
        "last_message_at": EPOCH + timedelta(seconds=n),
        "message_count": 30,
        "vendor": None,
        "seller_count": 0,
    }


CURSOR = (
    "eyJpZCI6IjAxOTliYzQ2LTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMCIsInNlcSI6MjB9.c2lnbmF0dXJlLWJ5dGVz"
)

app = FastAPI(title="Parley bench baseline", docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/me", response_model=Envelope[UserRead])
async def me() -> dict[str, object]:
    return {"message": "Current user", "data": _user()}


@app.get("/messages", response_model=Envelope[Page[MessageRead]])
async def messages(
    limit: int = Query(20, ge=1, le=100), cursor: str | None = None
) -> dict[str, object]:
    items = [_message(seq) for seq in range(1, limit + 1)]
    return {"message": "Messages", "data": {"items": items, "next_cursor": CURSOR}}


@app.post("/messages", response_model=Envelope[MessageRead], status_code=201)
async def post_message(body: MessageCreate) -> dict[str, object]:
    return {"message": "Message posted", "data": _message(1, body.content)}


@app.get("/sellers", response_model=Envelope[Page[SellerRead]])
async def sellers(
    q: str | None = None, limit: int = Query(20, ge=1, le=100), cursor: str | None = None
) -> dict[str, object]:
    items = [_seller(n) for n in range(limit)]
    return {"message": "Sellers", "data": {"items": items, "next_cursor": CURSOR}}


@app.get("/sessions", response_model=Envelope[Page[SessionRead]])
async def sessions(
    q: str | None = None, limit: int = Query(20, ge=1, le=100), cursor: str | None = None
) -> dict[str, object]:
    items = [_session(n) for n in range(limit)]
    return {"message": "Chat sessions", "data": {"items": items, "next_cursor": CURSOR}}


@app.post("/token", response_model=Envelope[TokenPair])
async def token(body: RefreshBody) -> dict[str, object]:
    pair = {
        "access_token": "x" * 300,
        "refresh_token": "r" * 43,
        "token_type": "bearer",
        "expires_in": 900,
        "session_id": uuid4(),
    }
    return {"message": "Token refreshed", "data": pair}
