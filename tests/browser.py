"""The console's test rig: a real console on a local port over the module's service (its
database used as the runtime role, its models loaded), a clock the tests move, and Debian's
headless Chromium driven by Playwright.

PYTEST_DONT_REWRITE: the test modules import it before pytest loads it as their plugin.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from console import DecisionNotice, bound_port, create_app, start
from facefind.access.actors import Requester
from facefind.access.init_data import init_data_hash
from facefind.access.web_sessions import WebSessions
from facefind.runtime.settings import Settings
from facefind.service import FaceFind
from gallery import Gallery

CHROMIUM = Path(os.environ.get("FACEFIND_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# where the run's screenshots go; FACEFIND_SCREENSHOTS=docs/img/console renews the ones
# docs/console.md shows (by default a run leaves the checkout as it was)
SCREENSHOTS = Path(
    os.environ.get("FACEFIND_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "facefind-console-screenshots"
)
BOT_TOKEN = "123456:console-test-token"
TELEGRAM_SCRIPT = "https://telegram.org/js/telegram-web-app.js"
# what Telegram's script gives the page, for the tests: initData and ready()
TELEGRAM_STUB = """
window.Telegram = { WebApp: { initData: %s, ready: function () {} } };
"""


class Clock:
    """The console's clock: starts now, moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Console:
    """A console being served, with what the tests need to drive and inspect it."""

    url: str
    service: FaceFind
    owner_dsn: str
    clock: Clock
    app: Any
    settings: Settings
    users: dict[str, int] = field(default_factory=dict)

    @property
    def gallery(self) -> Gallery:
        return self.service.gallery

    @property
    def sessions(self) -> WebSessions:
        return self.service.web_sessions

    async def link(self, user_id: int) -> str:
        """A sign-in link as the bot's /console issues it to that admin."""
        return await self.sessions.issue_login_link(user_id, Requester.telegram(user_id))

    async def audit_rows(self, action_prefix: str, after_id: int = 0) -> list[dict[str, Any]]:
        con = await asyncpg.connect(self.owner_dsn)
        try:
            rows = await con.fetch(
                "SELECT id, actor, action, target, details::text AS details FROM audit_log "
                "WHERE id > $1 AND action LIKE $2 ORDER BY id",
                after_id,
                action_prefix + "%",
            )
        finally:
            await con.close()
        return [{**dict(r), "details": json.loads(r["details"])} for r in rows]

    async def last_audit_id(self) -> int:
        con = await asyncpg.connect(self.owner_dsn)
        try:
            return int(await con.fetchval("SELECT coalesce(max(id), 0) FROM audit_log"))
        finally:
            await con.close()


async def make_user(
    gallery: Gallery,
    user_id: int,
    *,
    role: str = "officer",
    status: str = "approved",
    first_name: str = "Test",
    language: str = "en",
) -> int:
    """A Telegram user as the bot would have recorded them (all setup of users goes here)."""
    await gallery.users.seen(user_id, first_name, None, f"user{user_id}", language)
    await gallery.users.set_status(user_id, status, "test")
    await gallery.users.set_role(user_id, role, "test")
    return user_id


def sign_init_data(fields: dict[str, str], bot_token: str = BOT_TOKEN) -> str:
    """initData as Telegram's client hands it to a Mini App: the fields and their hash."""
    return urlencode({**fields, "hash": init_data_hash(fields, bot_token)})


def init_data_for(user_id: int, auth_date: datetime, language: str = "en") -> str:
    user = json.dumps({"id": user_id, "first_name": "Test", "language_code": language})
    return sign_init_data(
        {
            "query_id": "AAH-test",
            "user": user,
            "auth_date": str(int(auth_date.timestamp())),
        }
    )


async def serve_console(
    service: FaceFind,
    owner_dsn: str,
    data_dir: Path,
    *,
    bot_token: str = BOT_TOKEN,
    notice: DecisionNotice | None = None,
    **settings_values: Any,
) -> tuple[Console, Any]:
    """The console on a free local port over `service` (its data folder `data_dir`: the audit
    witness, the latest eval run), with a clock the test moves; no FACEFIND_WEB_URL, so links
    name the listening address, as on a LAN. Returns the console and its runner (cleanup()
    stops it)."""
    clock = Clock()
    settings = Settings(web_listen="127.0.0.1:0", data_dir=data_dir, **settings_values)
    # the port is known once the server listens; the sign-in's base address follows it
    service.web_sessions = WebSessions(service.gallery, base_url="http://127.0.0.1", clock=clock,
                                       bot_token=bot_token)  # fmt: skip
    app = create_app(service=service, settings=settings, notice=notice)
    runner = await start(app, settings.web_listen)
    url = f"http://127.0.0.1:{bound_port(runner)}"
    service.web_sessions.base_url = url
    return Console(url, service, owner_dsn, clock, app, settings), runner


@pytest.fixture(scope="module")
async def console(service: FaceFind, module_dsn: str, data_dir: Path) -> AsyncIterator[Console]:
    """The console over the module's service (conftest: its database as the runtime role)."""
    served, runner = await serve_console(service, module_dsn, data_dir)
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless; Playwright never downloads a browser."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test.sh does)")
    async with async_playwright() as p:
        found = await p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield found
        finally:
            await found.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) for one test; nothing reaches the internet."""
    ctx = await browser.new_context(locale="en-US", viewport={"width": 1200, "height": 800})
    await ctx.route(
        lambda url: not url.startswith("http://127.0.0.1"),
        lambda route: route.abort(),
    )
    try:
        yield ctx
    finally:
        await ctx.close()


async def new_page(context: BrowserContext) -> Page:
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return page


async def with_telegram(context: BrowserContext, init_data: str) -> None:
    """Stand in for telegram.org's script: hand the Mini App page this initData."""
    body = TELEGRAM_STUB % json.dumps(init_data)
    await context.route(
        TELEGRAM_SCRIPT,
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=body),
    )


async def sign_in(console: Console, context: BrowserContext, user_id: int) -> Page:
    """Sign an admin in the way a desktop browser does: the bot's link, then its button."""
    link = await console.link(user_id)
    page = await new_page(context)
    await page.goto(link)
    await page.click("#sign-in")
    await page.wait_for_url(console.url + "/")
    return page


async def until(page: Page, condition: str, timeout: float = 15.0) -> None:
    """Wait until a JavaScript expression is true in the page. (Playwright's wait_for_function
    evaluates strings inside the page, which the console's CSP forbids, as it should.)"""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await page.evaluate(condition):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"still false after {timeout} s: {condition}")
        await asyncio.sleep(0.1)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def cookie(context: BrowserContext, name: str) -> dict[str, Any] | None:
    for c in await context.cookies():
        if c["name"] == name:
            return dict(c)
    return None


def unique_id() -> int:
    """A Telegram user id no other test of the module uses."""
    return 10_000_000 + time.monotonic_ns() % 1_000_000_000
