"""Reading the audit log (facefind.access.audit_trail): filtered pages newest first, the rows of
one lookup, the CSV export, each read itself audited, and for admins only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from facefind.access.actors import Requester
from facefind.access.audit_trail import AuditTrail
from facefind.access.rules import NotAllowed
from gallery import Gallery, NewCandidate, NewLookupFace
from gallery.audit_log import AuditFilters

ADMIN = Requester.cli()


async def test_rows_are_filtered_by_actor_action_target_and_date_and_paged_newest_first(
    gallery: Gallery,
) -> None:
    for n in range(5):
        await gallery.audit.append("tg:7", "lookup.view", f"lookup:{n}")
    await gallery.audit.append("tg:8", "lookup.view", "lookup:1")
    await gallery.audit.append("tg:7", "identity.view", "identity:3")
    trail = AuditTrail(gallery)
    mine = await trail.page(ADMIN, AuditFilters(actor="tg:7", action="lookup.view"), limit=3)
    assert [r["target"] for r in mine] == ["lookup:4", "lookup:3", "lookup:2"]
    older = await trail.page(
        ADMIN, AuditFilters(actor="tg:7", action="lookup.view"), before=mine[-1]["id"]
    )
    assert [r["target"] for r in older] == ["lookup:1", "lookup:0"]
    about = await trail.page(ADMIN, AuditFilters(target="lookup:1"))
    assert [r["actor"] for r in about] == ["tg:8", "tg:7"]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert await trail.page(ADMIN, AuditFilters(until=today - timedelta(days=1))) == []
    assert len(await trail.page(ADMIN, AuditFilters(actor="tg:8", since=today))) == 1
    listed = await gallery.pool.fetch(
        "SELECT details FROM audit_log WHERE action = 'audit.list' ORDER BY id"
    )
    assert listed[0]["details"] == {"actor": "tg:7", "action": "lookup.view", "rows": 3}
    with pytest.raises(NotAllowed):
        await trail.page(Requester.telegram(7), AuditFilters())


async def test_a_lookups_rows_are_those_about_it_and_its_candidates(gallery: Gallery) -> None:
    ident = await gallery.identities.create("Nadia", "test")
    face = await gallery.faces.add(
        identity_id=ident.id, model="test-model", embedding=np.eye(512, dtype=np.float32)[0],
        det_score=0.9, quality={}, bbox=(1, 2, 3, 4), crop_jpeg=b"j", source_sha256="c" * 64,
        actor="test", recipe="test",
    )  # fmt: skip
    assert face is not None
    lookup_id = await gallery.lookups.create(user_id=None, actor="cli:x", source="cli")
    assert lookup_id is not None
    ids = await gallery.lookups.finish(
        lookup_id,
        actor="cli:x",
        status="done",
        faces=[
            NewLookupFace(
                1, (1, 2, 3, 4), 0.9, {}, None, [NewCandidate(1, ident.id, face, 0.8, "strong")]
            )
        ],
    )
    await gallery.feedback.add(ids[(1, 1)], None, "cli:x", "confirmed")
    await gallery.audit.append("tg:9", "lookup.view", f"lookup:{lookup_id + 1}")  # another one
    found = await gallery.lookups.get(lookup_id)
    assert found is not None
    rows = await AuditTrail(gallery).about_lookup(found, ADMIN)
    assert [r["action"] for r in rows] == ["lookup.receive", "lookup.finish", "feedback.confirmed"]


async def test_the_export_is_csv_with_formulas_defused_and_is_audited(gallery: Gallery) -> None:
    await gallery.audit.append("=cmd|' /C calc'!A0", "identity.create", "identity:1", {"n": "=1"})
    exported = await AuditTrail(gallery).export(ADMIN, AuditFilters(action="identity.create"))
    rows = list(csv.reader(io.StringIO(exported.csv.decode("utf-8"))))
    assert rows[0] == ["id", "at", "actor", "action", "target", "details"]
    assert rows[1][2].startswith("'=") and rows[1][3] == "identity.create"
    assert exported.rows == 1 and exported.complete and exported.filename.endswith(".csv")
    [audited] = await gallery.pool.fetch(
        "SELECT actor, details FROM audit_log WHERE action = 'audit.export'"
    )
    assert audited["details"] == {"action": "identity.create", "rows": 1}
