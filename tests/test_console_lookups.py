"""The console's /lookups: keyset pages of the history with every filter, thumbnails of the query
faces (purged ones shown as such), in the data layer and in a real browser."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import cv2
import numpy as np
import pytest
from playwright.async_api import BrowserContext

from gallery import NewCandidate, NewLookupFace
from gallery.lookup_pages import LookupFilters
from tests import images
from tests.browser import Console, make_user, new_page, screenshot, sign_in, unique_id, until

# the console, browser and context fixtures
pytest_plugins = ["tests.browser"]

MODEL = "test-model"
BASE = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


@dataclass
class History:
    """A small history whose every lookup is known: what each filter must return."""

    admin: int
    officer_a: int
    officer_b: int
    x: int  # identities
    y: int
    z: int
    ids: dict[str, int]  # lookup name -> id
    face_of: dict[str, list[int]]  # lookup name -> its query faces' ids
    newest_first: list[int]  # all lookups as the page orders them


def face_jpeg(n: int) -> bytes:
    """A real face crop from insightface's group photo."""
    img = images.read_image(images.T1)
    x = 100 + 150 * n
    ok, data = cv2.imencode(".jpg", img[200:312, x : x + 112])
    assert ok
    return data.tobytes()


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(512).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture(scope="module")
async def history(console: Console) -> History:
    g = console.gallery
    await g.models.register(MODEL, "d" * 64, "r" * 64)
    admin = await make_user(g, unique_id(), role="admin", first_name="Olena")
    officer_a = await make_user(g, unique_id(), first_name="Andrii")
    officer_b = await make_user(g, unique_id(), first_name="Bohdan")
    people: dict[str, int] = {}
    refs: dict[str, int] = {}
    for n, name in enumerate(("Xenia Example", "Yurii Example", "Zoya Example")):
        ident = await g.identities.create(name, "test")
        people[name[0]] = ident.id
        ref = await g.faces.add(
            identity_id=ident.id,
            model=MODEL,
            embedding=unit(n),
            det_score=0.9,
            quality={},
            bbox=[0, 0, 1, 1],
            crop_jpeg=face_jpeg(n),
            source_sha256=f"{n:064d}",
            actor="test",
            recipe="flip-mean",
        )
        assert ref is not None
        refs[name[0]] = ref

    def cand(rank: int, who: str, sim: float, band: str, held: int | None = None) -> NewCandidate:
        return NewCandidate(rank, people[who], refs[who], sim, band, 0.001, False, held)

    def face(index: int, *candidates: NewCandidate, crop: bool = True) -> NewLookupFace:
        return NewLookupFace(
            index, (0, 0, 10, 10), 0.9, {}, face_jpeg(index) if crop else None, list(candidates)
        )

    # name: (officer, hours before BASE, status, faces)
    plan: dict[str, tuple[int | None, float, str, list[NewLookupFace]]] = {
        "l1": (officer_a, 30, "done", [
            face(1, cand(1, "X", 0.81, "strong"), cand(2, "Y", 0.5, "possible")),
        ]),
        "l2": (officer_a, 20, "done", [face(1, cand(1, "Y", 0.52, "possible")), face(2)]),
        "l3": (officer_b, 20, "done", [face(1)]),  # the same instant as l2
        "l4": (officer_b, 10, "undelivered", [face(1, cand(1, "X", 0.47, "possible"))]),
        "l5": (officer_b, 5, "error", []),
        "l6": (None, 3, "done", [face(1, cand(1, "Z", 0.9, "strong"), crop=False)]),
        "l7": (officer_a, 1, "done", [
            face(1, cand(1, "X", 0.88, "strong")),
            face(2, cand(1, "Z", 0.44, "possible"), cand(2, "X", 0.46, "possible", held=1)),
        ]),
    }  # fmt: skip
    ids: dict[str, int] = {}
    candidate_ids: dict[str, dict[tuple[int, int], int]] = {}
    # the owner dates each lookup as the plan says, before its candidates are stored (they
    # carry its time); the application never changes a lookup's time
    owner = await asyncpg.connect(console.owner_dsn)
    for n, (name, (officer, hours, status, faces)) in enumerate(plan.items()):
        cli = officer is None
        lookup_id = await g.lookups.create(
            user_id=officer,
            actor="cli:tester" if cli else f"tg:{officer}",
            source="cli" if cli else "telegram",
            chat_id=None if cli else officer,
            message_id=None if cli else 1000 + n,
        )
        assert lookup_id is not None
        ids[name] = lookup_id
        await owner.execute(
            "UPDATE lookups SET created_at = $2 WHERE id = $1",
            lookup_id,
            BASE - timedelta(hours=hours),
        )
        outcome = "error" if status == "error" else "done"
        candidate_ids[name] = await g.lookups.finish(
            lookup_id,
            actor="test",
            status=outcome,
            faces=faces,
            reply_owed=status == "undelivered",
        )
        if status == "undelivered":
            assert await g.replies.undelivered(lookup_id, "test", "gave up")
    await g.feedback.add(candidate_ids["l1"][(1, 1)], officer_a, f"tg:{officer_a}", "confirmed")
    await g.feedback.add(candidate_ids["l4"][(1, 1)], officer_b, f"tg:{officer_b}", "rejected")
    try:
        newest_first = [
            r["id"]
            for r in await owner.fetch("SELECT id FROM lookups ORDER BY created_at DESC, id DESC")
        ]
        face_rows = await owner.fetch(
            "SELECT lookup_id, id FROM lookup_faces ORDER BY lookup_id, face_index"
        )
    finally:
        await owner.close()
    by_id = {v: k for k, v in ids.items()}
    face_of: dict[str, list[int]] = {name: [] for name in ids}
    for r in face_rows:
        face_of[by_id[r["lookup_id"]]].append(r["id"])
    return History(
        admin, officer_a, officer_b, people["X"], people["Y"], people["Z"], ids, face_of,
        newest_first,
    )  # fmt: skip


async def shown(console: Console, history: History, filters: LookupFilters) -> list[str]:
    """The names of the lookups a page with these filters shows, in its order."""
    page = await console.gallery.lookup_pages.page(filters, limit=50)
    names = {v: k for k, v in history.ids.items()}
    return [names[r.id] for r in page.rows]


# --- the data layer ---------------------------------------------------------------------------
async def test_the_history_comes_newest_first_with_ties_in_id_order(
    console: Console, history: History
) -> None:
    everything = await shown(console, history, LookupFilters())
    assert everything == ["l7", "l6", "l5", "l4", "l3", "l2", "l1"]
    assert history.ids["l3"] > history.ids["l2"]  # same instant: the later id first


async def test_keyset_pages_cover_the_history_once_each_way(
    console: Console, history: History
) -> None:
    pages = console.gallery.lookup_pages
    forward = [await pages.page(LookupFilters(), limit=2)]
    while forward[-1].older is not None:
        forward.append(await pages.page(LookupFilters(), before=forward[-1].older, limit=2))
    assert [r.id for p in forward for r in p.rows] == history.newest_first
    assert forward[0].newer is None and all(p.newer is not None for p in forward[1:])
    # back toward the newest from the oldest page: the same pages in reverse
    back = [forward[-1]]
    while back[-1].newer is not None:
        back.append(await pages.page(LookupFilters(), after=back[-1].newer, limit=2))
    assert [[r.id for r in p.rows] for p in reversed(back)] == [
        [r.id for r in p.rows] for p in forward
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"band": "strong"}, ["l7", "l6", "l1"]),
        ({"band": "possible"}, ["l4", "l2"]),
        ({"band": "none"}, ["l5", "l3"]),
        ({"status": "undelivered"}, ["l4"]),
        ({"status": "error"}, ["l5"]),
        ({"feedback": "confirmed"}, ["l1"]),
        ({"feedback": "rejected"}, ["l4"]),
        ({"feedback": "none"}, ["l7", "l6", "l5", "l3", "l2"]),
    ],
)
async def test_each_filter_shows_the_lookups_it_names(
    console: Console, history: History, filters: dict[str, str], expected: list[str]
) -> None:
    assert await shown(console, history, LookupFilters(**filters)) == expected  # type: ignore[arg-type]


async def test_the_officer_identity_and_date_filters_combine(
    console: Console, history: History
) -> None:
    a, b = history.officer_a, history.officer_b
    assert await shown(console, history, LookupFilters(user_id=a)) == ["l7", "l2", "l1"]
    assert await shown(console, history, LookupFilters(user_id=b)) == ["l5", "l4", "l3"]
    # an identity: every lookup that showed it, once each (l7 shows X on two faces)
    assert await shown(console, history, LookupFilters(identity_id=history.x)) == ["l7", "l4", "l1"]
    assert await shown(console, history, LookupFilters(identity_id=history.z)) == ["l7", "l6"]
    assert await shown(console, history, LookupFilters(identity_id=history.x, band="strong")) == [
        "l7",
        "l1",
    ]
    one = LookupFilters(identity_id=history.x, user_id=b, band="possible")
    assert await shown(console, history, one) == ["l4"]
    day = LookupFilters(since=BASE - timedelta(hours=21), until=BASE - timedelta(hours=4))
    assert await shown(console, history, day) == ["l5", "l4", "l3", "l2"]


async def test_a_row_carries_its_officer_faces_and_first_candidates(
    console: Console, history: History
) -> None:
    page = await console.gallery.lookup_pages.page(LookupFilters(user_id=history.officer_a))
    l7 = page.rows[0]
    assert l7.id == history.ids["l7"]
    assert l7.officer == f"Andrii (@user{history.officer_a})"
    assert [f.id for f in l7.faces] == history.face_of["l7"]
    # each face's own first candidate; the lead on face 2 is not listed as its candidate
    assert [(c.face_index, c.display_name, c.band) for c in l7.candidates] == [
        (1, "Xenia Example", "strong"),
        (2, "Zoya Example", "possible"),
    ]
    l1 = page.rows[-1]
    assert [(c.display_name, c.verdict) for c in l1.candidates] == [("Xenia Example", "confirmed")]


async def test_a_purged_crop_is_told_apart_from_an_unknown_face(
    console: Console, history: History
) -> None:
    pages = console.gallery.lookup_pages
    [l6_face] = history.face_of["l6"]
    purged = await pages.face_crop(l6_face)
    assert (purged.found, purged.jpeg) == (True, None)
    kept = await pages.face_crop(history.face_of["l1"][0])
    assert kept.found and kept.jpeg is not None and kept.jpeg.startswith(b"\xff\xd8")
    assert not (await pages.face_crop(10**12)).found


# --- in the browser ---------------------------------------------------------------------------
async def test_the_lookups_page_lists_the_history_with_thumbnails_and_filters(
    console: Console, history: History, context: BrowserContext
) -> None:
    page = await sign_in(console, context, history.admin)
    start = await console.last_audit_id()
    await page.goto(console.url + "/lookups")
    rows = page.locator("tr.lookup")
    assert await rows.count() == len(history.newest_first)
    assert [int(v) for v in await rows.evaluate_all("rs => rs.map(r => r.dataset.lookup)")] == (
        history.newest_first
    )
    # every kept crop arrives as a picture; the purged one says so
    await until(page, "Array.from(document.querySelectorAll('img.thumb')).every(i => i.complete)")
    widths = await page.locator("img.thumb").evaluate_all("is => is.map(i => i.naturalWidth)")
    assert widths and all(w == 112 for w in widths)
    l6 = page.locator(f"tr[data-lookup='{history.ids['l6']}']")
    assert "purged" in await l6.inner_text()
    assert "strong candidate" in await l6.inner_text()
    await screenshot(page, "lookups")

    # filters from the form: band strong, then one identity through its link
    await page.select_option("select[name=band]", "strong")
    await page.click("form.filters button[type=submit]")
    await page.wait_for_url("**/lookups?*band=strong*")
    assert await rows.count() == 3
    await page.locator(f"tr[data-lookup='{history.ids['l1']}'] a.candidate").click()
    await page.wait_for_url(f"**/lookups?band=strong&identity={history.x}")
    ids = [int(v) for v in await rows.evaluate_all("rs => rs.map(r => r.dataset.lookup)")]
    assert ids == [history.ids["l7"], history.ids["l1"]]
    listed = await console.audit_rows("lookups.list", start)
    assert [r["details"].get("band") for r in listed] == [None, "strong", "strong"]
    assert listed[-1]["details"]["identity"] == history.x
    assert all(r["actor"] == f"tg:{history.admin}" for r in listed)


async def test_the_lookups_page_fits_a_phone_screen(
    console: Console, history: History, context: BrowserContext
) -> None:
    page = await sign_in(console, context, history.admin)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(console.url + "/lookups?user=" + str(history.officer_a))
    # nothing wider than the screen: no sideways scrolling on a phone
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await screenshot(page, "lookups-phone")


async def test_pictures_go_only_to_a_signed_in_admin_and_are_never_cached(
    console: Console, history: History, context: BrowserContext
) -> None:
    face = history.face_of["l1"][0]
    url = f"{console.url}/pictures/lookup-face/{face}"
    stranger = await new_page(context)
    assert (await stranger.request.get(url)).status == 401
    page = await sign_in(console, context, history.admin)
    response = await page.request.get(url)
    assert response.status == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    purged = await page.request.get(
        f"{console.url}/pictures/lookup-face/{history.face_of['l6'][0]}"
    )
    assert (purged.status, await purged.text()) == (410, "purged")
    assert (await page.request.get(f"{console.url}/pictures/lookup-face/999999999")).status == 404


async def test_filters_the_page_cannot_read_are_named_and_left_out(
    console: Console, history: History, context: BrowserContext
) -> None:
    page = await sign_in(console, context, history.admin)
    await page.goto(console.url + "/lookups?band=certain&user=abc&status=error")
    notice = await page.inner_text(".notice")
    assert "user" in notice and "band" in notice
    ids = [
        int(v)
        for v in await page.locator("tr.lookup").evaluate_all("rs => rs.map(r => r.dataset.lookup)")
    ]
    assert ids == [history.ids["l5"]]
