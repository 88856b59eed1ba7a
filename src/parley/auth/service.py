"""Auth use cases: each opens the unit of work, applies the rules and commits."""

from dataclasses import dataclass
from uuid import UUID

from parley.auth.errors import InvalidAccessToken
from parley.auth.repository import LoginSessionRepository
from parley.core.clock import utcnow
from parley.core.tokens import InvalidToken, TokenCodec
from parley.db.engine import Database
from parley.models.user import User


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user and the login session the access token belongs to."""

    user: User
    login_session_id: UUID


async def authenticate_access(token: str, *, tokens: TokenCodec, database: Database) -> Principal:
    """Accept an access token only while its login session is live and its user active."""
    try:
        claims = tokens.decode(token)
    except InvalidToken:
        raise InvalidAccessToken from None
    # A short session of its own: the request's session must start its transaction fresh.
    async with database.sessions() as db:
        found = await LoginSessionRepository(db).get_live_with_user(
            claims.login_session_id, user_id=claims.user_id, now=utcnow()
        )
    if found is None:
        raise InvalidAccessToken
    return Principal(user=found[1], login_session_id=claims.login_session_id)
