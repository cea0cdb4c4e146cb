"""The audit log (/audit): the chain's state as `facefind audit verify` reports it, the witness's
head, rows filtered by actor, action, target and date, and the same rows as CSV."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from console.web import (
    NavItem,
    done,
    parse_day,
    parse_id,
    render,
    requester,
    service_of,
    state_of,
    when,
    with_query,
)
from facefind.access.witness import Witness
from gallery.audit_log import AuditFilters

NAV = NavItem("audit", "/audit", "nav_audit", "home_audit")
PAGE_SIZE = 100
FILTER_NAMES = ("actor", "action", "target", "since", "until")


@dataclass(frozen=True)
class ParsedAudit:
    filters: AuditFilters
    kept: dict[str, str]
    invalid: list[str]


def parse_audit_filters(query: Any) -> ParsedAudit:
    """The address's filters; a date that is not one is left out and named."""
    kept: dict[str, str] = {}
    invalid: list[str] = []
    values: dict[str, Any] = {}
    for name in FILTER_NAMES:
        raw = (query.get(name) or "").strip()[:200]
        if not raw:
            continue
        if name in ("since", "until"):
            day = parse_day(raw)
            if day is None:
                invalid.append(name)
                continue
            values[name] = day + timedelta(days=1) if name == "until" else day
        else:
            values[name] = raw
        kept[name] = raw
    return ParsedAudit(AuditFilters(**values), kept, invalid)


async def audit(request: web.Request) -> web.Response:
    """Rows newest first, filtered; the chain checked when this process has not yet."""
    state = state_of(request)
    trail = state.service.audit_trail
    who = requester(request)
    witness = Witness.of(state.settings)
    if trail.last_check is None:
        await trail.check_chain(who, witness)
    parsed = parse_audit_filters(request.query)
    before = parse_id(request.query.get("before"))
    rows = await trail.page(who, parsed.filters, before=before, limit=PAGE_SIZE + 1)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    status = await trail.state(who, witness)
    return render(
        request,
        "audit.html",
        {
            "nav": "audit",
            "status": status,
            "checked_at": when(status.last_check.checked_at) if status.last_check else "",
            "kept": parsed.kept,
            "invalid": parsed.invalid,
            "audit_rows": [
                {**r, "when": when(r["at"]), "details_text": _details(r["details"])} for r in rows
            ],
            "older_url": with_query("/audit", **parsed.kept, before=rows[-1]["id"])
            if more and rows
            else None,
            "newest_url": with_query("/audit", **parsed.kept) if before else None,
            "csv_url": with_query("/audit.csv", **parsed.kept),
        },
    )


def _details(details: Any) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True) if details else ""


async def check(request: web.Request) -> web.Response:
    """Check the whole chain now, as `facefind audit verify` does."""
    state = state_of(request)
    checked = await state.service.audit_trail.check_chain(
        requester(request), Witness.of(state.settings)
    )
    return done("/audit", "chain_ok" if checked.verdict.ok else "chain_broken")


async def export(request: web.Request) -> web.Response:
    """The filtered rows as a CSV file; audited (`audit.export`)."""
    parsed = parse_audit_filters(request.query)
    exported = await service_of(request).audit_trail.export(requester(request), parsed.filters)
    return web.Response(
        body=exported.csv,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{exported.filename}"'},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/audit", audit, name="audit")
    router.add_post("/audit/check", check, name="audit_check")
    router.add_get("/audit.csv", export, name="audit_csv")
