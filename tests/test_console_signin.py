"""Signing in to the console in a real browser: one-time links, the Mini App's initData,
sessions that follow the admin's role, CSRF, and the audit of each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from facefind.access.actors import Requester
from facefind.access.web_sessions import REFUSALS_AUDITED, NotAnAdmin, SignInRefused
from tests.browser import (
    Console,
    cookie,
    init_data_for,
    make_user,
    new_page,
    screenshot,
    sign_in,
    sign_init_data,
    unique_id,
    with_telegram,
)

# the console, browser and context fixtures
pytest_plugins = ["tests.browser"]

COOKIE = "facefind_console"  # over plain HTTP; __Host-facefind_console over HTTPS


async def admin(console: Console, language: str = "en") -> int:
    return await make_user(
        console.gallery, unique_id(), role="admin", first_name="Olena", language=language
    )


async def officer(console: Console) -> int:
    return await make_user(console.gallery, unique_id(), role="officer", first_name="Petro")


# --- the one-time link ------------------------------------------------------------------------
async def test_a_sign_in_link_signs_in_once_and_is_refused_the_second_time(
    console: Console, context: BrowserContext, browser: Browser
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    link = await console.link(user)
    assert link.startswith(console.url + "/login/")

    page = await new_page(context)
    await page.goto(link)
    await screenshot(page, "sign-in-link")
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")
    assert "Signed in as Olena" in await page.inner_text("header")
    await screenshot(page, "home")
    session_cookie = await cookie(context, COOKIE)
    assert session_cookie is not None
    assert session_cookie["httpOnly"] is True
    assert session_cookie["sameSite"] == "Strict"
    assert session_cookie["secure"] is False  # plain HTTP on a LAN; Secure over HTTPS
    assert "expires" not in session_cookie or session_cookie["expires"] == -1

    # the same link again, in another browser profile: refused, nothing signed in
    other = await browser.new_context()
    try:
        again = await other.new_page()
        response = await again.goto(link)
        assert response is not None and response.status == 401
        assert "used already" in await again.inner_text("#reason")
        await screenshot(again, "sign-in-link-used")
        posted = await again.request.post(link, max_redirects=0)
        assert posted.status == 401
        assert await cookie(other, COOKIE) is None
    finally:
        await other.close()

    issued = await console.audit_rows("console.link.issue", start)
    signed_in = await console.audit_rows("console.sign_in", start)
    assert [r["target"] for r in issued] == [f"user:{user}"]
    assert [(r["action"], r["actor"], r["details"]["method"]) for r in signed_in] == [
        ("console.sign_in", f"tg:{user}", "link"),
        ("console.sign_in.refused", f"tg:{user}", "link"),
    ]
    assert signed_in[1]["details"]["reason"] == "used"


async def test_another_sites_form_cannot_use_a_sign_in_link(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    link = await console.link(user)
    page = await new_page(context)
    # a page of another origin posting the link's form: the browser says it is cross-site
    await page.set_content(
        f'<form method="post" action="{link}"><button id="go">go</button></form>'
    )
    async with page.expect_response(link) as answer:
        await page.click("#go")
    assert (await answer.value).status == 403
    # and a client that names another origin
    posted = await page.request.post(
        link, headers={"Origin": "https://evil.example"}, max_redirects=0
    )
    assert posted.status == 403
    assert await cookie(context, COOKIE) is None
    # the link was not used up: its owner still signs in with it
    await page.goto(link)
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")


async def test_a_sign_in_link_past_its_five_minutes_is_refused(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    link = await console.link(user)
    console.clock.advance(timedelta(minutes=5, seconds=1))
    page = await new_page(context)
    response = await page.goto(link)
    assert response is not None and response.status == 401
    assert "expired" in await page.inner_text("#reason")
    posted = await page.request.post(link, max_redirects=0)
    assert posted.status == 401
    assert await cookie(context, COOKIE) is None
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert refused["details"]["reason"] == "expired"


async def test_a_link_just_inside_its_five_minutes_signs_in(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    link = await console.link(user)
    console.clock.advance(timedelta(minutes=4, seconds=59))
    page = await new_page(context)
    await page.goto(link)
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")
    assert await cookie(context, COOKIE) is not None


async def test_no_sign_in_link_is_issued_for_an_officer(console: Console) -> None:
    user = await officer(console)
    start = await console.last_audit_id()
    with pytest.raises(NotAnAdmin):
        await console.sessions.issue_login_link(user, Requester.telegram(user))
    [refused] = await console.audit_rows("console.link.refused", start)
    assert refused["target"] == f"user:{user}"


async def test_a_link_of_an_admin_demoted_before_using_it_is_refused(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    link = await console.link(user)
    await console.gallery.users.set_role(user, "officer", "test")
    start = await console.last_audit_id()
    page = await new_page(context)
    await page.goto(link)
    await page.click("#sign-in")
    assert "administrators only" in await page.inner_text("#reason")
    assert await cookie(context, COOKIE) is None
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert refused["details"]["reason"] == "not_admin"


async def test_an_unknown_link_is_refused_and_audited(
    console: Console, context: BrowserContext
) -> None:
    start = await console.last_audit_id()
    page = await new_page(context)
    link = console.url + "/login/" + "x" * 43
    response = await page.goto(link)
    assert response is not None and response.status == 401
    assert "not a sign-in link" in await page.inner_text("#reason")
    assert (await page.request.post(link, max_redirects=0)).status == 401
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert (refused["actor"], refused["details"]["reason"]) == ("console", "unknown")


# --- the Mini App -----------------------------------------------------------------------------
async def test_an_admins_valid_init_data_signs_in_through_the_mini_app(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console, language="uk")
    start = await console.last_audit_id()
    await with_telegram(context, init_data_for(user, console.clock(), "uk"))
    page = await new_page(context)
    async with page.expect_response(console.url + "/auth/webapp") as answer:
        await page.goto(console.url + "/app")
    assert (await answer.value).status == 200
    await page.wait_for_url(console.url + "/")
    # the admin's Telegram language: Ukrainian
    assert "Ви увійшли як Olena" in await page.inner_text("header")
    await screenshot(page, "home-uk")
    [signed_in] = await console.audit_rows("console.sign_in", start)
    assert (signed_in["action"], signed_in["details"]["method"]) == ("console.sign_in", "webapp")


async def test_init_data_with_a_forged_hash_is_refused_with_401(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    genuine = init_data_for(user, console.clock())
    # another user's id under the genuine hash
    forged = genuine.replace(f"%22id%22%3A+{user}", f"%22id%22%3A+{user + 1}")
    assert forged != genuine
    await with_telegram(context, forged)
    page = await new_page(context)
    async with page.expect_response(console.url + "/auth/webapp") as answer:
        await page.goto(console.url + "/app")
    assert (await answer.value).status == 401
    await expect(page.locator("#webapp-status")).to_contain_text("could not be checked")
    assert await cookie(context, COOKIE) is None
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert (refused["actor"], refused["details"]["reason"]) == ("console", "forged")


async def test_init_data_signed_with_another_bots_token_is_refused_with_401(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    fields = {"user": f'{{"id": {user}}}', "auth_date": str(int(console.clock().timestamp()))}
    page = await new_page(context)
    response = await page.request.post(
        console.url + "/auth/webapp",
        data={"init_data": sign_init_data(fields, "654321:another-bot")},
    )
    assert response.status == 401


async def test_init_data_older_than_an_hour_is_refused_with_401(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    stale = init_data_for(user, console.clock() - timedelta(hours=1, seconds=1))
    await with_telegram(context, stale)
    page = await new_page(context)
    async with page.expect_response(console.url + "/auth/webapp") as answer:
        await page.goto(console.url + "/app")
    assert (await answer.value).status == 401
    assert await cookie(context, COOKIE) is None
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert refused["details"]["reason"] == "stale"


async def test_an_officers_valid_init_data_is_refused_with_403(
    console: Console, context: BrowserContext
) -> None:
    user = await officer(console)
    start = await console.last_audit_id()
    await with_telegram(context, init_data_for(user, console.clock()))
    page = await new_page(context)
    async with page.expect_response(console.url + "/auth/webapp") as answer:
        await page.goto(console.url + "/app")
    assert (await answer.value).status == 403
    await expect(page.locator("#webapp-status")).to_contain_text("only administrators")
    await screenshot(page, "mini-app-refused")
    assert await cookie(context, COOKIE) is None
    [refused] = await console.audit_rows("console.sign_in.refused", start)
    assert (refused["actor"], refused["details"]["reason"]) == (f"tg:{user}", "not_admin")


async def test_a_stranger_with_valid_init_data_is_refused_with_403(
    console: Console, context: BrowserContext
) -> None:
    page = await new_page(context)
    response = await page.request.post(
        console.url + "/auth/webapp",
        data={"init_data": init_data_for(unique_id(), console.clock())},
    )
    assert response.status == 403


# --- sessions ---------------------------------------------------------------------------------
async def test_a_post_without_the_csrf_token_is_refused(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    start = await console.last_audit_id()
    # the session's cookie goes along (same origin), its CSRF token does not
    bare = await page.request.post(console.url + "/logout", max_redirects=0)
    assert bare.status == 403
    wrong = await page.request.post(
        console.url + "/logout", form={"csrf": "not-the-token"}, max_redirects=0
    )
    assert wrong.status == 403
    # still signed in: neither request signed the admin out
    await page.reload()
    assert "Signed in as" in await page.inner_text("header")
    refused = await console.audit_rows("console.csrf.refused", start)
    assert [r["actor"] for r in refused] == [f"tg:{user}", f"tg:{user}"]
    assert not await console.audit_rows("console.sign_out", start)


async def test_signing_out_ends_the_session_and_is_audited(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    start = await console.last_audit_id()
    await page.click("#sign-out")
    await page.wait_for_url(console.url + "/signed-out")
    await screenshot(page, "signed-out")
    assert await cookie(context, COOKIE) is None
    response = await page.goto(console.url + "/")
    assert response is not None and response.status == 401
    [signed_out] = await console.audit_rows("console.sign_out", start)
    assert (signed_out["actor"], signed_out["details"]["method"]) == (f"tg:{user}", "link")


async def test_a_revoked_admins_open_session_is_refused_at_its_next_request(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    start = await console.last_audit_id()
    await console.gallery.users.set_status(user, "revoked", "test")
    response = await page.reload()
    assert response is not None and response.status == 403
    assert "withdrawn" in await page.inner_text("#reason")
    await screenshot(page, "access-withdrawn")
    [ended] = await console.audit_rows("console.session.end", start)
    assert (ended["target"], ended["details"]["reason"]) == (f"user:{user}", "access_withdrawn")
    # approved again, the ended session stays ended: a new sign-in is needed
    await console.gallery.users.set_status(user, "approved", "test")
    response = await page.goto(console.url + "/")
    assert response is not None and response.status == 401


async def test_a_demoted_admin_gets_403_at_the_next_request(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    await console.gallery.users.set_role(user, "officer", "test")
    response = await page.goto(console.url + "/lookups")
    assert response is not None and response.status == 403


async def test_a_session_idle_for_twelve_hours_ends_and_activity_keeps_it(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    for _ in range(2):  # 22 hours in all, never 12 without a request
        console.clock.advance(timedelta(hours=11))
        response = await page.goto(console.url + "/")
        assert response is not None and response.status == 200
    start = await console.last_audit_id()
    console.clock.advance(timedelta(hours=12, seconds=1))
    response = await page.goto(console.url + "/")
    assert response is not None and response.status == 401
    [ended] = await console.audit_rows("console.session.end", start)
    assert ended["details"]["reason"] == "idle"


async def test_pages_need_a_session(console: Console, context: BrowserContext) -> None:
    page = await new_page(context)
    for path in ("/", "/lookups", "/pictures/lookup-face/1"):
        response = await page.goto(console.url + path)
        assert response is not None and response.status == 401, path
    assert "open it from the bot" in await page.inner_text("#reason")
    await screenshot(page, "sign-in-needed")


# --- headers ----------------------------------------------------------------------------------
async def test_every_response_carries_the_security_headers(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await sign_in(console, context, user)
    telegram = "https://web.telegram.org https://webk.telegram.org https://webz.telegram.org"
    for path, status in (
        ("/", 200),
        ("/lookups", 200),
        ("/app", 200),
        ("/login/" + "y" * 43, 401),
        ("/no-such-page", 404),
        ("/static/console.css", 200),
    ):
        response = await page.request.get(console.url + path)
        assert response.status == status, path
        headers = response.headers
        csp = {d.split()[0]: d.split()[1:] for d in headers["content-security-policy"].split("; ")}
        assert csp["frame-ancestors"] == telegram.split(), path
        assert csp["default-src"] == ["'none'"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        expected_scripts = ["'self'", "https://telegram.org"] if path == "/app" else ["'self'"]
        assert csp["script-src"] == expected_scripts, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        if not path.startswith("/static/"):
            assert headers["cache-control"] == "no-store", path


async def test_refusals_from_one_address_are_audited_up_to_a_limit_and_never_lock_out(
    console: Console,
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    remote = "198.51.100.7"
    for n in range(REFUSALS_AUDITED + 5):
        with pytest.raises(SignInRefused):
            await console.sessions.sign_in_with_link(f"{n:043d}", remote=remote)
    refused = await console.audit_rows("console.sign_in.refused", start)
    assert len(refused) == REFUSALS_AUDITED + 1
    assert "unaudited_until" in refused[-1]["details"]
    assert all("unaudited_until" not in r["details"] for r in refused[:-1])
    # the address still signs in with a good link
    link = await console.link(user)
    session = await console.sessions.sign_in_with_link(link.rsplit("/", 1)[1], remote=remote)
    assert session.user.id == user
