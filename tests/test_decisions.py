"""Decisions on users: of two admins deciding at once only one decides, each action applies
only to the users it is for, and ADMIN_IDS undoing a decision is never silent (service, CLI)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from facefind.access.actors import Requester
from facefind.access.decisions import UserDecisions
from facefind.cli import build_parser
from facefind.errors import AlreadyDecided
from facefind.runtime.settings import Settings
from gallery import Gallery, User
from tests.conftest import db_settings

DECISIONS = (
    "user.approved",
    "user.rejected",
    "user.revoked",
    "user.role.admin",
    "user.role.officer",
)


async def decide(gallery: Gallery, user_id: int, action: str, actor: str) -> User | None:
    """An admin's decision, as the bot and the CLI take it (service.users.decide)."""
    return await UserDecisions(gallery).decide(user_id, action, Requester(actor, admin=True))


async def decisions_on(gallery: Gallery, user_id: int) -> list[tuple[str, str]]:
    """(actor, action) of every audited decision on a user, oldest first."""
    rows = await gallery.pool.fetch(
        "SELECT actor, action FROM audit_log WHERE target = $1 AND action = ANY($2::text[]) "
        "ORDER BY id",
        f"user:{user_id}",
        list(DECISIONS),
    )
    return [(r["actor"], r["action"]) for r in rows]


async def test_two_admins_deciding_one_request_at_once_one_decides_the_other_is_told(
    gallery: Gallery,
) -> None:
    for user_id in range(100, 112):
        await gallery.users.seen(user_id, "Asker", None, None, "en")
        # an approve and a reject, and an approve and an approve, sent at the same moment
        second = "reject" if user_id % 2 else "approve"
        results = await asyncio.gather(
            decide(gallery, user_id, "approve", "tg:1"),
            decide(gallery, user_id, second, "tg:2"),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, User)]
        lost = [r for r in results if isinstance(r, AlreadyDecided)]
        assert len(won) == 1 and len(lost) == 1, results
        stored = await gallery.users.get(user_id)
        assert stored is not None and stored.status == won[0].status
        # the loser is told what the winner decided, and by whom
        assert lost[0].user.status == stored.status
        assert lost[0].user.decided_by == stored.decided_by
        assert lost[0].same == (second == "approve")
        # only the decision that stands is in the audit log
        assert await decisions_on(gallery, user_id) == [
            (stored.decided_by, f"user.{stored.status}")
        ]


async def test_a_decision_on_a_user_as_they_no_longer_are_writes_nothing(
    gallery: Gallery,
) -> None:
    asker, _ = await gallery.users.seen(200, "Asker", None, None, "en")
    approved = await gallery.users.change(200, "tg:1", seen=asker, status="approved")
    assert approved is not None and approved.status == "approved"
    # a second admin who read the request while it was pending
    assert await gallery.users.change(200, "tg:2", seen=asker, status="rejected") is None
    stored = await gallery.users.get(200)
    assert stored is not None and stored.status == "approved" and stored.decided_by == "tg:1"
    assert await decisions_on(gallery, 200) == [("tg:1", "user.approved")]


async def test_each_user_action_applies_only_to_the_users_it_is_for(gallery: Gallery) -> None:
    await gallery.users.seen(300, "Officer", None, None, "en")
    # revoking a request that was never approved, demoting an officer: nothing to do
    with pytest.raises(AlreadyDecided) as refused:
        await decide(gallery, 300, "revoke", "tg:1")
    assert refused.value.user.status == "pending" and not refused.value.same
    with pytest.raises(AlreadyDecided) as refused:
        await decide(gallery, 300, "demote", "tg:1")
    assert refused.value.same
    approved = await decide(gallery, 300, "approve", "tg:1")
    assert approved is not None and approved.status == "approved"
    # a late reject does not overwrite the approval: access is withdrawn with revoke
    with pytest.raises(AlreadyDecided) as refused:
        await decide(gallery, 300, "reject", "tg:2")
    assert refused.value.user.decided_by == "tg:1" and not refused.value.same
    with pytest.raises(AlreadyDecided) as refused:
        await decide(gallery, 300, "approve", "tg:2")
    assert refused.value.same
    revoked = await decide(gallery, 300, "revoke", "tg:2")
    assert revoked is not None and revoked.status == "revoked"
    # promoting also approves, in one decision
    promoted = await decide(gallery, 300, "promote", "tg:1")
    assert promoted is not None and promoted.is_admin
    assert await decisions_on(gallery, 300) == [
        ("tg:1", "user.approved"),
        ("tg:2", "user.revoked"),
        ("tg:1", "user.role.admin"),
        ("tg:1", "user.approved"),
    ]
    assert await decide(gallery, 999, "approve", "tg:1") is None


async def users_cli(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(["users", *argv])
    return int(await args.func(settings, args))


async def test_the_cli_says_when_admin_ids_will_undo_a_revoke_or_demote(
    fresh_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listed, other = 7001, 7002
    settings = Settings(**db_settings(fresh_dsn, tmp_path), admin_ids=(listed,))
    assert await users_cli(settings, "promote", str(listed)) == 0
    assert await users_cli(settings, "promote", str(other)) == 0
    assert "ADMIN_IDS" not in capsys.readouterr().err

    assert await users_cli(settings, "revoke", str(listed)) == 0
    out, err = capsys.readouterr()
    assert f"user {listed}: role admin, status revoked" in out
    assert f"user {listed} is listed in ADMIN_IDS and will be made an approved admin again" in err
    assert "remove them from ADMIN_IDS" in err

    assert await users_cli(settings, "approve", str(listed)) == 0
    assert await users_cli(settings, "demote", str(listed)) == 0
    out, err = capsys.readouterr()
    assert f"user {listed}: role officer, status approved" in out
    assert err.count("is listed in ADMIN_IDS") == 1  # the demote, not the approval before it

    # a user who is not listed: no such warning
    assert await users_cli(settings, "demote", str(other)) == 0
    assert "ADMIN_IDS" not in capsys.readouterr().err


async def test_the_cli_says_who_decided_when_a_decision_no_longer_applies(
    fresh_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(**db_settings(fresh_dsn, tmp_path))
    assert await users_cli(settings, "approve", "7100") == 0
    capsys.readouterr()
    # already approved: done, nothing to do
    assert await users_cli(settings, "approve", "7100") == 0
    out, _ = capsys.readouterr()
    assert "nothing changed: user 7100 is already officer, approved, decided by cli:" in out
    # a reject of an approved user does not happen, and the exit status says so
    assert await users_cli(settings, "reject", "7100") == 1
    _, err = capsys.readouterr()
    assert "nothing changed: user 7100 is already officer, approved, decided by cli:" in err
