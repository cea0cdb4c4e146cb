"""Reading the lookup history page by page (the console's /lookups), each page view audited."""

from __future__ import annotations

from typing import Any

from gallery.console import GalleryCore
from gallery.lookup_pages import PAGE_SIZE, FaceCrop, LookupFilters, LookupPage, LookupPages


class LookupHistory:
    """The history's pages and the query faces' crops, for a signed-in admin."""

    def __init__(self, core: GalleryCore) -> None:
        self.core = core
        self.pages = LookupPages(core)

    async def page(
        self,
        actor: str,
        filters: LookupFilters,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> LookupPage:
        """A page of lookups, audited as `lookups.list` with its filters and what it showed
        (the bot's /lookups writes the same action)."""
        page = await self.pages.page(filters, before=before, after=after, limit=limit)
        details: dict[str, Any] = {
            "via": "console",
            "rows": len(page.rows),
            "first": page.rows[0].id if page.rows else None,
            "last": page.rows[-1].id if page.rows else None,
        }
        for name, value in (
            ("user", filters.user_id),
            ("since", filters.since.isoformat() if filters.since else None),
            ("until", filters.until.isoformat() if filters.until else None),
            ("identity", filters.identity_id),
            ("band", filters.band),
            ("status", filters.status),
            ("feedback", filters.feedback),
            ("before", before),
            ("after", after),
        ):
            if value is not None:
                details[name] = value
        target = f"user:{filters.user_id}" if filters.user_id is not None else None
        await self.core.audit(actor, "lookups.list", target, details)
        return page

    async def face_crop(self, lookup_face_id: int) -> FaceCrop:
        """A query face's crop for its thumbnail. Not audited one by one: the page that listed
        it was, with the lookups it showed."""
        return await self.pages.face_crop(lookup_face_id)
