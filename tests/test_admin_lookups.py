"""End-to-end: administrator commands for the record: lookups listed and shown again, the CSV
export, which no spreadsheet can run as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from bot.runner import BotRunner
from facefind.service import FaceFind
from tests.botkit import (
    ADMIN,
    JSON,
    Enrolled,
    answered,
    body,
    buttons,
    candidates,
    decodes_as_image,
    lookup_replies,
    officer,
    reply,
    send,
)
from tests.fakebotapi import FakeBotApi


async def test_admin_lists_lookups_and_shows_one_again(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    user = await officer(fake, service)
    lookup_id, replies = await lookup_replies(fake, user, enrolled.people["Carla"].query)
    await answered(service, lookup_id)  # the list shows the outcome once it is recorded

    listing = await send(fake, admin, f"/lookups {user['id']}", "Lookups:")
    line = body(listing).splitlines()[1]
    assert line.startswith(f"#{lookup_id} · ")
    assert f"tg:{user['id']}" in line and "Carla Cruz" in line

    since = len(fake.sent)
    fake.push_message(admin, f"/lookup {lookup_id}")
    header = await reply(fake, admin, f"Lookup #{lookup_id} · ", since=since)
    assert f"by tg:{user['id']}" in body(header) and "faces: 1" in body(header)
    again = await fake.wait_for(
        lambda m: m["chat"]["id"] == ADMIN and "photo" in m and "Carla Cruz" in body(m),
        since=since,
    )
    assert decodes_as_image(again["_file"]) == decodes_as_image(candidates(replies)[0]["_file"])
    assert buttons(again) == buttons(candidates(replies)[0])

    # an officer sees only their own lookups, and nothing about others'
    other = await officer(fake, service)
    await send(fake, other, f"/lookup {lookup_id}", f"No lookup #{lookup_id}.")
    await send(fake, other, f"/lookups {user['id']}", "This command is for administrators.")


async def test_admin_exports_lookups_as_csv(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled, admin: JSON
) -> None:
    user = await officer(fake, service)
    lookup_id, _ = await lookup_replies(fake, user, enrolled.people["Dmytro"].query)
    today = datetime.now(UTC).date().isoformat()

    since = len(fake.sent)
    fake.push_message(admin, f"/export {today} {today}")
    sent = await fake.wait_for(lambda m: "document" in m, since=since)
    assert sent["document"]["file_name"] == f"facefind-lookups-{today}-{today}.csv"
    assert body(sent).startswith(f"Lookups from {today} to {today}:")
    rows = list(csv.DictReader(io.StringIO(sent["_file"].decode("utf-8"))))
    mine = [r for r in rows if r["lookup_id"] == str(lookup_id)]
    assert len(mine) >= 1
    assert mine[0]["display_name"] == "Dmytro Dub" and mine[0]["external_ref"] == "REF-4"
    assert mine[0]["band"] == "strong" and mine[0]["actor"] == f"tg:{user['id']}"
    audit = await service.gallery.audit.recent(10)
    assert any(a["action"] == "lookups.export" for a in audit)

    await send(fake, admin, "/export yesterday", "Usage: /export FROM TO")


def test_exported_text_cannot_run_as_a_spreadsheet_formula() -> None:
    from facefind.lookup_log import csv_cell

    assert csv_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("Alice Ames") == "Alice Ames"
    assert csv_cell(0.123456) == 0.1235
