"""The service's state (/status): the gallery's size and the bands in force, what waits, the
workers, and the plots of the latest `facefind eval` run."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.texts import number, t
from console.web import LANG, NavItem, render, requester, state_of, when

NAV = NavItem("status", "/status", "nav_status", "home_status")
# the rates of an eval run the page shows, in its order (report.json's at_bands)
EVAL_RATES = ("found", "strong", "rank1", "wrong_candidate", "false_candidate")


async def status(request: web.Request) -> web.Response:
    """The state now (it names nobody: not audited)."""
    state = state_of(request)
    report = await state.service.status.report(requester(request), state.settings.data_dir)
    lang = request[LANG]
    bands = report.bands
    evaluation = report.evaluation
    return render(
        request,
        "status.html",
        {
            "nav": "status",
            "s": report,
            "bands": bands,
            "source_text": t(lang, f"bands_source_{bands.source}"),
            "capacity": number(lang, bands.capacity) if bands.capacity else None,
            "by_references": sorted(bands.by_references.items()),
            "workers": [
                {**w.__dict__, "seen": when(w.last_heartbeat)} for w in report.queue.workers
            ],
            "evaluation": _evaluation(evaluation.report) if evaluation else None,
            "eval_when": when(evaluation.made_at) if evaluation else "",
            "eval_plots": [f"/status/eval/{p}" for p in evaluation.plots] if evaluation else [],
        },
    )


def _evaluation(report: dict[str, Any]) -> dict[str, Any]:
    at = report.get("at_bands") or {}
    rates = []
    for key in EVAL_RATES:
        entry = at.get(key)
        if isinstance(entry, dict) and entry.get("of"):
            rates.append(
                {
                    "key": key,
                    "count": entry["count"],
                    "of": entry["of"],
                    "pct": round(100 * entry["count"] / entry["of"], 1),
                }
            )
    gallery = report.get("gallery") or {}
    return {
        "folder": report.get("folder", ""),
        "model": report.get("model", ""),
        "references": report.get("references"),
        "identities": gallery.get("identities_enrolled"),
        "rates": rates,
    }


async def eval_plot(request: web.Request) -> web.Response:
    """A plot of the latest eval run, by the name its report gives it (nothing else is served)."""
    state = state_of(request)
    latest = state.service.status.latest_eval(requester(request), state.settings.data_dir)
    path = latest.plot(request.match_info["name"]) if latest else None
    if path is None:
        raise web.HTTPNotFound()
    return web.Response(body=path.read_bytes(), content_type="image/png")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/status", status, name="status")
    router.add_get("/status/eval/{name}", eval_plot, name="eval_plot")
