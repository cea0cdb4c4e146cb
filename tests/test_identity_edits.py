"""Renaming and merging identities (facefind.identity_edits): the faces and templates move, the
identity merged away stays for the lookups that named it, both ids are audited, and the rules
hold for every front end."""

from __future__ import annotations

import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.access.erasure import forget_identity, purge, restore_identity
from facefind.access.rules import NotAllowed
from facefind.errors import UnknownIdentity
from facefind.identity_edits import IdentityEditor, MergeRefused
from facefind.user_input import BadInput
from gallery import Gallery

MODEL = "test-model"
ADMIN = Requester.cli()


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=512).astype(np.float32)
    return v / np.linalg.norm(v)


async def person(gallery: Gallery, name: str, *faces: tuple[int, str]) -> int:
    """An identity with a reference face per (embedding seed, photo hash)."""
    ident = await gallery.identities.create(name, "test", external_ref=f"REF-{name[0]}")
    for seed, sha in faces:
        added = await gallery.faces.add(
            identity_id=ident.id, model=MODEL, embedding=unit(seed), det_score=0.9,
            quality={}, bbox=(1, 2, 3, 4), crop_jpeg=b"jpeg", source_sha256=sha * 64,
            actor="test", recipe="test",
        )  # fmt: skip
        assert added is not None
    return ident.id


async def audit_of(gallery: Gallery, action: str) -> list[dict]:
    rows = await gallery.pool.fetch(
        "SELECT actor, target, details FROM audit_log WHERE action = $1 ORDER BY id", action
    )
    return [dict(r) for r in rows]


async def test_a_merge_moves_the_faces_and_the_template_and_audits_both_ids(
    gallery: Gallery,
) -> None:
    target = await person(gallery, "Ivan Petrenko", (1, "a"))
    # the same man enrolled twice: one photo of his is under both names
    source = await person(gallery, "I. Petrenko", (2, "b"), (3, "a"))
    merged = await IdentityEditor(gallery).merge(source, target, ADMIN)
    assert (merged.faces_moved, merged.faces_left) == (1, 1)

    faces = await gallery.faces.of_identity(target)
    assert sorted(f.source_sha256 or "" for f in faces) == ["a" * 64, "b" * 64]
    assert await gallery.faces.of_identity(source) == []  # the duplicate photo stays, inactive
    template = await gallery.templates.of(target, MODEL)
    assert template is not None and template[1] == 2
    assert await gallery.templates.of(source, MODEL) is None
    # the other photo of him now finds the identity he was merged into
    [best, *_] = await gallery.search.identities(unit(2), MODEL, limit=2, exact=True)
    assert best.identity_id == target
    gone = await gallery.identities.get(source)
    assert gone is not None and gone.deleted and gone.merged_into == target
    assert gone.display_name == "I. Petrenko"  # past lookups still name it
    rows = await audit_of(gallery, "identity.merge") + await audit_of(gallery, "identity.merged")
    assert {(r["target"], r["details"]["into"]) for r in rows} == {
        (f"identity:{target}", target),
        (f"identity:{source}", target),
    }


async def test_a_merge_needs_two_distinct_identities_in_use_and_an_admin(
    gallery: Gallery,
) -> None:
    one = await person(gallery, "Olha", (1, "a"))
    other = await person(gallery, "Olga", (2, "b"))
    forgotten = await person(gallery, "Oleh", (3, "c"))
    await forget_identity(gallery, forgotten, "test", grace_days=7)
    editor = IdentityEditor(gallery)
    for source, target in ((one, one), (forgotten, one), (one, forgotten), (one, 10**9)):
        with pytest.raises(MergeRefused):
            await editor.merge(source, target, ADMIN)
    with pytest.raises(NotAllowed):
        await editor.merge(other, one, Requester.telegram(5))
    assert await audit_of(gallery, "identity.merge") == []


async def test_an_identity_merged_away_is_never_restored_nor_erased(gallery: Gallery) -> None:
    target = await person(gallery, "Maria", (1, "a"))
    source = await person(gallery, "Mariia", (2, "b"))
    await IdentityEditor(gallery).merge(source, target, ADMIN)
    restored = await restore_identity(gallery, source, "test", grace_days=7)
    assert restored.status == "merged"
    report = await purge(gallery, retention_days=None, grace_days=0, actor="test")
    assert source not in report.erased
    kept = await gallery.identities.get(source)
    assert kept is not None and kept.display_name == "Mariia" and not kept.erased


async def test_a_rename_cleans_the_name_and_audits_what_changed(gallery: Gallery) -> None:
    ident = await person(gallery, "Taras", (1, "a"))
    editor = IdentityEditor(gallery)
    edited = await editor.edit(ident, ADMIN, name="  Taras\u202e  Shevchenko ", external_ref="")
    assert (edited.identity.display_name, edited.identity.external_ref) == (
        "Taras Shevchenko",
        None,
    )
    assert edited.changed == {
        "name": {"from": "Taras", "to": "Taras Shevchenko"},
        "external_ref": {"from": "REF-T", "to": None},
    }
    again = await editor.edit(ident, ADMIN, name="Taras Shevchenko", external_ref=None)
    assert again.changed == {}
    [row] = await audit_of(gallery, "identity.edit")  # the unchanged save writes no row
    assert row["target"] == f"identity:{ident}"
    with pytest.raises(BadInput):
        await editor.edit(ident, ADMIN, name="\u200b ", external_ref=None)
    await forget_identity(gallery, ident, "test", grace_days=7)
    with pytest.raises(UnknownIdentity):
        await editor.edit(ident, ADMIN, name="Someone", external_ref=None)
    with pytest.raises(NotAllowed):
        await editor.edit(ident, Requester.telegram(5), name="Someone", external_ref=None)


async def test_what_watched_or_named_the_merged_identity_follows_it(gallery: Gallery) -> None:
    target = await person(gallery, "Taras Bondar", (1, "a"))
    source = await person(gallery, "Taras Bondarenko", (2, "b"))
    watched = await gallery.watchlists.add(source, "wanted for questioning", "test")
    # an unknown person an admin named as the identity merged away
    group = await gallery.pool.fetchval(
        "INSERT INTO unknown_persons (model, state, identity_id) VALUES ($1, 'named', $2) "
        "RETURNING id",
        MODEL,
        source,
    )
    merged = await IdentityEditor(gallery).merge(source, target, ADMIN)
    # the watch entry now watches the identity the person goes by, so alerts do not stop
    assert merged.watch == "moved" and merged.unknown_persons == (group,)
    entry = await gallery.watchlists.get(watched.id)
    assert entry is not None and entry.identity_id == target and entry.removed_at is None
    assert (
        await gallery.pool.fetchval("SELECT identity_id FROM unknown_persons WHERE id = $1", group)
        == target
    )
    [moved] = await audit_of(gallery, "watchlist.move")
    assert moved["target"] == f"identity:{target}"

    # one entry an identity: merging a watched identity into a watched one ends its entry
    third = await person(gallery, "Taras B.", (3, "c"))
    other = await gallery.watchlists.add(third, "seen at the border", "test")
    merged = await IdentityEditor(gallery).merge(third, target, ADMIN)
    assert merged.watch == "ended"
    ended = await gallery.watchlists.get(other.id)
    assert ended is not None and ended.removed_at is not None
    assert [e.identity_id for e in await gallery.watchlists.in_force()] == [target]
