"""The long-lived objects one application instance shares across requests."""

from dataclasses import dataclass

from parley.chats.page_cache import PageCache
from parley.core.config import Settings
from parley.core.cursors import CursorCodec
from parley.core.mail import Mailer
from parley.core.media_storage import MediaStorage
from parley.core.ratelimit import Limiter
from parley.core.tokens import TokenCodec
from parley.core.versioned_cache import VersionedCache
from parley.db.engine import Database
from parley.events.bell import Doorbell
from parley.events.fanout import Fanout
from parley.events.tickets import TicketStore
from parley.jobs.service import JobQueue
from parley.logins.cache import AccessCache


@dataclass(slots=True)
class Resources:
    settings: Settings
    database: Database
    tokens: TokenCodec
    cursors: CursorCodec
    login_failures: Limiter
    mailer: Mailer
    media: MediaStorage
    access_cache: AccessCache
    doorbell: Doorbell
    event_fanout: Fanout
    event_tickets: TicketStore
    jobs: JobQueue
    # Pages of seller searches by catalogue version, in this worker (decision 190).
    seller_searches: VersionedCache
    # Pages of messages until their session changes, in this worker (decision 202).
    message_pages: PageCache
