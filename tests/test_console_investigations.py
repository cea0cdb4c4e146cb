"""The console's investigations in a real browser over the module's service: an identity put on
the watchlist and taken off; an unknown person seen by two officers listed with its sightings
(who took them, in which lookup), dismissed when wrong, named when right, after which the next
photo of that face gets the new identity as its candidate; each action audited."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext

from facefind.access.actors import Requester
from tests import images
from tests.botkit import Enrolled, face_crop
from tests.browser import Console, make_user, sign_in, unique_id, until

# the browser, context and console fixtures
pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="module")
async def admin_id(console: Console) -> int:
    return await make_user(console.gallery, unique_id(), role="admin", first_name="Olena")


async def test_an_identity_is_watched_and_taken_off_in_the_console(
    console: Console, enrolled: Enrolled, admin_id: int, context: BrowserContext
) -> None:
    alice = enrolled.people["Alice"]
    page = await sign_in(console, context, admin_id)
    await page.click("nav a[href='/watchlist']")
    await page.wait_for_url(console.url + "/watchlist")
    assert await page.locator("tr.watch-row").count() == 0
    start = await console.last_audit_id()
    await page.fill("#watch input[name=identity]", str(alice.identity_id))
    await page.fill("#watch input[name=reason]", "armed robbery")
    await page.fill("#watch input[name=until]", "2099-12-31")
    await page.check("#watch input[name=strong_only]")
    await page.click("#watch button[type=submit]")
    await page.wait_for_url("**?notice=watched")
    row = page.locator(f"tr.watch-row[data-identity='{alice.identity_id}']")
    text = await row.inner_text()
    assert "armed robbery" in text and "2100-01-01 00:00" in text and "strong only" in text
    # twice: refused, and the page says why
    await page.fill("#watch input[name=identity]", str(alice.identity_id))
    await page.fill("#watch input[name=reason]", "again")
    await page.click("#watch button[type=submit]")
    await page.wait_for_url("**?error=watch_already")
    assert "watched already" in await page.inner_text("#error")

    await row.locator("input[name=confirm]").check()
    await row.locator("button[type=submit]").click()
    await page.wait_for_url("**?notice=unwatched")
    assert await page.locator("tr.watch-row").count() == 0
    audited = [(r["action"], r["actor"]) for r in await console.audit_rows("watchlist.", start)]
    actor = f"tg:{admin_id}"
    assert ("watchlist.add", actor) in audited and ("watchlist.remove", actor) in audited
    assert audited.count(("watchlist.list", actor)) == 3  # the page after each action


async def test_unknown_persons_are_shown_with_their_sightings_dismissed_and_named(
    console: Console, enrolled: Enrolled, admin_id: int, context: BrowserContext
) -> None:
    service = console.service
    first = await make_user(console.gallery, unique_id(), first_name="Oksana")
    second = await make_user(console.gallery, unique_id(), first_name="Taras")
    analysis, _ = await service.analysis.analyze(enrolled.t1)
    # t1's face 6 is nobody's: two officers photograph it
    for officer, scale in ((first, 0.8), (second, 1.0)):
        photo = face_crop(analysis, 6, margin=0.8, scale=scale)
        await service.identifier.identify(photo, Requester.telegram(officer))
    tom = images.read_image(images.TOM_HANKS)
    for officer, quality in ((first, 90), (second, 75)):
        await service.identifier.identify(images.to_jpeg(tom, quality), Requester.telegram(officer))
    groups = await service.gallery.sightings.unknown_persons(service.model)
    assert len(groups) == 2
    page = await sign_in(console, context, admin_id)
    await page.goto(console.url + "/unknown")
    assert await page.locator("tr.unknown-row").count() == 2

    # the first one's sightings: pictures, who took them and their lookups
    wrong, right = sorted(groups, key=lambda g: g.id)
    await page.click(f"tr.unknown-row[data-unknown='{wrong.id}'] a.open")
    await page.wait_for_url(f"{console.url}/unknown/{wrong.id}")
    await until(page, "[...document.querySelectorAll('img.face-crop')].every(i => i.complete)")
    widths = await page.locator("li.sighting img").evaluate_all("is => is.map(i => i.naturalWidth)")
    assert len(widths) == 2 and all(w > 0 for w in widths)
    who = [await w.inner_text() for w in await page.locator("li.sighting .who").all()]
    assert [w.split(" (@")[0] for w in who] == ["Oksana", "Taras"]
    start = await console.last_audit_id()
    await page.check("#dismiss input[name=confirm]")
    await page.click("#dismiss button[type=submit]")
    await page.wait_for_url("**?notice=dismissed")
    assert await page.inner_text("#state") == "dismissed"

    await page.goto(f"{console.url}/unknown/{right.id}")
    await page.fill("#name input[name=name]", "Tom Hanks")
    await page.fill("#name input[name=external_ref]", "REF-TH")
    await page.click("#name button[type=submit]")
    await page.wait_for_url("**?notice=named_from_unknown")
    assert "Tom Hanks" in await page.inner_text("h1")
    assert await page.locator("li.ref-face").count() == 2  # its sightings, now references
    audited = [r["action"] for r in await console.audit_rows("unknown_person.", start)]
    # the dismissal, the page after it, the other's page, the naming
    assert audited == [
        "unknown_person.dismiss",
        "unknown_person.view",
        "unknown_person.view",
        "unknown_person.name",
    ]
    found = await service.identifier.identify(
        images.to_jpeg(images.flip(tom), 85), Requester.telegram(first)
    )
    assert found.faces[0].candidates[0].display_name == "Tom Hanks"
