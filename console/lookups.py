"""The lookup history (/lookups): newest first, filtered by the address (bookmarkable), paged by
keyset, with the query faces' thumbnails."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from console.texts import t
from console.web import (
    LANG,
    NavItem,
    path_id,
    purged_picture,
    render,
    requester,
    service_of,
    when,
)
from gallery.lookup_pages import BANDS, STATUSES, VERDICTS, LookupFilters, LookupRow

_ID = re.compile(r"[0-9]{1,18}", re.ASCII)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
NAV = NavItem("lookups", "/lookups", "nav_lookups", "home_lookups")
# the filters a /lookups address may carry, in the order the form shows them
FILTER_NAMES = ("user", "since", "until", "identity", "band", "status", "feedback")


@dataclass(frozen=True)
class ParsedFilters:
    filters: LookupFilters
    kept: dict[str, str]  # the query's filters that were understood, as written
    invalid: list[str]  # the names of those that were not
    before: int | None
    after: int | None


def parse_filters(query: Any) -> ParsedFilters:
    """A /lookups address's filters. What is not understood is left out and named, never
    guessed at."""
    kept: dict[str, str] = {}
    invalid: list[str] = []
    values: dict[str, Any] = {}
    for name in FILTER_NAMES:
        raw = (query.get(name) or "").strip()
        if not raw:
            continue
        value: Any = None
        if name in ("user", "identity") and _ID.fullmatch(raw):
            value = int(raw)
        elif name in ("since", "until") and _DAY.fullmatch(raw):
            try:
                day = datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                day = None
            # "to" a day includes that day
            value = day + timedelta(days=1) if day and name == "until" else day
        elif (name, raw) in {("band", b) for b in BANDS} | {("status", s) for s in STATUSES} | {
            ("feedback", v) for v in VERDICTS
        }:
            value = raw
        if value is None:
            invalid.append(name)
            continue
        kept[name] = raw
        values[name] = value
    cursors: dict[str, int | None] = {}
    for name in ("before", "after"):
        raw = (query.get(name) or "").strip()
        cursors[name] = int(raw) if _ID.fullmatch(raw) else None
        if raw and cursors[name] is None:
            invalid.append(name)
    if cursors["before"] is not None and cursors["after"] is not None:
        cursors["after"] = None
    filters = LookupFilters(
        user_id=values.get("user"),
        since=values.get("since"),
        until=values.get("until"),
        identity_id=values.get("identity"),
        band=values.get("band"),
        status=values.get("status"),
        feedback=values.get("feedback"),
    )
    return ParsedFilters(filters, kept, invalid, cursors["before"], cursors["after"])


def lookups_url(kept: dict[str, str], **cursor: int) -> str:
    query = urlencode({**kept, **{k: str(v) for k, v in cursor.items()}})
    return "/lookups" + (f"?{query}" if query else "")


def _row_view(lang: str, row: LookupRow, kept: dict[str, str]) -> dict[str, Any]:
    if row.user_id is not None:
        officer = row.officer or str(row.user_id)
        officer_url = lookups_url({**kept, "user": str(row.user_id)})
    else:
        officer, officer_url = t(lang, "cli_actor", actor=row.actor), None
    candidates = []
    for c in row.candidates:
        line = t(
            lang,
            "candidate_line",
            face=c.face_index,
            name=c.display_name,
            similarity=round(c.similarity * 100),
            band=t(lang, f"band_{c.band}"),
        )
        notes = []
        if c.verdict:
            notes.append(t(lang, f"feedback_{c.verdict}"))
        if c.identity_deleted:
            notes.append(t(lang, "identity_forgotten"))
        candidates.append(
            {
                "text": line + (f" [{', '.join(notes)}]" if notes else ""),
                "url": lookups_url({**kept, "identity": str(c.identity_id)}),
                "band": c.band,
            }
        )
    return {
        "id": row.id,
        "when": when(row.created_at),
        "officer": officer,
        "officer_url": officer_url,
        "faces": [
            {"url": f"/pictures/lookup-face/{f.id}", "index": f.face_index, "purged": f.purged}
            for f in row.faces
        ],
        "candidates": candidates,
        "band": row.band,
        "band_text": t(lang, f"band_{row.band}"),
        "status": row.status,
        "status_text": t(lang, f"status_{row.status}"),
    }


async def lookups(request: web.Request) -> web.Response:
    """The lookup history, newest first, filtered by the address's query (bookmarkable)."""
    lang = request[LANG]
    parsed = parse_filters(request.query)
    page = await service_of(request).lookup_log.page(
        requester(request), parsed.filters, before=parsed.before, after=parsed.after
    )
    kept = parsed.kept
    return render(
        request,
        "lookups.html",
        {
            "nav": "lookups",
            "rows": [_row_view(lang, r, kept) for r in page.rows],
            "kept": kept,
            "invalid": parsed.invalid,
            "bands": BANDS,
            "statuses": STATUSES,
            "verdicts": VERDICTS,
            "older_url": lookups_url(kept, before=page.older) if page.older else None,
            "newer_url": lookups_url(kept, after=page.newer) if page.newer else None,
            "newest_url": lookups_url(kept) if parsed.before or parsed.after else None,
        },
    )


async def lookup_face_picture(request: web.Request) -> web.Response:
    """A query face's aligned crop, to a signed-in admin only (the guard) and never cached;
    410 "purged" once retention cleared it."""
    face_id = path_id(request, "face_id")
    crop = await service_of(request).lookup_log.face_crop(face_id, requester(request))
    if not crop.found:
        raise web.HTTPNotFound()
    if crop.jpeg is None:
        return purged_picture()
    return web.Response(body=crop.jpeg, content_type="image/jpeg")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/lookups", lookups, name="lookups")
    router.add_get("/pictures/lookup-face/{face_id}", lookup_face_picture, name="lookup_face")
