"""The gallery's identities: found by name or reference (/identities), and one identity with its
reference faces, poor ones marked, and the lookups that matched it (/identities/{id})."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from console.texts import REASONS, t
from console.web import (
    LANG,
    NavItem,
    no_store_picture,
    parse_id,
    path_id,
    purged_picture,
    render,
    requester,
    service_of,
    state_of,
    when,
    with_query,
)
from gallery import Identity
from gallery.lookup_pages import LookupFilters

NAV = NavItem("identities", "/identities", "nav_identities", "home_identities")
PAGE_SIZE = 50
# the lookups an identity's page lists; the rest are on /lookups?identity=ID
LOOKUPS_SHOWN = 20


async def identities(request: web.Request) -> web.Response:
    """Identities newest first, or those whose name or reference contains the query."""
    query = (request.query.get("q") or "").strip()[:200] or None
    forgotten = request.query.get("forgotten") == "1"
    before = parse_id(request.query.get("before"))
    found = await service_of(request).identity_cards.listing(
        requester(request),
        query,
        include_forgotten=forgotten,
        before=before,
        limit=PAGE_SIZE + 1,
    )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    lang = request[LANG]
    older = (
        with_query(
            "/identities", q=query, forgotten="1" if forgotten else None, before=found[-1].id
        )
        if more and found
        else None
    )
    return render(
        request,
        "identities.html",
        {
            "nav": "identities",
            "query": query or "",
            "forgotten": forgotten,
            "rows": [_row(lang, i) for i in found],
            "older_url": older,
            "newest_url": with_query("/identities", q=query) if before else None,
        },
    )


def _row(lang: str, identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "name": identity.display_name,
        "external_ref": identity.external_ref,
        "faces": identity.face_count,
        "state": state_text(lang, identity),
        "created": when(identity.created_at),
    }


def state_text(lang: str, identity: Identity) -> str:
    if identity.merged_into is not None:
        return t(lang, "identity_state_merged", into=identity.merged_into)
    if identity.erased:
        return t(lang, "identity_state_erased")
    if identity.deleted:
        return t(lang, "identity_state_forgotten")
    return t(lang, "identity_state_active")


async def identity(request: web.Request) -> web.Response:
    """One identity: its reference faces and the lookups that matched it; viewing it is
    audited (`identity.view`), the lookups listed as `lookups.list`."""
    identity_id = path_id(request)
    service = service_of(request)
    who = requester(request)
    card = await service.identity_cards.page(identity_id, who)
    if card is None:
        return render(request, "not_found.html", {"nav": "identities"}, status=404)
    lang = request[LANG]
    matched = await service.lookup_log.page(
        who, LookupFilters(identity_id=identity_id), limit=LOOKUPS_SHOWN
    )
    ident = card.identity
    grace = state_of(request).settings.forget_grace_days
    restorable_until = (
        ident.deleted_at + timedelta(days=grace)
        if ident.deleted_at and not ident.erased and ident.merged_into is None
        else None
    )
    return render(
        request,
        "identity.html",
        {
            "nav": "identities",
            "identity": ident,
            "state": state_text(lang, ident),
            "created": when(ident.created_at),
            "merged_into": card.merged_into,
            "faces": [
                {
                    "id": f.id,
                    "url": f"/pictures/face/{f.id}",
                    "has_picture": f.crop_jpeg is not None,
                    "poor": f.low_quality,
                    "flags": ", ".join(
                        t(lang, f"reason_{x}")
                        for x in f.quality.get("reference_flags") or []
                        if x in REASONS
                    ),
                    "added": when(f.created_at),
                    "added_by": f.added_by,
                }
                for f in card.faces
            ],
            "lookups": [
                {"id": r.id, "when": when(r.created_at), "officer": r.officer or r.actor}
                for r in matched.rows
            ],
            "more_lookups": matched.older is not None,
            "active": not ident.deleted,
            "restorable": restorable_until is not None and restorable_until > datetime.now(UTC),
            "restorable_until": when(restorable_until),
            "grace_days": grace,
        },
    )


async def face_picture(request: web.Request) -> web.Response:
    """A reference face's crop, to a signed-in admin only, never cached; 410 when it has none
    (imported without one, or erased)."""
    face_id = path_id(request)
    found = await service_of(request).identity_cards.face_picture(face_id, requester(request))
    if not found.found:
        raise web.HTTPNotFound()
    return purged_picture() if found.jpeg is None else no_store_picture(found.jpeg)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/identities", identities, name="identities")
    router.add_get("/identities/{id}", identity, name="identity")
    router.add_get("/pictures/face/{id}", face_picture, name="face_picture")
