"""A reply's words for what investigations add, without a bot: faces seen before (officers
only when the setting allows, who took them only for admins, relative days in both
languages), an album's and a clip's summaries, a crowd's faces left out, a clip's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery.reply_plan import Frame, OutMessage, ReplyContext, Seen, compose
from bot.texts.words import ago, times
from gallery import Lookup, StoredLookupFace
from recognition.types import VideoLimits

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def lookup(media: str = "photo", faces: int = 1, **values: object) -> Lookup:
    values = {"outcome": "done", "error": None, **values}
    return Lookup(
        id=7,
        user_id=5,
        actor="tg:5",
        source="telegram",
        chat_id=5,
        message_id=3,
        file_id=None,
        photo_sha256=None,
        model="buffalo_s",
        status="replying",
        face_count=faces,
        timings={},
        created_at=NOW,
        finished_at=NOW,
        media=media,
        faces=[
            StoredLookupFace(
                id=k,
                face_index=k,
                bbox=(0.0, 0.0, 10.0, 10.0),
                det_score=0.9,
                quality={"ok": True},
                crop_jpeg=b"crop",
                candidates=[],
                photo_index=1,
                seen_in=2,
                time_s=3.4,
                has_frame=True,
            )
            for k in range(1, faces + 1)
        ],
        **values,  # type: ignore[arg-type]
    )


def text(slots: list) -> str:
    return "\n\n".join(s.text for s in slots if isinstance(s, OutMessage))


SEEN = {
    1: [Seen(NOW - timedelta(days=3), "Oksana (@ok)", 4), Seen(NOW - timedelta(days=1), "Taras", 5)]
}


def test_an_officer_is_told_the_face_was_seen_before_without_who_took_it() -> None:
    told = text(compose(lookup(), ReplyContext(seen=SEEN, now=NOW)))
    assert told.startswith(
        "Face #1: no confident match in the gallery.\n"
        "The same face was photographed 2 times before: 3 days ago and yesterday.\n\nLookup #7"
    )
    assert "Oksana" not in told


def test_an_admin_is_told_who_took_each_and_an_officer_nothing_when_the_setting_is_off() -> None:
    admin = text(compose(lookup(), ReplyContext(seen=SEEN, show_who=True, now=NOW)))
    assert "— 2025-03-07 12:00: by Oksana (@ok), lookup #4" in admin
    assert "— 2025-03-09 12:00: by Taras, lookup #5" in admin
    hidden = text(compose(lookup(), ReplyContext(seen=SEEN, show_seen=False, now=NOW)))
    assert "photographed" not in hidden


def test_days_and_times_read_naturally_in_ukrainian_and_english() -> None:
    assert [ago("uk", NOW - timedelta(days=d), NOW) for d in (0, 1, 2, 5, 21)] == [
        "сьогодні",
        "вчора",
        "2 дні тому",
        "5 днів тому",
        "2025-02-17",
    ]
    assert ago("en", NOW - timedelta(days=21), NOW) == "on 2025-02-17"
    assert [times("uk", n) for n in (1, 3, 11, 22)] == ["1 раз", "3 рази", "11 разів", "22 рази"]
    assert [times("en", n) for n in (1, 2)] == ["1 time", "2 times"]


def test_an_album_a_clip_and_a_crowd_say_what_they_are() -> None:
    album = text(compose(lookup("album"), ReplyContext(photos=3)))
    assert "Face #1 is in 2 of the album's photos (its best picture: photo 2)." in album
    assert "Lookup #7 · an album of 3 photos · people: 1." in album
    clip = compose(lookup("video_note"))
    assert isinstance(clip[0], OutMessage) and clip[0].picture == Frame(1)
    assert clip[0].text.startswith("Face #1: the best frame, at 0:03 (seen in 2 of the frames")
    crowd = text(compose(lookup(faces=1, faces_left_out=4), ReplyContext(max_faces=10)))
    assert "⚠ 4 more faces were found but not searched (at most 10 a photo" in crowd


def test_a_clip_past_its_limits_is_told_which_limit_in_its_own_words() -> None:
    failed = lookup("video", faces=0, outcome="error", error="too_long")
    [message] = compose(failed, ReplyContext(video=VideoLimits(max_seconds=61.0)))
    assert isinstance(message, OutMessage)
    assert (
        message.text
        == "This clip is longer than the 61 s I analyse. Send a shorter one, or a photo."
    )
    big = lookup("video", faces=0, outcome="error", error="too_large")
    [message] = compose(big, ReplyContext(video=VideoLimits(max_bytes=10 * 1024 * 1024)))
    assert isinstance(message, OutMessage)
    assert message.text == "This clip is larger than the 10 MB I analyse. Send a shorter one."
    # over what Telegram lets a bot download: the 20 MB are named, in the clip's words
    huge = lookup("animation", faces=0, outcome="error", error="file_too_big")
    [message] = compose(huge, ReplyContext(video=VideoLimits(max_bytes=50 * 1024 * 1024)))
    assert isinstance(message, OutMessage) and "larger than the 20 MB I analyse" in message.text


def test_an_alert_with_the_longest_reason_name_and_reference_fits_a_caption() -> None:
    from bot.delivery.alerts import CAPTION_LIMIT, fitted

    values: dict[str, object] = {
        "band": "сильний збіг",
        "pct": 71,
        "lookup_id": 123456,
        "who": "Олександра Ковальчук-Шевченко (@a_very_long_username_of_an_officer)",
        "when": "2025-03-10 12:00 UTC",
        "rate": "Менше ніж 1 з 1\u00a0000\u00a0000\u00a0000 людей, яких немає в галереї, "
        "отримали б таку схожість з однією з її 12\u00a0000 осіб.\n",
        "face_id": 987654,
    }
    free = {"reason": "р" * 500, "name": "Ім'я " * 40, "ref": "REF-" * 50}
    caption = fitted("uk", values, free)
    assert len(caption.encode("utf-16-le")) // 2 <= CAPTION_LIMIT
    assert "№123456" in caption and "71%" in caption and "…" in caption
    short = fitted("en", values, {"reason": "armed robbery", "name": "Alice Ames", "ref": ""})
    assert "Watched because: armed robbery." in short and "…" not in short


def test_an_alert_offers_the_lookup_the_console_and_the_feedback_buttons() -> None:
    from typing import Any, cast

    from bot.delivery.alerts import AlertSender
    from gallery.watchlist_records import AlertDetails

    alert = AlertDetails(
        id=1, entry_id=2, identity_id=3, display_name="Alice Ames", external_ref=None,
        reason="armed robbery", lookup_id=44, looked_by=5, looked_actor="tg:5", looked_at=NOW,
        candidate_id=66, lookup_face_id=7, band="strong", similarity=0.7,
        false_candidate_rate=None, burst_of=None, summarised_count=None, created_at=NOW,
        forgotten=False,
    )  # fmt: skip
    nobody = cast(Any, None)
    plain = AlertSender(nobody, nobody)._keyboard("en", alert)
    assert [[b.callback_data for b in row] for row in plain.inline_keyboard] == [
        ["lk:44"],
        ["fb:c:66", "fb:r:66"],
    ]
    console = AlertSender(nobody, nobody, web_url="https://console.example.org/")
    [[lookup, link], _] = console._keyboard("uk", alert).inline_keyboard
    assert lookup.text == "Відкрити пошук №44"
    assert (link.text, link.url) == ("У консолі", "https://console.example.org/lookups/44")
