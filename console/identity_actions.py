"""What an admin changes on an identity's page: a reference photo added by upload, a rename or a
new reference, a merge, forget and restore; each through the service's own action."""

from __future__ import annotations

from aiohttp import web

from console.web import (
    done,
    failed,
    form,
    parse_id,
    path_id,
    requester,
    service_of,
    state_of,
)
from facefind.errors import (
    AmbiguousFaces,
    EnrollRefused,
    FaceIndexOutOfRange,
    NoFaceFound,
    PoorReference,
    UnknownIdentity,
)
from facefind.identity_edits import MergeRefused
from facefind.user_input import BadInput
from recognition import ImageError

# an upload's field: the photo, read whole (the app caps a request at the photo limit)
PHOTO_FIELD = "photo"


def _page(identity_id: int) -> str:
    return f"/identities/{identity_id}"


async def add_photo(request: web.Request) -> web.Response:
    """Enroll an uploaded photo's face for this identity, as the bot's /enroll #ID does."""
    identity_id = path_id(request)
    service = service_of(request)
    data = await request.post()
    upload = data.get(PHOTO_FIELD)
    photo = upload.file.read() if isinstance(upload, web.FileField) else b""
    face = data.get("face")
    face_index = parse_id(face if isinstance(face, str) else None)
    if not photo:
        return failed(_page(identity_id), "photo_missing")
    found = await service.identity_cards.find(str(identity_id))
    target = found[0] if found else None
    if target is None or target.deleted:
        return failed(_page(identity_id), "identity_not_in_use")
    try:
        result = await service.enroller.enroll(
            photo, target, requester(request), face_index=face_index
        )
    except ImageError as exc:
        return failed(_page(identity_id), f"image_{exc.code}")
    except (NoFaceFound, AmbiguousFaces, FaceIndexOutOfRange, EnrollRefused, PoorReference) as exc:
        return failed(_page(identity_id), f"enroll_{exc.code}")
    if result.face_id is None:
        return failed(_page(identity_id), "enroll_already")
    return done(_page(identity_id), "photo_added_poor" if result.flags else "photo_added")


async def edit(request: web.Request) -> web.Response:
    """Rename the identity, or change its external reference."""
    identity_id = path_id(request)
    fields = await form(request)
    try:
        edited = await service_of(request).identity_edits.edit(
            identity_id,
            requester(request),
            name=fields.get("name", ""),
            external_ref=fields.get("external_ref"),
        )
    except BadInput as exc:
        return failed(_page(identity_id), f"bad_{exc.reason}")
    except UnknownIdentity:
        return failed(_page(identity_id), "identity_not_in_use")
    return done(_page(identity_id), "edited" if edited.changed else "unchanged")


async def merge(request: web.Request) -> web.Response:
    """Merge another identity (its id in the form) into this one: they are one person."""
    identity_id = path_id(request)
    fields = await form(request)
    source = parse_id(fields.get("source"))
    if source is None:
        return failed(_page(identity_id), "merge_which")
    if fields.get("confirm") != "yes":
        return failed(_page(identity_id), "confirm")
    try:
        await service_of(request).identity_edits.merge(source, identity_id, requester(request))
    except MergeRefused:
        return failed(_page(identity_id), "merge_refused")
    return done(_page(identity_id), "merged")


async def forget(request: web.Request) -> web.Response:
    """Forget the identity: out of every search at once; erased now or after the grace days."""
    identity_id = path_id(request)
    fields = await form(request)
    if fields.get("confirm") != "yes":
        return failed(_page(identity_id), "confirm")
    grace = state_of(request).settings.forget_grace_days
    forgotten = await service_of(request).eraser.forget(
        identity_id, requester(request), grace_days=grace
    )
    if forgotten is None:
        return failed(_page(identity_id), "identity_not_in_use")
    return done(_page(identity_id), "erased" if forgotten.erased else "forgotten")


async def restore(request: web.Request) -> web.Response:
    """Undo a forget within the grace period."""
    identity_id = path_id(request)
    grace = state_of(request).settings.forget_grace_days
    restored = await service_of(request).eraser.restore(
        identity_id, requester(request), grace_days=grace
    )
    if restored.status != "restored":
        return failed(_page(identity_id), f"restore_{restored.status}")
    return done(_page(identity_id), "restored")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/identities/{id}/photo", add_photo, name="identity_photo")
    router.add_post("/identities/{id}/edit", edit, name="identity_edit")
    router.add_post("/identities/{id}/merge", merge, name="identity_merge")
    router.add_post("/identities/{id}/forget", forget, name="identity_forget")
    router.add_post("/identities/{id}/restore", restore, name="identity_restore")
