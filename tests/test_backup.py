"""`facefind backup` / `restore` on the embedded server, as processes: a backup taken while the
bot runs, restored into a fresh data folder, holds the gallery and an audit log that verifies."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from tests import images
from tests.fakebotapi import FakeBotApi
from tests.processes import FacefindProcess


def embedded_env(data_dir: Path) -> dict[str, str]:
    """No DATABASE_URL: facefind runs its embedded server in data_dir/pg."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    return env | {"FACEFIND_DATA_DIR": str(data_dir), "FACEFIND_LOG_LEVEL": "WARNING"}


async def cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`python -m facefind ARGS` off the event loop (the fake Bot API server runs on it)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "facefind", *args],
        env=embedded_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_a_backup_taken_while_the_bot_runs_restores_into_a_fresh_data_folder(
    tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    people = tmp_path / "people"
    for k, box in enumerate(t1_boxes[:3]):
        (people / f"Person_{k + 1}").mkdir(parents=True)
        crop = images.crop_around(t1, box, 0.6)
        (people / f"Person_{k + 1}" / "a.jpg").write_bytes(images.to_jpeg(crop))
    enrolled = await cli(["enroll", "-q", str(people)], source)
    assert enrolled.returncode == 0, enrolled.stderr

    backup = tmp_path / "facefind.backup"
    async with FakeBotApi() as api:
        bot = await FacefindProcess.start(
            "run",
            embedded_env(source)
            | {
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.url,
                "FACEFIND_HTTP_LISTEN": "127.0.0.1:0",
                "FACEFIND_WEB_LISTEN": "127.0.0.1:0",
                "ADMIN_IDS": "777",
                "FACEFIND_INFERENCE_WORKERS": "1",
            },
        )
        try:
            await api.wait_for_call("getUpdates", timeout=120)
            done = await cli(["backup", str(backup)], source)
            assert done.returncode == 0, done.stderr
            # while the bot uses the server, a restore is refused and changes nothing
            refused = await cli(["restore", "--force", str(backup)], source)
            assert refused.returncode == 1
            assert "refused: the database is in use" in refused.stderr
            assert "stop `facefind run`" in refused.stderr
        finally:
            assert await bot.stop() == 0, bot.log()
    assert (backup.stat().st_mode & 0o777) == 0o600  # biometric data
    with zipfile.ZipFile(backup) as zf:
        assert {"manifest.json", "database.pgdump", "audit-witness.json"} == set(zf.namelist())
        assert zf.read("database.pgdump").startswith(b"PGDMP")  # pg_dump's custom format
    head = re.search(r"facefind audit verify --head (\d+:[0-9a-f]{32})", done.stdout)
    assert head is not None, done.stdout
    key_id = re.search(r"the audit key \(([0-9a-f]{16})\) is not in the file", done.stdout)
    assert key_id is not None, done.stdout

    # a fresh data folder: the key, kept apart, is needed first
    no_key = await cli(["restore", str(backup)], target)
    assert no_key.returncode == 1
    assert f"copy the audit.key with id {key_id[1]}" in no_key.stderr
    target.mkdir()
    shutil.copy2(source / "audit.key", target / "audit.key")
    restored = await cli(["restore", str(backup)], target)
    assert restored.returncode == 0, restored.stderr
    assert "audit chain OK" in restored.stdout

    listing = await cli(["identities"], target)
    assert listing.returncode == 0, listing.stderr
    assert [line.split("\t")[1] for line in listing.stdout.splitlines()[1:]] == [
        "Person 1",
        "Person 2",
        "Person 3",
    ]
    verified = await cli(["audit", "verify", "--head", head[1]], target)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit chain OK" in verified.stdout

    # the restored copy is a gallery now: replacing it takes --force
    again = await cli(["restore", str(backup)], target)
    assert again.returncode == 1 and "is not empty" in again.stderr and "--force" in again.stderr

    # --with-key: the file brings the key to a data folder that has none
    keyed = tmp_path / "with-key.backup"
    done = await cli(["backup", "--with-key", str(keyed)], source)
    assert done.returncode == 0, done.stderr
    assert "the file holds the audit key" in done.stderr
    fresh = tmp_path / "fresh"
    restored = await cli(["restore", str(keyed)], fresh)
    assert restored.returncode == 0, restored.stderr
    assert "installed the backup's audit key" in restored.stdout
    assert "audit chain OK" in restored.stdout
    assert (fresh / "audit.key").read_text() == (source / "audit.key").read_text()
    assert ((fresh / "audit.key").stat().st_mode & 0o777) == 0o600
    # and a data folder with a key of its own is never given another one
    other = tmp_path / "other"
    other.mkdir()
    (other / "audit.key").write_text("ab" * 32 + "\n")
    refused = await cli(["restore", str(keyed)], other)
    assert refused.returncode == 1 and "this data folder has key" in refused.stderr
    assert not (other / "pg").exists()  # refused before the server was even started
