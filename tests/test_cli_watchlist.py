"""`facefind watchlist`: an identity watched from the command line with its reason, expiry,
recipients and bands, refused for a non-admin recipient or twice, listed, and taken off; each
audited as the bot's commands are."""

from __future__ import annotations

import asyncio
from pathlib import Path

from facefind.access.audit_key import load_audit_key
from facefind.runtime.settings import Settings
from gallery import Gallery, create_pool
from tests.test_cli import run_cli


async def cli(args: list[str], dsn: str, data_dir: Path) -> tuple[int, str, str]:
    done = await asyncio.to_thread(run_cli, ["watchlist", *args], dsn, data_dir)
    return done.returncode, done.stdout, done.stderr


async def test_an_identity_is_watched_listed_and_taken_off_from_the_command_line(
    fresh_dsn: str, tmp_path: Path
) -> None:
    code, out, _ = await cli(["list"], fresh_dsn, tmp_path)  # migrates, makes the audit key
    assert code == 0 and out == ""
    pool = await create_pool(fresh_dsn)
    try:
        gallery = Gallery(pool, audit_key=load_audit_key(Settings(data_dir=tmp_path)))
        wanted = await gallery.identities.create("Wanted Person", "test")
        await gallery.users.set_status(11, "approved", "test", create=True)
        await gallery.users.set_role(11, "admin", "test")
        await gallery.users.set_status(21, "approved", "test", create=True)

        code, out, err = await cli(
            ["add", str(wanted.id), "--reason", "armed robbery", "--notify", "21"],
            fresh_dsn,
            tmp_path,
        )
        assert code == 1 and "not approved admins: 21" in err  # an officer gets no alerts
        code, out, err = await cli(
            [
                "add", str(wanted.id), "--reason", "armed robbery", "--until", "2099-12-31",
                "--notify", "11", "--strong-only",
            ],
            fresh_dsn,
            tmp_path,
        )  # fmt: skip
        assert code == 0, err
        assert out.startswith(f"{wanted.id}\tWanted Person\tarmed robbery\t2100-01-01 00:00 UTC")
        assert "\t11\tstrong only\tcli:" in out
        code, _, err = await cli(["add", str(wanted.id), "--reason", "again"], fresh_dsn, tmp_path)
        assert code == 1 and "on the watchlist already" in err
        code, out, _ = await cli([], fresh_dsn, tmp_path)
        assert code == 0 and out.count("\n") == 1 and "armed robbery" in out

        code, out, _ = await cli(
            ["remove", str(wanted.id), "--why", "arrested"], fresh_dsn, tmp_path
        )
        assert code == 0 and "is no longer watched" in out
        code, _, err = await cli(["remove", str(wanted.id)], fresh_dsn, tmp_path)
        assert code == 1 and "is not watched" in err
        actions = [r[0] for r in await pool.fetch("SELECT action FROM audit_log ORDER BY id")]
        assert actions.count("watchlist.add") == 1 and actions.count("watchlist.remove") == 1
        assert actions.count("watchlist.list") == 2
        assert (await gallery.audit.verify_chain()).ok
    finally:
        await pool.close()
