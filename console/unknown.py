"""Unknown persons (/unknown): faces photographed more than once that nobody named, each with
all its sightings (who took them, in which lookup); named as an identity, or dismissed as a
wrong grouping; each through the service's own action."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.texts import t
from console.web import (
    LANG,
    NavItem,
    done,
    failed,
    form,
    no_store_picture,
    path_id,
    purged_picture,
    render,
    requester,
    service_of,
    when,
)
from facefind.enroll.photo import IdentitySpec
from facefind.user_input import BadInput

NAV = NavItem("unknown", "/unknown", "nav_unknown", "home_unknown")


def _page(group_id: int) -> str:
    return f"/unknown/{group_id}"


async def unknown_persons(request: web.Request) -> web.Response:
    """The open unknown persons, the last seen first; the list is audited."""
    found = await service_of(request).unknown.listing(requester(request), limit=100)
    rows = [
        {
            "id": p.id,
            "sightings": p.sighting_count,
            "first": when(p.first_seen),
            "last": when(p.last_seen),
        }
        for p in found
    ]
    return render(request, "unknown_list.html", {"nav": "unknown", "rows": rows})


async def unknown_person(request: web.Request) -> web.Response:
    """One unknown person with every sighting; viewing it is audited."""
    group_id = path_id(request)
    service = service_of(request)
    card = await service.unknown.view(group_id, requester(request))
    if card is None:
        return render(request, "not_found.html", {"nav": "unknown"}, status=404)
    lang = request[LANG]
    names: dict[int, str] = {}
    sightings: list[dict[str, Any]] = []
    for n, s in enumerate(card.sightings, start=1):
        if s.user_id is not None and s.user_id not in names:
            user = await service.gallery.users.get(s.user_id)
            names[s.user_id] = user.display if user is not None else s.actor
        sightings.append(
            {
                "n": n,
                "id": s.id,
                "when": when(s.created_at),
                "who": names.get(s.user_id, s.actor) if s.user_id is not None else s.actor,
                "lookup_id": s.lookup_id,
                "has_picture": s.crop_jpeg is not None,
                "poor": s.low_quality,
            }
        )
    person = card.person
    return render(
        request,
        "unknown_person.html",
        {
            "nav": "unknown",
            "person": person,
            "state_text": t(lang, f"unknown_state_{person.state}"),
            "first": when(person.first_seen),
            "last": when(person.last_seen),
            "sightings": sightings,
            "open": person.state == "open",
        },
    )


async def sighting_picture(request: web.Request) -> web.Response:
    """A sighting's face, to a signed-in admin only (the guard) and never cached; 410 once
    retention deleted it."""
    crop = await service_of(request).unknown.sighting_picture(path_id(request), requester(request))
    return no_store_picture(crop) if crop is not None else purged_picture()


async def name(request: web.Request) -> web.Response:
    """Make the unknown person an identity, its best sightings as references."""
    group_id = path_id(request)
    fields = await form(request)
    spec = IdentitySpec(fields.get("name", ""), fields.get("external_ref") or None)
    try:
        identity_id = await service_of(request).unknown.name(group_id, spec, requester(request))
    except BadInput as exc:
        return failed(_page(group_id), f"bad_{exc.reason}")
    if identity_id is None:
        return failed(_page(group_id), "unknown_not_open")
    return done(f"/identities/{identity_id}", "named_from_unknown")


async def dismiss(request: web.Request) -> web.Response:
    """A wrong grouping: its sightings are never grouped together again."""
    group_id = path_id(request)
    fields = await form(request)
    if fields.get("confirm") != "yes":
        return failed(_page(group_id), "confirm")
    if not await service_of(request).unknown.dismiss(group_id, requester(request)):
        return failed(_page(group_id), "unknown_not_open")
    return done(_page(group_id), "dismissed")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/unknown", unknown_persons, name="unknown")
    router.add_get("/unknown/{id}", unknown_person, name="unknown_person")
    router.add_post("/unknown/{id}/name", name, name="unknown_name")
    router.add_post("/unknown/{id}/dismiss", dismiss, name="unknown_dismiss")
    router.add_get("/pictures/sighting/{id}", sighting_picture, name="sighting_picture")
