"""The gallery: one object for all database access, composed of one repository per area."""

from __future__ import annotations

import asyncpg

from gallery.albums import Albums
from gallery.alert_deliveries import AlertDeliveries
from gallery.audit_log import AuditLog
from gallery.bulk import Bulk
from gallery.console_sessions import ConsoleSessions
from gallery.database import Database
from gallery.faces import Faces
from gallery.feedback import Feedback
from gallery.identities import Identities
from gallery.inbox import Inbox
from gallery.indexes import VectorIndexes
from gallery.jobs import Jobs
from gallery.lookup_pages import LookupPages
from gallery.lookups import Lookups
from gallery.models import Models
from gallery.replies import Replies
from gallery.seal import AuditKey
from gallery.search import Search
from gallery.sightings import Sightings
from gallery.templates import Templates
from gallery.users import Users
from gallery.watchlists import Watchlists


class Gallery:
    """All database access: `gallery.users.get(...)`, `gallery.lookups.finish(...)`, ... Every
    repository works on the one shared `db` (pool, transactions, the sealed audit append)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        audit_key: AuditKey | None = None,
        owner_dsn: str | None = None,
        ef_search: int = 200,
        shortlist: int = 200,
    ) -> None:
        self.db = Database(pool, audit_key=audit_key, owner_dsn=owner_dsn)
        self.models = Models(self.db)
        self.users = Users(self.db)
        self.templates = Templates(self.db)
        self.identities = Identities(self.db, self.templates)
        self.faces = Faces(self.db, self.templates)
        self.search = Search(self.db, ef_search=ef_search, shortlist=shortlist)
        self.lookups = Lookups(self.db)
        self.replies = Replies(self.db)
        self.feedback = Feedback(self.db)
        self.jobs = Jobs(self.db)
        self.inbox = Inbox(self.db)
        self.audit = AuditLog(self.db)
        self.bulk = Bulk(self.db)
        self.indexes = VectorIndexes(self.db)
        # the admin console: sign-in links and sessions; the lookup history page by page
        self.console_sessions = ConsoleSessions(self.db)
        self.lookup_pages = LookupPages(self.db)
        self.sightings = Sightings(
            self.db, self.identities, self.faces, ef_search=ef_search, shortlist=shortlist
        )
        self.watchlists = Watchlists(self.db)
        self.albums = Albums(self.db, self.lookups)
        self.alerts = AlertDeliveries(self.db)

    @property
    def pool(self) -> asyncpg.Pool:
        return self.db.pool
