"""The console's pages for the gallery, the users, the audit log and the service's state, in a
real browser over the module's service: every change through the service's actions, audited."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest
from playwright.async_api import BrowserContext, Page

from facefind.access.actors import Requester
from facefind.access.witness import Witness
from facefind.enroll.photo import IdentitySpec
from facefind.evaluation.run import evaluate
from facefind.service import FaceFind
from tests import images
from tests.botkit import Enrolled, face_crop
from tests.browser import (
    Console,
    make_user,
    new_page,
    screenshot,
    serve_console,
    sign_in,
    unique_id,
    until,
)
from tests.conftest import db_settings

# the browser and context fixtures
pytest_plugins = ["tests.browser"]

GRACE_DAYS = 7


@dataclass(frozen=True)
class Crops:
    """Faces of t1.jpg as JPEG, for uploads and enrollments: sharp, and blurred."""

    sharp: dict[int, bytes]
    blurred: dict[int, bytes]


@pytest.fixture(scope="module")
async def console(
    service: FaceFind, module_dsn: str, data_dir: Path, enrolled: Enrolled
) -> AsyncIterator[Console]:
    """The console over the module's service, forgotten identities restorable for a week."""
    served, runner = await serve_console(
        service, module_dsn, data_dir, forget_grace_days=GRACE_DAYS
    )
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def crops(service: FaceFind, enrolled: Enrolled) -> Crops:
    analysis, _ = await service.analysis.analyze(enrolled.t1)
    sharp, blurred = {}, {}
    for face in analysis.faces:
        sharp[face.index] = face_crop(analysis, face.index, margin=0.7, scale=1.1)
        head = images.crop_around(analysis.image, face.bbox, 1.0)
        blurred[face.index] = images.to_jpeg(cv2.GaussianBlur(head, (0, 0), 2.5))
    return Crops(sharp, blurred)


@pytest.fixture(scope="module")
async def admin_id(console: Console) -> int:
    return await make_user(console.gallery, unique_id(), role="admin", first_name="Olena")


async def csrf_of(page: Page) -> str:
    return str(await page.locator("input[name=csrf]").first.get_attribute("value"))


# --- identities -------------------------------------------------------------------------------
async def test_identities_are_found_by_name_or_reference_with_their_faces_and_lookups(
    console: Console, enrolled: Enrolled, admin_id: int, context: BrowserContext
) -> None:
    boris = enrolled.people["Boris"]
    found = await console.service.identifier.identify(boris.query, Requester.cli())
    page = await sign_in(console, context, admin_id)
    start = await console.last_audit_id()
    await page.goto(console.url + "/identities")
    assert await page.locator("tr.identity-row").count() >= 4
    await screenshot(page, "identities")
    await page.fill("input[name=q]", "ref-2")  # the reference, in any case
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/identities?q=ref-2")
    rows = page.locator("tr.identity-row")
    assert await rows.evaluate_all("rs => rs.map(r => Number(r.dataset.identity))") == [
        boris.identity_id
    ]
    await rows.locator("a.open").click()
    await page.wait_for_url(f"{console.url}/identities/{boris.identity_id}")
    assert boris.name in await page.inner_text("h1")
    await until(page, "[...document.querySelectorAll('img.face-crop')].every(i => i.complete)")
    widths = await page.locator("li.ref-face img").evaluate_all("is => is.map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)
    assert f"#{found.lookup_id}" in await page.inner_text("ul.lookups-of")
    await screenshot(page, "identity")
    audited = await console.audit_rows("identit", start)
    assert [(r["action"], r["target"]) for r in audited] == [
        ("identities.list", None),
        ("identities.list", None),
        ("identity.view", f"identity:{boris.identity_id}"),
    ]
    assert audited[1]["details"]["query"] == "ref-2"


async def test_a_photo_uploaded_in_the_console_becomes_a_reference_and_poor_ones_are_marked(
    console: Console, crops: Crops, admin_id: int, context: BrowserContext
) -> None:
    # face 6 of t1 is nobody's yet: first enrolled blurred (the only kind: kept, flagged)
    first = await console.service.enroller.enroll(
        crops.blurred[6], IdentitySpec("Hanna Blur"), Requester.cli()
    )
    assert first.flags
    page = await sign_in(console, context, admin_id)
    await page.goto(f"{console.url}/identities/{first.identity.id}")
    assert "poor reference (blurry" in await page.inner_text("li.ref-face.poor")
    start = await console.last_audit_id()
    await page.set_input_files(
        "#add-photo input[name=photo]",
        {"name": "sharp.jpg", "mimeType": "image/jpeg", "buffer": crops.sharp[6]},
    )
    await page.click("#add-photo button[type=submit]")
    await page.wait_for_url("**?notice=photo_added")
    assert await page.locator("li.ref-face").count() == 2
    assert await page.locator("li.ref-face.poor").count() == 1
    [added] = await console.audit_rows("face.add", start)
    assert (added["actor"], added["details"]["identity_id"]) == (
        f"tg:{admin_id}",
        first.identity.id,
    )
    # the same photo again, and a file that is no photo: refused, each said so
    await page.set_input_files(
        "#add-photo input[name=photo]",
        {"name": "sharp.jpg", "mimeType": "image/jpeg", "buffer": crops.sharp[6]},
    )
    await page.click("#add-photo button[type=submit]")
    await page.wait_for_url("**?error=enroll_already")
    assert "already enrolled" in await page.inner_text("#error")
    await page.set_input_files(
        "#add-photo input[name=photo]",
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a photo"},
    )
    await page.click("#add-photo button[type=submit]")
    await page.wait_for_url("**?error=image_*")
    assert await page.locator("li.ref-face").count() == 2


async def test_an_identity_renamed_in_the_console_keeps_its_faces_and_the_change_is_audited(
    console: Console, enrolled: Enrolled, admin_id: int, context: BrowserContext
) -> None:
    dmytro = enrolled.people["Dmytro"]
    page = await sign_in(console, context, admin_id)
    await page.goto(f"{console.url}/identities/{dmytro.identity_id}")
    start = await console.last_audit_id()
    await page.fill("#edit input[name=name]", "Dmytro  Dubenko")
    await page.fill("#edit input[name=external_ref]", "REF-4b")
    await page.click("#edit button[type=submit]")
    await page.wait_for_url("**?notice=edited")
    assert "Dmytro Dubenko" in await page.inner_text("h1")  # spacing cleaned
    assert await page.inner_text("#external-ref") == "REF-4b"
    [edit] = await console.audit_rows("identity.edit", start)
    assert edit["details"] == {
        "name": {"from": dmytro.name, "to": "Dmytro Dubenko"},
        "external_ref": {"from": dmytro.ref, "to": "REF-4b"},
    }
    found = await console.service.identifier.identify(dmytro.query, Requester.cli())
    assert found.faces[0].candidates[0].display_name == "Dmytro Dubenko"


async def test_an_identity_forgotten_in_the_console_can_be_restored_within_the_grace_days(
    console: Console, crops: Crops, admin_id: int, context: BrowserContext
) -> None:
    enrolled = await console.service.enroller.enroll(
        crops.sharp[3], IdentitySpec("Forget Me", "F-1"), Requester.cli()
    )
    identity_id = enrolled.identity.id
    page = await sign_in(console, context, admin_id)
    await page.goto(f"{console.url}/identities/{identity_id}")
    start = await console.last_audit_id()
    await page.check("#forget input[name=confirm]")
    await page.click("#forget button[type=submit]")
    await page.wait_for_url("**?notice=forgotten")
    assert await page.inner_text("#state") == "forgotten"
    searched = await console.service.identifier.identify(crops.sharp[3], Requester.cli())
    assert all(c.identity_id != identity_id for c in searched.faces[0].candidates)
    await page.click("#restore button[type=submit]")
    await page.wait_for_url("**?notice=restored")
    assert await page.inner_text("#state") == "in use"
    actions = [r["action"] for r in await console.audit_rows("identity.", start)]
    assert actions == ["identity.forget", "identity.view", "identity.restore", "identity.view"]


# --- users ------------------------------------------------------------------------------------
async def test_the_users_page_lists_activity_and_its_decisions_go_through_the_service(
    console: Console, admin_id: int, context: BrowserContext
) -> None:
    officer = await make_user(console.gallery, unique_id(), first_name="Vasyl")
    pending = await make_user(console.gallery, unique_id(), status="pending", first_name="Yan")
    await console.service.identifier.identify(
        images.read_bytes(images.T1), Requester.telegram(officer)
    )
    page = await sign_in(console, context, admin_id)
    await page.goto(console.url + "/users")
    row = page.locator(f"#members tr[data-user='{officer}']")
    cells = await row.locator("td").all_inner_texts()
    assert cells[2] == "1" and cells[3] != "never"  # one lookup, and when
    start = await console.last_audit_id()
    await row.locator("button[data-action=promote]").click()
    await page.wait_for_url("**/users?notice=decided")
    assert "admin" in await page.locator(f"#members tr[data-user='{officer}']").inner_text()
    await page.locator(f"#pending tr[data-user='{pending}'] button[data-action=reject]").click()
    await page.wait_for_url("**/users?notice=decided_not_told")  # no bot beside this console
    assert await page.locator(f"#others tr[data-user='{pending}']").count() == 1
    decided = await console.audit_rows("user.", start)
    assert [(r["action"], r["target"]) for r in decided] == [
        ("user.role.admin", f"user:{officer}"),
        ("user.rejected", f"user:{pending}"),
    ]
    # an admin cannot lock themselves out, even by a request the page does not offer
    refused = await page.request.post(
        f"{console.url}/users/{admin_id}/demote", form={"csrf": await csrf_of(page)}
    )
    assert refused.url.endswith("/users?error=not_on_oneself")
    # a change without the session's CSRF token is refused and changes nothing
    bare = await page.request.post(f"{console.url}/users/{officer}/demote", max_redirects=0)
    assert bare.status == 403
    assert (await console.gallery.users.get(officer)).role == "admin"  # type: ignore[union-attr]


# --- audit --------------------------------------------------------------------------------------
async def test_the_audit_page_checks_the_chain_filters_rows_and_exports_them(
    console: Console, admin_id: int, context: BrowserContext
) -> None:
    page = await sign_in(console, context, admin_id)
    await page.goto(console.url + "/audit")
    # checked as `facefind audit verify` checks: no witness has seen this log yet
    assert "NOT intact" in await page.inner_text("#chain-verdict")
    assert "no witness for this audit log" in await page.inner_text("#chain-message")
    # the bot moves the witness forward every minute; then the chain checks
    await Witness.of(console.settings).advance(console.gallery)
    await page.click("#check-chain")
    await page.wait_for_url("**/audit?notice=chain_ok")
    assert "Checked: intact" in await page.inner_text("#chain-verdict")
    assert "audit chain OK" in await page.inner_text("#chain-message")
    assert "The witness in the data folder saw" in await page.inner_text("#witness-head")
    await page.fill("input[name=actor]", f"tg:{admin_id}")
    await page.fill("input[name=action]", "console.sign_in")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/audit?actor=*")
    actions = await page.locator("tr.audit-row").evaluate_all("rs => rs.map(r => r.dataset.action)")
    assert actions and set(actions) == {"console.sign_in"}
    await screenshot(page, "audit")
    async with page.expect_download() as download_info:
        await page.click("#audit-csv")
    download = await download_info.value
    rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text("utf-8"))))
    assert rows[0] == ["id", "at", "actor", "action", "target", "details"]
    assert len(rows) - 1 == len(actions)
    assert {r[2] for r in rows[1:]} == {f"tg:{admin_id}"}
    exported = await console.audit_rows("audit.export", 0)
    assert exported[-1]["details"]["actor"] == f"tg:{admin_id}"


# --- status -------------------------------------------------------------------------------------
async def test_the_status_page_shows_the_gallery_the_queue_and_the_latest_eval_plots(
    console: Console,
    enrolled: Enrolled,
    admin_id: int,
    context: BrowserContext,
    module_dsn: str,
    data_dir: Path,
    crops: Crops,
    tmp_path: Path,
) -> None:
    page = await sign_in(console, context, admin_id)
    await page.goto(console.url + "/status")
    bands = await console.service.bands.current()
    assert (await page.inner_text("#identities")).startswith(str(bands.identities))
    assert await page.inner_text("#strong") == f"{bands.thresholds.strong:.3f}"
    assert "No `facefind eval` run yet" in await page.inner_text("#eval")
    # `facefind eval` on three people of t1 (two photos each): its plots then show here
    folder = tmp_path / "labelled"
    for index in (1, 2, 4):
        person = folder / f"Person_{index}"
        person.mkdir(parents=True)
        (person / "a.jpg").write_bytes(crops.sharp[index])
        (person / "b.jpg").write_bytes(crops.blurred[index])
    settings = console.settings.__class__(**db_settings(module_dsn, data_dir))
    await evaluate(settings, folder, references=1, out=tmp_path / "eval")
    await page.reload()
    assert "found (right identity first" in await page.inner_text("#eval")
    await until(page, "[...document.querySelectorAll('img.plot')].every(i => i.complete)")
    widths = await page.locator("img.plot").evaluate_all("is => is.map(i => i.naturalWidth)")
    assert len(widths) == 2 and all(w > 0 for w in widths)
    await screenshot(page, "status")
    assert (await page.request.get(console.url + "/status/eval/..%2Freport.json")).status == 404


# --- language, phone, headers -------------------------------------------------------------------
async def test_the_pages_follow_the_admins_language_and_fit_a_phone(
    console: Console, context: BrowserContext
) -> None:
    admin = await make_user(
        console.gallery, unique_id(), role="admin", first_name="Oksana", language="uk"
    )
    page = await sign_in(console, context, admin)
    await page.set_viewport_size({"width": 390, "height": 844})
    for path, heading in (
        ("/lookups", "Пошуки"),
        ("/identities", "Особи"),
        ("/users", "Користувачі"),
        ("/audit", "Журнал аудиту"),
        ("/status", "Стан сервісу"),
    ):
        await page.goto(console.url + path)
        assert await page.inner_text("h1") == heading, path
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, path
    await screenshot(page, "status-phone-uk")


async def test_the_new_pages_and_pictures_are_for_a_signed_in_admin_only_and_never_cached(
    console: Console, enrolled: Enrolled, admin_id: int, context: BrowserContext
) -> None:
    alice = enrolled.people["Alice"]
    face = (await console.service.gallery.faces.of_identity(alice.identity_id))[0].id
    paths = ("/identities", f"/identities/{alice.identity_id}", "/users", "/audit", "/status",
             "/audit.csv", f"/pictures/face/{face}")  # fmt: skip
    stranger = await new_page(context)
    for path in paths:
        assert (await stranger.request.get(console.url + path)).status == 401, path
    page = await sign_in(console, context, admin_id)
    for path in paths:
        response = await page.request.get(console.url + path)
        assert response.status == 200, path
        assert response.headers["cache-control"] == "no-store", path
        assert (
            "frame-ancestors https://web.telegram.org"
            in response.headers["content-security-policy"]
        )
    picture = await page.request.get(f"{console.url}/pictures/face/{face}")
    assert picture.headers["content-type"] == "image/jpeg"
