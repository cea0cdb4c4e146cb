"""The command line: a folder enrolled and photos identified as JSON, identities listed,
forgotten and restored with --deleted before or after the action, a folder without photos."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from facefind.cli import build_parser
from tests import images


# --- the command line -----------------------------------------------------------------------
def run_cli(
    args: list[str], dsn: str, data_dir: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=dsn, FACEFIND_DATA_DIR=str(data_dir), **(extra_env or {}))
    return subprocess.run(
        [sys.executable, "-m", "facefind.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_enroll_then_identify_json(
    fresh_dsn: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    gallery_dir = tmp_path / "gallery"
    for k, box in enumerate(t1_boxes[:3]):
        person = gallery_dir / f"Person_{k + 1}"
        person.mkdir(parents=True)
        (person / "a.jpg").write_bytes(images.to_jpeg(images.crop_around(t1, box, 0.6)))
        (person / "b.png").write_bytes(images.to_png(images.crop_around(t1, box, 0.9)))
    (gallery_dir / "Group").mkdir()
    (gallery_dir / "Group" / "t1.jpg").write_bytes(images.read_bytes("t1.jpg"))
    (gallery_dir / "identities.csv").write_text("name,external_ref,notes\nPerson 1,CASE-7,\n")

    # two worker processes analyse the photos
    first = run_cli(["enroll", "--quiet", "--workers", "2", str(gallery_dir)], fresh_dsn, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "people: 4; enrolled: 3 (6 face(s), 3 new identities)" in first.stdout
    # the group photo is a tie: named, with a numbered picture next to it, and not enrolled
    assert "NOT ENROLLED (1)" in first.stdout and "  Group" in first.stdout
    review = gallery_dir / "Group" / "t1.faces.jpg"
    assert "t1.jpg: 6 faces -> " + str(review) in first.stdout and review.stat().st_size > 0
    second = run_cli(["enroll", "--quiet", "--json", str(gallery_dir)], fresh_dsn, tmp_path)
    summary = json.loads(second.stdout)
    assert summary["faces_enrolled"] == 0 and summary["ties"] == 1
    assert summary["skipped"] == 6
    assert all(s["reason"].startswith("already enrolled") for s in summary["details"]["skipped"])
    # the admin enrolls face 3 of the group photo by its number
    chosen = run_cli(
        ["enroll", str(gallery_dir / "Group" / "t1.jpg"), "--face", "3"], fresh_dsn, tmp_path
    )
    assert chosen.returncode == 0, chosen.stderr
    assert "enrolled face 3 of" in chosen.stdout and "for Group" in chosen.stdout

    query = tmp_path / "query.jpg"
    query.write_bytes(images.to_jpeg(images.flip(images.crop_around(t1, t1_boxes[0], 0.4))))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(images.to_jpeg(t1)[:2000])
    out = run_cli(["identify", "--json", str(query), str(broken)], fresh_dsn, tmp_path)
    assert out.returncode == 0, out.stderr
    good, bad = (json.loads(line) for line in out.stdout.splitlines())
    assert good["error"] is None and isinstance(good["lookup_id"], int)
    face = good["faces"][0]
    assert face["index"] == 1 and len(face["bbox"]) == 4 and face["det_score"] > 0.5
    assert isinstance(face["quality"]["ok"], bool) and isinstance(face["quality"]["reasons"], list)
    top = face["candidates"][0]
    assert (top["name"], top["external_ref"], top["band"]) == ("Person 1", "CASE-7", "strong")
    assert set(top) == {
        "identity_id", "name", "external_ref", "similarity", "band", "face_id",
        "false_candidate_rate", "low_quality_reference", "held_by_face",
    }  # fmt: skip
    assert top["low_quality_reference"] is False and top["held_by_face"] is None
    assert good["bands"]["identities"] == 4 and good["bands"]["possible"] > 0
    assert bad["faces"] == [] and bad["error"].startswith("corrupt")

    listing = run_cli(["identities"], fresh_dsn, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "model buffalo_s: 4 identities; bands in force: strong >= " in listing.stdout
    assert "possible >= " in listing.stdout and "#1\tPerson 1 [CASE-7]\t2 face(s)" in listing.stdout

    # a forgotten identity is listed with --deleted, the option after the action too
    assert run_cli(["identities", "forget", "4"], fresh_dsn, tmp_path).returncode == 0
    deleted = run_cli(["identities", "list", "--deleted"], fresh_dsn, tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    assert "#4\t(erased #4)\t0 face(s) (erased)" in deleted.stdout  # no grace period set

    # an identity renamed, another merged into it: person 3's face is now named by #2
    edited = run_cli(
        ["identities", "edit", "2", "--name", "Ann Doe", "--ref", "C-2"], fresh_dsn, tmp_path
    )
    assert edited.returncode == 0 and "identity #2 now Ann Doe [C-2]" in edited.stdout
    merged = run_cli(["identities", "merge", "3", "2"], fresh_dsn, tmp_path)
    assert merged.returncode == 0, merged.stderr
    assert "identity #3 merged into #2: 2 face(s) moved, 0 left" in merged.stdout
    refused = run_cli(["identities", "merge", "3", "2"], fresh_dsn, tmp_path)
    assert refused.returncode == 1 and "must both be in use" in refused.stderr
    query.write_bytes(images.to_jpeg(images.crop_around(t1, t1_boxes[2], 0.5)))
    again = json.loads(run_cli(["identify", "--json", str(query)], fresh_dsn, tmp_path).stdout)
    assert again["faces"][0]["candidates"][0]["name"] == "Ann Doe"

    audit = run_cli(["audit", "verify"], fresh_dsn, tmp_path)
    assert audit.returncode == 0 and "audit chain OK" in audit.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["identities", "--deleted"],
        ["identities", "--deleted", "list"],
        ["identities", "list", "--deleted"],
    ],
)
def test_identities_take_deleted_before_or_after_the_action(argv: list[str]) -> None:
    assert build_parser().parse_args(argv).deleted is True


def test_identities_list_without_deleted_leaves_forgotten_ones_out() -> None:
    assert build_parser().parse_args(["identities", "list"]).deleted is False


def test_enrolling_a_folder_with_no_photos_says_so_and_fails(
    fresh_dsn: str, tmp_path: Path, t1: np.ndarray, t1_boxes: list
) -> None:
    empty = tmp_path / "empty"
    (empty / "Nobody").mkdir(parents=True)
    out = run_cli(["enroll", "--quiet", str(empty)], fresh_dsn, tmp_path)
    assert out.returncode == 1
    assert f"error: no photos to enroll in {empty}: it needs one subfolder" in out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""
    # photos put straight into the folder: the layout is named
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "a.jpg").write_bytes(images.to_jpeg(images.crop_around(t1, t1_boxes[0], 0.6)))
    out = run_cli(["enroll", "--quiet", str(loose)], fresh_dsn, tmp_path)
    assert out.returncode == 1 and "put each person's photos in a subfolder" in out.stderr
    # photos, but not one usable face: the report, then a failure
    faceless = tmp_path / "faceless" / "Someone"
    faceless.mkdir(parents=True)
    ramp = np.linspace(0, 255, 320, dtype=np.uint8)
    (faceless / "a.jpg").write_bytes(images.to_jpeg(np.dstack([np.tile(ramp, (240, 1))] * 3)))
    out = run_cli(["enroll", "--quiet", str(faceless.parent)], fresh_dsn, tmp_path)
    assert out.returncode == 1, out.stderr
    assert "NOT ENROLLED (1)" in out.stdout
    assert f"error: nobody was enrolled from {faceless.parent}" in out.stderr


def test_cli_console_refuses_to_start_when_the_console_is_off(tmp_path: Path) -> None:
    # refused before any database is opened
    nowhere = "postgresql://facefind_app@127.0.0.1:9/none"
    result = run_cli(["console"], nowhere, tmp_path, {"FACEFIND_WEB_LISTEN": "off"})
    assert result.returncode != 0
    assert "FACEFIND_WEB_LISTEN=off" in result.stderr and "Traceback" not in result.stderr
