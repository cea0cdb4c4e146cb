"""The signed-in admin's start page: one card per page area of the menu."""

from __future__ import annotations

from aiohttp import web

from console.web import render


async def home(request: web.Request) -> web.Response:
    """The start page."""
    return render(request, "home.html", {"nav": "home"})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/", home, name="home")
