"""The interface's words: Ukrainian readers answered in Ukrainian, a candidate's rate in plain
words in both languages, Cyrillic picture labels, long texts cut within Telegram's limit."""

from __future__ import annotations

import cv2
import numpy as np

from bot.handlers.common import split_text
from bot.runner import BotRunner
from facefind.service import FaceFind
from tests import images
from tests.botkit import (
    Enrolled,
    body,
    buttons,
    officer,
    reply,
    stranger_user,
)
from tests.fakebotapi import FakeBotApi


# --- Ukrainian ------------------------------------------------------------------------------
async def test_a_ukrainian_user_is_answered_in_ukrainian(
    fake: FakeBotApi, bot: BotRunner, service: FaceFind, enrolled: Enrolled
) -> None:
    newcomer = stranger_user(fake, "Оксана", language="uk")
    fake.push_message(newcomer, "/start")
    await reply(fake, newcomer, "Ваш запит на доступ надіслано адміністраторам")

    user = await officer(fake, service, "Тарас", language="uk")
    since = len(fake.sent)
    fake.push_message(user, photo=enrolled.people["Boris"].query)
    summary = await reply(fake, user, "Пошук №", since=since, timeout=60)
    found = [m for m in fake.sent[since:] if m["chat"]["id"] == user["id"] and "photo" in m]
    assert "Схожість" in body(found[0]) and "сильний збіг" in body(found[0])
    assert "Менше ніж 1 з 1\u00a0000\u00a0000\u00a0000 людей, яких немає в галереї" in body(
        found[0]
    )
    assert [label for label, _ in buttons(found[0])] == ["✅ Підтвердити", "❌ Це не ця людина"]
    assert "облич: 1" in body(summary)
    # the command menus speak Ukrainian to readers whose Telegram does
    menu = {c["command"]: c["description"] for c in fake.commands_for({"type": "default"}, "uk")}
    assert menu["history"] == "Мої останні пошуки"
    english = {c["command"]: c["description"] for c in fake.commands_for({"type": "default"})}
    assert english["history"] == "My last lookups"


def test_a_candidates_rate_reads_as_one_in_n_people_in_both_languages() -> None:
    from bot.delivery.replies import rate_text

    assert rate_text("en", 1 / 19_873, 547) == (
        "About 1 in 20,000 people who are not in the gallery would score this high against its "
        "547 identities."
    )
    assert rate_text("uk", 1 / 19_873, 12_000) == (
        "Приблизно 1 з 20\u00a0000 людей, яких немає в галереї, отримали б таку схожість з "
        "однією з її 12\u00a0000 осіб."
    )
    assert rate_text("en", None, 547) is None  # no calibration: no number is made up


def test_the_bot_and_the_cli_word_a_rate_alike_and_cap_it_at_one_in_a_billion() -> None:
    from bot.delivery.replies import rate_text
    from facefind.scoring.bands import Rarity, rarity, rarity_text

    assert rarity(1 / 19_873) == Rarity(20_000, fewer_than=False)
    assert rarity(1e-9) == Rarity(1_000_000_000, fewer_than=False)
    # beyond what a calibration can vouch for: never "about 1 in 650,000,000,000,000"
    assert rarity(1 / 6.5e14) == Rarity(1_000_000_000, fewer_than=True)
    assert rarity_text(1 / 6.5e14, 719) == (
        "Fewer than 1 in 1,000,000,000 people who are not in the gallery would score this high "
        "against its 719 identities."
    )
    # the CLI prints rarity_text; the bot's English is the same sentence, for every rate
    for rate in (0.4, 1 / 19_873, 2e-6, 1e-9, 9.9e-10, 1 / 6.5e14, 0.0):
        assert rate_text("en", rate, 12_345) == rarity_text(rate, 12_345)
    # and Ukrainian caps at the same place
    assert rate_text("uk", 1 / 6.5e14, 719) == (
        "Менше ніж 1 з 1\u00a0000\u00a0000\u00a0000 людей, яких немає в галереї, отримали б таку "
        "схожість з однією з її 719 осіб."
    )
    assert rarity_text(0.01, 0) is None and rate_text("uk", None, 5) is None


def test_picture_labels_in_ukrainian_are_drawn_not_question_marks() -> None:
    from recognition.render import label_font_path, side_by_side

    assert label_font_path() is not None  # DejaVu Sans, with Cyrillic glyphs
    face = images.read_image(images.TOM_HANKS)
    ukrainian = side_by_side(face, images.to_jpeg(face), "ваше фото", "еталон №7")
    question_marks = side_by_side(face, images.to_jpeg(face), "????? ????", "?????? ?7")
    strip = slice(224, None)  # the label strip under the faces
    a = np.asarray(cv2.imdecode(np.frombuffer(ukrainian, np.uint8), cv2.IMREAD_GRAYSCALE))[strip]
    b = np.asarray(cv2.imdecode(np.frombuffer(question_marks, np.uint8), cv2.IMREAD_GRAYSCALE))[
        strip
    ]
    assert (a < 128).sum() > 50  # ink was drawn
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 3  # and it is not '?'


def test_long_texts_are_cut_at_line_ends_within_telegrams_limit() -> None:
    lines = [f"{n} · ✅ Officer {n}" for n in range(400)]
    parts = split_text("\n".join(lines))
    assert len(parts) > 1
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "\n".join(parts).split("\n") == lines  # nothing lost, no line cut in two
    assert split_text("short") == ["short"]
