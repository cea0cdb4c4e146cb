"""The console over HTTPS in a real browser, as behind a TLS proxy: the session cookie is
`__Host-` and Secure; a one-time link's session is SameSite=Strict, so a page framed by another
site never carries it; the Mini App's session is SameSite=None and Partitioned, so the console
signs in and works inside Telegram's web client's frame.

The certificate is a test CA's (trustme); Chromium is told to accept it. Telegram's web client
is stood in for by a page served at its address (nothing reaches the internet)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Frame, Page, async_playwright

from console import create_app
from facefind.access.web_sessions import WebSessions
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from tests.browser import (
    BOT_TOKEN,
    CHROMIUM,
    CHROMIUM_ARGS,
    Clock,
    Console,
    cookie,
    init_data_for,
    make_user,
    new_page,
    unique_id,
    with_telegram,
)

# the service's fixtures (conftest); the browser is this module's own, below

COOKIE = "__Host-facefind_console"
TELEGRAM_WEB = "https://web.telegram.org/k/"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, allowing a public site to frame a loopback address: here
    the console listens on 127.0.0.1, where a deployment's is a public HTTPS address, and
    Chromium's local network access checks would block Telegram's web client from framing it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    args = [*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"]
    async with async_playwright() as p:
        found = await p.chromium.launch(executable_path=str(CHROMIUM), args=args, headless=True)
        try:
            yield found
        finally:
            await found.close()


@pytest.fixture(scope="module")
def tls() -> ssl.SSLContext:
    """A server certificate for 127.0.0.1 from a test CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
async def console(
    service: FaceFind, module_dsn: str, data_dir: Path, tls: ssl.SSLContext
) -> AsyncIterator[Console]:
    """The console served over HTTPS on a free port, its address an https:// one, as with
    FACEFIND_WEB_URL behind a proxy."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    url = f"https://127.0.0.1:{listener.getsockname()[1]}"
    clock = Clock()
    settings = Settings(web_listen="127.0.0.1:0", web_url=url, data_dir=data_dir)
    service.web_sessions = WebSessions(
        service.gallery, base_url=url, bot_token=BOT_TOKEN, clock=clock
    )
    app = create_app(service=service, settings=settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, listener, ssl_context=tls).start()
    try:
        yield Console(url, service, module_dsn, clock, app, settings)
    finally:
        await runner.cleanup()


@pytest.fixture
async def context(browser: Browser, console: Console) -> AsyncIterator[BrowserContext]:
    """A fresh profile that accepts the test CA's certificate; only the console is reached,
    and Telegram's web client is a page of the test's."""
    ctx = await browser.new_context(
        locale="en-US", viewport={"width": 1200, "height": 800}, ignore_https_errors=True
    )
    await ctx.route(lambda url: not url.startswith(console.url), lambda route: route.abort())
    try:
        yield ctx
    finally:
        await ctx.close()


async def admin(console: Console) -> int:
    return await make_user(console.gallery, unique_id(), role="admin", first_name="Olena")


async def telegram_web_framing(context: BrowserContext, src: str) -> Page:
    """Telegram's web client (its address, a page of ours) showing `src` in a frame, as it
    shows a Mini App."""
    html = f'<!doctype html><title>Telegram</title><iframe src="{src}" id="app"></iframe>'
    await context.route(
        TELEGRAM_WEB, lambda route: route.fulfill(status=200, content_type="text/html", body=html)
    )
    page = await new_page(context)
    await page.goto(TELEGRAM_WEB)
    return page


def console_frame(page: Page, console: Console) -> Frame:
    found = [f for f in page.frames if f.url.startswith(console.url)]
    assert len(found) == 1, [f.url for f in page.frames]
    return found[0]


async def test_a_link_session_over_https_is_a_secure_host_only_strict_cookie(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    page = await new_page(context)
    await page.goto(await console.link(user))
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")
    assert "Signed in as Olena" in await page.inner_text("header")
    session = await cookie(context, COOKIE)
    assert session is not None, await context.cookies()
    assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "Strict")
    assert session["path"] == "/" and session["domain"] == "127.0.0.1"
    # a page loads with it
    await page.goto(console.url + "/lookups")
    assert "Signed in as Olena" in await page.inner_text("header")

    # another site framing the console never carries a Strict session
    framing = await telegram_web_framing(context, console.url + "/lookups")
    frame = console_frame(framing, console)
    await frame.wait_for_load_state()
    assert "Signed in as" not in await frame.inner_text("body")


async def test_the_mini_app_signs_in_and_works_inside_telegrams_web_client_frame(
    console: Console, context: BrowserContext
) -> None:
    user = await admin(console)
    start = await console.last_audit_id()
    await with_telegram(context, init_data_for(user, console.clock()))
    page = await telegram_web_framing(context, console.url + "/app")
    frame = console_frame(page, console)
    # the Mini App's script signs in and opens the console, inside the frame
    for _ in range(150):
        if frame.url == console.url + "/":
            break
        await page.wait_for_timeout(100)
    assert frame.url == console.url + "/"
    assert "Signed in as Olena" in await frame.inner_text("header")
    session = await cookie(context, COOKIE)
    assert session is not None, await context.cookies()
    assert (session["secure"], session["httpOnly"], session["sameSite"]) == (True, True, "None")
    # kept for Telegram's site alone (CHIPS): no other site that frames the console shares it
    assert session.get("partitionKey") == "https://telegram.org", session
    # the session goes on working inside the frame: the next page is signed in too
    await frame.goto(console.url + "/lookups")
    assert "Signed in as Olena" in await frame.inner_text("header")
    [signed_in] = await console.audit_rows("console.sign_in", start)
    assert signed_in["details"]["method"] == "webapp"

    # signing out inside the frame removes the partitioned cookie too
    await frame.click("#sign-out")
    for _ in range(150):
        if frame.url == console.url + "/signed-out":
            break
        await page.wait_for_timeout(100)
    assert frame.url == console.url + "/signed-out"
    assert await cookie(context, COOKIE) is None, await context.cookies()
    [signed_out] = await console.audit_rows("console.sign_out", start)
    assert signed_out["target"] == f"user:{user}"
