"""HTTP routes of chat sessions and their messages."""

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import ValidationError

from parley.api.deps import CurrentUser, PageDep
from parley.api.lane import PAGE, LaneCall, LaneRoute, lane_route, read_body
from parley.api.openapi import created_links, errors
from parley.chats.dependencies import (
    ChatServiceDep,
    chat_hot_paths,
    hot_paths,
    opened_chat_service,
    resources_of,
)
from parley.chats.errors import UnsupportedMessageBody, invalid_body
from parley.chats.schemas import (
    ChatSessionCreate,
    ChatSessionRead,
    ChatSessionUpdate,
    MediaMessageFields,
    MessageCreate,
    MessageRead,
)
from parley.core.config import Settings
from parley.core.errors import BadRequest, PayloadTooLarge, ValidationFailed
from parley.core.schemas import Envelope, Page, SearchQuery
from parley.media.multipart import MultipartUpload

# Room for the multipart framing and the text fields around the file.
MULTIPART_OVERHEAD_BYTES = 256 * 1024

router = APIRouter()
# The hot routes' lane twins (parley.api.lane), each beside its route.
lane_routes: list[LaneRoute] = []


def _json(body: bytes, status_code: int = status.HTTP_200_OK) -> Response:
    # Bytes written from the rows; the route's response_model still documents them.
    return Response(body, status_code=status_code, media_type="application/json")


Query_q = Annotated[SearchQuery | None, Query(description="Case-insensitive text to look for")]


_SESSION = {"chat_session_id": "$response.body#/data/id"}


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    responses=created_links(
        GetSession=("get", "/sessions/{chat_session_id}", _SESSION),
        RenameSession=("patch", "/sessions/{chat_session_id}", _SESSION),
        DeleteSession=("delete", "/sessions/{chat_session_id}", _SESSION),
        PostMessage=("post", "/sessions/{chat_session_id}/messages", _SESSION),
        ListMessages=("get", "/sessions/{chat_session_id}/messages", _SESSION),
        CreateVendor=("post", "/sessions/{chat_session_id}/vendor", _SESSION),
        CreateSeller=("post", "/sessions/{chat_session_id}/sellers", _SESSION),
        ListSellers=("get", "/sessions/{chat_session_id}/sellers", _SESSION),
    ),
)
async def create_session(
    data: ChatSessionCreate, user: CurrentUser, chats: ChatServiceDep
) -> Envelope[ChatSessionRead]:
    """Open a chat session; without a title its first text message names it."""
    chat_session = await chats.create_session(owner=user, data=data)
    return Envelope(message="Session created", data=ChatSessionRead.model_validate(chat_session))


@router.get("/sessions", response_model=Envelope[Page[ChatSessionRead]], responses=errors(400))
async def list_sessions(
    request: Request, user: CurrentUser, page: PageDep, q: Query_q = None
) -> Response:
    """List the caller's chat sessions, most recently active first; `q` searches titles."""
    body = await hot_paths(request).list_sessions(
        owner=user, limit=page.limit, cursor=page.cursor, q=q
    )
    return _json(body)


@lane_route(lane_routes, "GET", "/sessions", query=(*PAGE, "q"))
async def lane_list_sessions(call: LaneCall) -> tuple[int, bytes]:
    query = call.query
    body = await chat_hot_paths(call.resources).list_sessions(
        owner=call.user, limit=query["limit"], cursor=query["cursor"], q=query["q"]
    )
    return 200, body


@router.get(
    "/sessions/{chat_session_id}",
    response_model=Envelope[ChatSessionRead],
    responses=errors(404),
)
async def get_session(chat_session_id: UUID, request: Request, user: CurrentUser) -> Response:
    """Read a chat session (owner or admin)."""
    return _json(await hot_paths(request).get_session(chat_session_id, viewer=user))


@lane_route(lane_routes, "GET", "/sessions/{chat_session_id}")
async def lane_get_session(call: LaneCall) -> tuple[int, bytes]:
    return 200, await chat_hot_paths(call.resources).get_session(call.ids[0], viewer=call.user)


@router.patch("/sessions/{chat_session_id}", responses=errors(403, 404))
async def rename_session(
    chat_session_id: UUID, data: ChatSessionUpdate, user: CurrentUser, chats: ChatServiceDep
) -> Envelope[ChatSessionRead]:
    """Rename a chat session (owner only)."""
    chat_session = await chats.rename_session(chat_session_id, actor=user, data=data)
    return Envelope(message="Session updated", data=ChatSessionRead.model_validate(chat_session))


@router.delete("/sessions/{chat_session_id}", responses=errors(403, 404))
async def delete_session(
    chat_session_id: UUID, user: CurrentUser, chats: ChatServiceDep
) -> Envelope[None]:
    """Delete a chat session with its messages, media, vendor and sellers (owner only)."""
    await chats.delete_session(chat_session_id, actor=user)
    return Envelope(message="Session deleted", data=None)


async def post_message(chat_session_id: UUID, request: Request, user: CurrentUser) -> Response:
    """Post a message: JSON for text, multipart/form-data (`file`, optional caption) for media.

    The file's type is read from its bytes: JPEG, PNG, WebP, GIF, OGG, MP3, M4A/AAC, MP4, PDF;
    anything else is 415, a file over MEDIA_MAX_BYTES 413.
    """
    resources = resources_of(request)
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        data = _text_message(await _read_json(request, resources.settings.max_body_bytes))
        body = await hot_paths(request).post_text_message(chat_session_id, author=user, data=data)
        return _json(body, status.HTTP_201_CREATED)
    if media_type != "multipart/form-data":
        raise UnsupportedMessageBody
    upload = MultipartUpload(
        request.stream(), content_type, text_fields=MediaMessageFields.model_fields
    )
    async with opened_chat_service(resources) as chats:
        message = await chats.post_media_message(chat_session_id, author=user, upload=upload)
    posted = Envelope[MessageRead](
        message="Message posted", data=MessageRead.model_validate(message)
    )
    return _json(posted.model_dump_json().encode(), status.HTTP_201_CREATED)


@lane_route(
    lane_routes,
    "POST",
    "/sessions/{chat_session_id}/messages",
    content_type=b"application/json",
)
async def lane_post_text_message(call: LaneCall) -> tuple[int, bytes]:
    # The edge bounds the body to MAX_BODY_BYTES, the route's own limit for JSON.
    data = _text_message(_parse_json(await read_body(call.receive)))
    hot = chat_hot_paths(call.resources)
    body = await hot.post_text_message(call.ids[0], author=call.user, data=data)
    return status.HTTP_201_CREATED, body


async def _read_json(request: Request, limit: int) -> Any:
    """Read a JSON body of at most `limit` bytes (the route's own limit is the media one)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge
    return _parse_json(body)


def _parse_json(body: bytes | bytearray) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequest("Malformed JSON body") from None


def _text_message(payload: Any) -> MessageCreate:
    if not isinstance(payload, dict):
        raise ValidationFailed("Request body must be a JSON object")
    try:
        return MessageCreate.model_validate(payload)
    except ValidationError as exc:
        raise invalid_body(exc) from None


@router.get(
    "/sessions/{chat_session_id}/messages",
    response_model=Envelope[Page[MessageRead]],
    responses=errors(400, 404),
)
async def list_messages(
    chat_session_id: UUID,
    request: Request,
    user: CurrentUser,
    page: PageDep,
    q: Query_q = None,
    order: Annotated[
        Literal["asc", "desc"], Query(description="Chronological (asc) or newest first (desc)")
    ] = "asc",
) -> Response:
    """List a chat session's messages in posting order; `q` searches their text."""
    body = await hot_paths(request).list_messages(
        chat_session_id,
        viewer=user,
        limit=page.limit,
        cursor=page.cursor,
        descending=order == "desc",
        q=q,
        fresh=getattr(request.state, "no_cache", False),
    )
    return _json(body)


@lane_route(lane_routes, "GET", "/sessions/{chat_session_id}/messages", query=(*PAGE, "q", "order"))
async def lane_list_messages(call: LaneCall) -> tuple[int, bytes]:
    query = call.query
    body = await chat_hot_paths(call.resources).list_messages(
        call.ids[0],
        viewer=call.user,
        limit=query["limit"],
        cursor=query["cursor"],
        descending=query["order"] == "desc",
        q=query["q"],
        fresh=call.no_cache,
    )
    return 200, body


@router.get("/messages/{message_id}", responses=errors(404))
async def get_message(
    message_id: UUID, user: CurrentUser, chats: ChatServiceDep
) -> Envelope[MessageRead]:
    """Read a message (the session's owner or an admin)."""
    message = await chats.get_message(message_id, viewer=user)
    return Envelope(message="Message", data=MessageRead.model_validate(message))


@router.delete("/messages/{message_id}", responses=errors(403, 404))
async def delete_message(
    message_id: UUID, user: CurrentUser, chats: ChatServiceDep
) -> Envelope[None]:
    """Delete a message and its file (owner only); later messages keep their order."""
    await chats.delete_message(message_id, actor=user)
    return Envelope(message="Message deleted", data=None)


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    """Resolve pydantic's local `$defs` references, so the schema stands alone in OpenAPI."""
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {key: _inline_refs(value, defs) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inline_refs(item, defs) for item in schema]
    return schema


def _schema(model: type[MessageCreate] | type[MediaMessageFields]) -> Any:
    schema = model.model_json_schema()
    return _inline_refs(schema, schema.get("$defs", {}))


def _message_bodies() -> dict[str, Any]:
    upload = _schema(MediaMessageFields)
    upload["properties"] = {
        "file": {
            "type": "string",
            "format": "binary",
            "minLength": 1,  # an empty file is refused
            "description": "The file to send",
        },
        **upload["properties"],
    }
    upload["required"] = ["file"]
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _schema(MessageCreate)},
                "multipart/form-data": {"schema": upload},
            },
        }
    }


_MESSAGE = {"message_id": "$response.body#/data/id"}


def build_router(settings: Settings) -> APIRouter:
    """Return the chats routes; the upload route's body limit follows MEDIA_MAX_BYTES."""
    built = APIRouter()
    built.include_router(router)
    built.add_api_route(
        "/sessions/{chat_session_id}/messages",
        post_message,
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=Envelope[MessageRead],
        responses={
            **errors(400, 403, 404, 413, 415, 422),
            **created_links(
                GetMessage=("get", "/messages/{message_id}", _MESSAGE),
                DeleteMessage=("delete", "/messages/{message_id}", _MESSAGE),
            ),
        },
        openapi_extra=_message_bodies(),
        max_body_size=settings.media_max_bytes + MULTIPART_OVERHEAD_BYTES,
    )
    return built
