"""One lookup (/lookups/{id}): the photo with numbered boxes while retention keeps it, each face
with its candidates beside their reference faces, the feedback given, and the lookup's audit rows.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from console.texts import REASONS, number, t
from console.web import (
    LANG,
    no_store_picture,
    path_id,
    purged_picture,
    render,
    requester,
    service_of,
    when,
)
from facefind.scoring.bands import rarity_text
from gallery import Lookup, StoredCandidate, StoredLookupFace


async def lookup(request: web.Request) -> web.Response:
    """A lookup as the record holds it; viewing it is audited (`lookup.view`)."""
    lookup_id = path_id(request)
    service = service_of(request)
    who = requester(request)
    found = await service.lookup_log.view(lookup_id, who)
    if found is None:
        return render(request, "not_found.html", {"nav": "lookups"}, status=404)
    lang = request[LANG]
    several = (found.face_count or 0) > 1
    overview = await service.lookup_log.overview(found.id, who) if several else None
    rows = await service.audit_trail.about_lookup(found, who)
    officer = await service.lookup_log.asked_by(found)
    return render(
        request,
        "lookup.html",
        {
            "nav": "lookups",
            "lookup": found,
            "when": when(found.created_at),
            "officer": officer.display if officer else t(lang, "cli_actor", actor=found.actor),
            "officer_id": found.user_id,
            "status_text": t(lang, f"status_{found.status}"),
            "several": several,
            "overview_url": f"/pictures/lookup/{found.id}/overview" if overview else None,
            "faces": [_face_view(lang, found, face) for face in found.faces],
            "audit_rows": [
                {**r, "when": when(r["at"]), "details_text": _details(r["details"])} for r in rows
            ],
        },
    )


def _face_view(lang: str, found: Lookup, face: StoredLookupFace) -> dict[str, Any]:
    reasons = face.quality.get("reasons") or []
    own = [c for c in face.candidates if c.held_by_face is None]
    leads = [c for c in face.candidates if c.held_by_face is not None]
    return {
        "index": face.face_index,
        "crop_url": f"/pictures/lookup-face/{face.id}" if face.crop_jpeg is not None else None,
        "quality": ", ".join(t(lang, f"reason_{r}") for r in reasons if r in REASONS) or None,
        "candidates": [_candidate_view(lang, found, c, len(own)) for c in own + leads],
        "none": not own,
    }


def _candidate_view(lang: str, found: Lookup, c: StoredCandidate, total: int) -> dict[str, Any]:
    identities = found.bands.get("identities") if found.bands else None
    rate = rarity_text(
        c.false_candidate_rate,
        identities if isinstance(identities, int) else None,
        about=t(lang, "candidate_rate"),
        fewer=t(lang, "candidate_rate_rare"),
        number=lambda n: number(lang, n),
    )
    return {
        "id": c.id,
        "rank": c.rank,
        "total": total,
        "lead_of": c.held_by_face,
        "identity_id": c.identity_id,
        "name": c.display_name,
        "external_ref": c.external_ref,
        "forgotten": c.identity_deleted and not c.identity_erased,
        "similarity": round(c.similarity * 100),
        "band": c.band,
        "band_text": t(lang, f"band_{c.band}"),
        "rate": rate or t(lang, "candidate_rate_unknown"),
        "low_quality_ref": c.low_quality_ref,
        "verdict": t(lang, f"feedback_{c.verdict}") if c.verdict else t(lang, "feedback_none"),
        "verdict_key": c.verdict or "none",
        "face_url": f"/pictures/face/{c.face_id}",
        "face_id": c.face_id,
    }


def _details(details: Any) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""


async def overview_picture(request: web.Request) -> web.Response:
    """The lookup's photo with numbered boxes, to a signed-in admin only, never cached; 410
    "purged" once retention cleared it."""
    lookup_id = path_id(request)
    picture = await service_of(request).lookup_log.overview(lookup_id, requester(request))
    return purged_picture() if picture is None else no_store_picture(picture)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/lookups/{id}", lookup, name="lookup")
    router.add_get("/pictures/lookup/{id}/overview", overview_picture, name="lookup_overview")
