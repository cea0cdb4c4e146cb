"""The console with the real bot on the local Bot API server, in a real browser: /console's
sign-in link, a lookup made through the bot seen in the console, filters, an access request
approved in the console and told in Telegram, a merge that the next lookup follows, and an
admin revoked in the bot losing the console at the next request."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext

from bot.console_notices import decision_notice
from bot.runner import BotRunner
from facefind.access.actors import Requester
from facefind.access.web_sessions import WebSessions
from facefind.enroll.photo import IdentitySpec
from facefind.service import FaceFind
from tests.botkit import (
    ADMIN,
    Enrolled,
    answered,
    candidates,
    face_crop,
    lookup_replies,
    new_user_id,
    officer,
    reply,
    running_bot,
    send,
    stranger_user,
)
from tests.browser import (
    Console,
    cookie,
    new_page,
    screenshot,
    serve_console,
    sign_in,
    until,
)
from tests.fakebotapi import JSON, FakeBotApi

# the browser and context fixtures
pytest_plugins = ["tests.browser"]

COOKIE = "facefind_console"
LINK = re.compile(r"http://127\.0\.0\.1:[0-9]+/login/[A-Za-z0-9_-]{43}")


@pytest.fixture(scope="module")
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as fake:
        yield fake


@pytest.fixture(scope="module")
async def bot(
    api: FakeBotApi, service: FaceFind, enrolled: Enrolled, module_dsn: str, data_dir: Path
) -> AsyncIterator[BotRunner]:
    """One bot for the module, polling the local Bot API server; ADMIN is its admin."""
    async with running_bot(api, service, module_dsn, data_dir) as runner:
        yield runner


@pytest.fixture(scope="module")
async def console(
    bot: BotRunner, service: FaceFind, api: FakeBotApi, module_dsn: str, data_dir: Path
) -> AsyncIterator[Console]:
    """The console beside the bot, as `facefind run` composes them: decisions taken in it are
    told through the bot."""
    notice = decision_notice(bot.app.bot, service)
    served, runner = await serve_console(
        service, module_dsn, data_dir, bot_token=api.token, notice=notice
    )
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture
def admin(api: FakeBotApi) -> JSON:
    return api.user(ADMIN, "Ada", "ada_admin")


async def console_link(api: FakeBotApi, user: JSON) -> str:
    """Send /console as `user` and return the sign-in link the bot answers with."""
    message = await send(api, user, "/console", "/login/")
    found = LINK.search(message["text"])
    assert found is not None, message["text"]
    return found[0]


# --- the sign-in link from /console ----------------------------------------------------------
async def test_the_link_from_console_signs_in_once_and_is_refused_the_second_time(
    api: FakeBotApi, admin: JSON, console: Console, context: BrowserContext, browser: Browser
) -> None:
    start = await console.last_audit_id()
    link = await console_link(api, admin)
    page = await new_page(context)
    await page.goto(link)
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")
    assert "Signed in as Ada" in await page.inner_text("header")
    assert await cookie(context, COOKIE) is not None
    other = await browser.new_context()
    try:
        again = await other.new_page()
        response = await again.goto(link)
        assert response is not None and response.status == 401
        assert "used already" in await again.inner_text("#reason")
        assert (await again.request.post(link, max_redirects=0)).status == 401
        assert await cookie(other, COOKIE) is None
    finally:
        await other.close()
    issued = await console.audit_rows("console.link.issue", start)
    assert [(r["actor"], r["target"]) for r in issued] == [(f"tg:{ADMIN}", f"user:{ADMIN}")]


async def test_a_link_from_console_past_its_five_minutes_is_refused(
    api: FakeBotApi, admin: JSON, console: Console, context: BrowserContext
) -> None:
    link = await console_link(api, admin)
    console.clock.advance(timedelta(minutes=5, seconds=1))
    page = await new_page(context)
    response = await page.goto(link)
    assert response is not None and response.status == 401
    assert "expired" in await page.inner_text("#reason")
    assert (await page.request.post(link, max_redirects=0)).status == 401
    assert await cookie(context, COOKIE) is None


async def test_an_officers_console_command_is_refused_and_audited(
    api: FakeBotApi, service: FaceFind, console: Console
) -> None:
    user = await officer(api, service, "Petro")
    start = await console.last_audit_id()
    answer = await send(api, user, "/console", "administrators only")
    assert "/login/" not in answer["text"]
    [refused] = await console.audit_rows("console.link.refused", start)
    assert (refused["actor"], refused["details"]["reason"]) == (f"tg:{user['id']}", "not_admin")


# --- a lookup made through the bot, in the console --------------------------------------------
async def test_a_lookup_through_the_bot_is_listed_with_its_thumbnail_and_shows_its_candidate(
    api: FakeBotApi,
    service: FaceFind,
    enrolled: Enrolled,
    console: Console,
    context: BrowserContext,
) -> None:
    user = await officer(api, service, "Oleh")
    alice = enrolled.people["Alice"]
    lookup_id, replies = await lookup_replies(api, user, alice.query)
    assert alice.name in candidates(replies)[0]["caption"]
    await answered(service, lookup_id)

    page = await sign_in(console, context, ADMIN)
    await page.goto(console.url + "/lookups")
    row = page.locator(f"tr[data-lookup='{lookup_id}']")
    assert alice.name in await row.inner_text()
    assert "Oleh" in await row.inner_text()
    await until(page, "Array.from(document.querySelectorAll('img.thumb')).every(i => i.complete)")
    widths = await row.locator("img.thumb").evaluate_all("is => is.map(i => i.naturalWidth)")
    assert widths and all(w > 0 for w in widths)
    await screenshot(page, "lookups")

    await row.locator("a.open").click()
    await page.wait_for_url(f"{console.url}/lookups/{lookup_id}")
    card = page.locator(".candidate-card").first
    text = await card.inner_text()
    assert alice.name in text and alice.ref in text
    assert "Similarity" in text and "candidate" in text
    assert "would score this high against its" in text  # the false-candidate rate in words
    # the comparison: the face in the photo beside the reference face it matched
    await until(
        page, "Array.from(document.querySelectorAll('img.face-crop')).every(i => i.complete)"
    )
    query = await card.locator("img.query").evaluate("i => i.naturalWidth")
    reference = await card.locator("img.reference").evaluate("i => i.naturalWidth")
    assert query > 0 and reference > 0
    # the lookup's own audit rows, its viewing by this admin among them
    actions = await page.locator("tr.audit-row").evaluate_all("rs => rs.map(r => r.dataset.action)")
    assert actions[:2] == ["lookup.receive", "lookup.finish"] and "lookup.view" in actions
    await screenshot(page, "lookup")
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "lookup-phone")


async def test_the_lookups_can_be_filtered_by_identity_and_by_band(
    api: FakeBotApi,
    service: FaceFind,
    enrolled: Enrolled,
    console: Console,
    context: BrowserContext,
) -> None:
    user = await officer(api, service, "Iryna")
    boris = enrolled.people["Boris"]
    of_boris, _ = await lookup_replies(api, user, boris.query)
    of_nobody, _ = await lookup_replies(api, user, enrolled.stranger)
    for lookup_id in (of_boris, of_nobody):
        await answered(service, lookup_id)

    page = await sign_in(console, context, ADMIN)
    await page.goto(f"{console.url}/lookups?user={user['id']}")
    shown = page.locator("tr.lookup")
    assert await shown.count() == 2
    # by identity: the candidate's link filters on it
    await page.locator(f"tr[data-lookup='{of_boris}'] a.candidate").click()
    await page.wait_for_url(f"**/lookups?user={user['id']}&identity={boris.identity_id}")
    ids = await shown.evaluate_all("rs => rs.map(r => Number(r.dataset.lookup))")
    assert ids == [of_boris]
    # by band: no confident match
    await page.goto(f"{console.url}/lookups?user={user['id']}")
    await page.select_option("select[name=band]", "none")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**band=none**")
    ids = await shown.evaluate_all("rs => rs.map(r => Number(r.dataset.lookup))")
    assert ids == [of_nobody]


# --- users ------------------------------------------------------------------------------------
async def test_a_pending_user_approved_in_the_console_is_told_in_telegram(
    api: FakeBotApi, console: Console, context: BrowserContext
) -> None:
    stranger = stranger_user(api, "Taras")
    await send(api, stranger, "/start", "request for access")
    page = await sign_in(console, context, ADMIN)
    await page.goto(console.url + "/users")
    row = page.locator(f"#pending tr[data-user='{stranger['id']}']")
    assert "Taras" in await row.inner_text()
    await screenshot(page, "users")
    since = len(api.sent)
    start = await console.last_audit_id()
    await row.locator("button[data-action=approve]").click()
    await page.wait_for_url("**/users?notice=decided_told")
    assert "told in Telegram" in await page.inner_text("#notice")
    told = await reply(api, stranger, "Your access has been approved", since=since)
    assert told["chat"]["id"] == stranger["id"]
    assert await page.locator(f"#members tr[data-user='{stranger['id']}']").count() == 1
    [approved] = await console.audit_rows("user.approved", start)
    assert (approved["actor"], approved["target"]) == (f"tg:{ADMIN}", f"user:{stranger['id']}")


# --- identities -------------------------------------------------------------------------------
async def test_after_a_merge_in_the_console_a_lookup_names_the_merged_identity(
    api: FakeBotApi,
    service: FaceFind,
    enrolled: Enrolled,
    console: Console,
    context: BrowserContext,
) -> None:
    carla = enrolled.people["Carla"]
    # the same woman enrolled a second time under another name
    analysis, _ = await service.analysis.analyze(enrolled.t1)
    twin = await service.enroller.enroll(
        face_crop(analysis, carla.face_index, margin=0.5, scale=1.2),
        IdentitySpec("Karla Kruz", "OTHER-9"),
        Requester.cli(),
    )
    assert twin.identity_created
    start = await console.last_audit_id()

    page = await sign_in(console, context, ADMIN)
    await page.goto(f"{console.url}/identities?q=Cruz")
    await page.locator(f"tr[data-identity='{carla.identity_id}'] a.open").click()
    await page.wait_for_url(f"{console.url}/identities/{carla.identity_id}")
    await page.fill("#merge input[name=source]", str(twin.identity.id))
    await page.check("#merge input[name=confirm]")
    await page.click("#merge button[type=submit]")
    await page.wait_for_url("**?notice=merged")
    assert await page.locator("li.ref-face").count() == 2  # hers, and the twin's

    merged = await console.audit_rows("identity.merge", start)
    assert {(r["action"], r["target"]) for r in merged} == {
        ("identity.merged", f"identity:{twin.identity.id}"),
        ("identity.merge", f"identity:{carla.identity_id}"),
    }
    user = await officer(api, service, "Mykola")
    lookup_id, replies = await lookup_replies(api, user, carla.query)
    shown = candidates(replies)
    assert shown and carla.name in shown[0]["caption"]
    assert not any("Karla Kruz" in m["caption"] for m in shown)
    stored = await answered(service, lookup_id)
    assert stored.faces[0].candidates[0].identity_id == carla.identity_id


# --- protections ------------------------------------------------------------------------------
async def test_an_admin_revoked_in_the_bot_loses_the_console_at_the_next_request(
    api: FakeBotApi, admin: JSON, service: FaceFind, console: Console, context: BrowserContext
) -> None:
    second = new_user_id()
    api.user(second, "Bohdana", f"user{second}")
    await service.gallery.users.seen(second, "Bohdana", None, f"user{second}", "en")
    await service.gallery.users.set_role(second, "admin", f"tg:{ADMIN}")
    await service.gallery.users.set_status(second, "approved", f"tg:{ADMIN}")
    page = await sign_in(console, context, second)
    assert (await page.goto(console.url + "/users")) is not None
    await send(api, admin, f"/revoke {second}", "revoked")
    response = await page.goto(console.url + "/lookups")
    assert response is not None and response.status == 403
    assert "withdrawn" in await page.inner_text("#reason")


async def test_over_https_console_offers_the_mini_app_and_admins_get_its_menu_button(
    api: FakeBotApi, admin: JSON, service: FaceFind, console: Console
) -> None:
    sessions = service.web_sessions
    over_https = WebSessions(
        service.gallery, base_url="https://console.example.org", bot_token=api.token
    )
    service.web_sessions = over_https
    try:
        message = await send(api, admin, "/console", "/login/")
        assert "https://console.example.org/login/" in message["text"]
        [button] = message["reply_markup"]["inline_keyboard"][0]
        assert button["web_app"] == {"url": "https://console.example.org/app"}
        # an officer made admin gets the console as the menu button of their chat
        user = await officer(api, service, "Roman")
        await send(api, admin, f"/promote {user['id']}", "admin")
        assert api.menu_buttons[user["id"]]["type"] == "web_app"
        assert api.menu_buttons[user["id"]]["web_app"] == {"url": "https://console.example.org/app"}
        await send(api, admin, f"/demote {user['id']}", "officer")
        assert api.menu_buttons[user["id"]]["type"] == "default"
    finally:
        service.web_sessions = sessions


async def test_with_the_console_off_console_says_so_and_issues_no_link(
    api: FakeBotApi, admin: JSON, service: FaceFind, console: Console
) -> None:
    """FACEFIND_WEB_LISTEN=off: an admin is told there is no console, no sign-in link is made,
    and an officer is still refused as one."""
    sessions = service.web_sessions
    service.web_sessions = WebSessions(service.gallery, base_url=None, bot_token=api.token)
    try:
        assert service.web_sessions.webapp_url is None
        start = await console.last_audit_id()
        message = await send(api, admin, "/console", "no web console")
        assert "/login/" not in message["text"] and "reply_markup" not in message
        assert await console.audit_rows("console.link.issue", start) == []
        user = await officer(api, service, "Oksana")
        await send(api, user, "/console", "administrators only")
    finally:
        service.web_sessions = sessions
