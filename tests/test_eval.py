"""`facefind eval` end to end: a labelled folder derived from t1.jpg, a scratch database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from facefind.calibration import load_calibration
from recognition.models import resolve_model_pack
from recognition.pipeline import FaceAnalyzer
from recognition.types import Limits
from tests import images

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six people of t1.jpg with four derived photos each, and one person with one photo.

    The first photo (in name order) of each of the six is the reference; the others are a
    mirror image, a smaller copy of a wider crop, and a badly recompressed one. Tom Hanks has
    a single photo, so he stands for someone who is not enrolled.
    """
    t1 = images.read_image(images.T1)
    faces = FaceAnalyzer(resolve_model_pack(None), Limits()).analyze_image(t1, "t1").faces
    assert len(faces) == images.T1_FACES
    root = tmp_path_factory.mktemp("labelled")
    for k, face in enumerate(faces):
        person = root / f"Person_{k + 1}"
        person.mkdir()
        crop = images.crop_around(t1, face.bbox, 0.6)
        (person / "01.jpg").write_bytes(images.to_jpeg(crop))
        (person / "02.jpg").write_bytes(images.to_jpeg(images.flip(crop)))
        wide = images.crop_around(t1, face.bbox, 1.0)
        (person / "03.png").write_bytes(images.to_png(images.resize(wide, 0.7)))
        (person / "04.jpg").write_bytes(images.recompress_jpeg(crop, 35))
    (root / "Tom_Hanks").mkdir()
    (root / "Tom_Hanks" / "01.png").write_bytes(images.read_bytes(images.TOM_HANKS))
    return root


def run_eval(args: list[str], server: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, DATABASE_URL=server, FACEFIND_DATA_DIR=str(data_dir))
    return subprocess.run(
        [sys.executable, "-m", "facefind.cli", "eval", "--quiet", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_eval_finds_every_derived_photo_and_reports_sane_numbers(
    pg_server: str, labelled_folder: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    done = run_eval(
        [str(labelled_folder), "--refs", "1", "--out", str(out), "--calibrate"], pg_server, tmp_path
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())

    gallery = report["gallery"]
    assert gallery["people"] == 7 and gallery["people_to_enroll"] == 6
    assert gallery["identities_enrolled"] == 6 and gallery["people_refused"] == []
    assert report["probes"]["photos_of_enrolled_people"] == 18
    assert report["probes"]["photos_of_people_not_enrolled"] == 1
    at = report["at_bands"]
    assert at["rank1"] == {"rate": 1.0, "count": 18, "of": 18}
    assert at["found"]["count"] == 18 and at["found"]["of"] == 18
    assert at["false_candidate"] == {"rate": 0.0, "count": 0, "of": 1}
    assert at["wrong_candidate"]["count"] == 0
    assert at["wrong_strong_enrolled"]["count"] == 0
    assert at["wrong_strong_not_enrolled"]["count"] == 0
    assert report["thresholds"]["possible"] <= report["thresholds"]["strong"]

    found = [row["found"] for row in report["sweep"]]
    assert found == sorted(found, reverse=True) and found[0] == 1.0
    for name in report["plots"]:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert {"operating-curve.png", "score-histograms.png"} <= set(report["plots"])
    assert "found (right identity first, >= possible): 100.00% (18 of 18)" in done.stdout

    # The bands in force come from the shipped calibration and this six-identity gallery.
    bands = report["thresholds"]
    assert bands["source"] == "calibrated" and bands["identities"] == 6
    # At most the target: a gallery this small sits on the floor, below it.
    assert 0 < bands["predicted_false_candidate"] <= 0.005 * 1.001
    lines = (out / "probes.jsonl").read_text().splitlines()
    assert len(lines) == 19 and all(json.loads(line)["scores"] for line in lines)

    # --calibrate: a calibration of the pack in use, from these photos, in the data folder.
    pack = resolve_model_pack(None)
    written = load_calibration(pack.name, pack.recognizer_sha256, tmp_path)
    assert written is not None and written.source.startswith("facefind eval --calibrate on 7")
    assert report["calibration"]["path"] == str(tmp_path / "calibrations" / "buffalo_s.json")

    # The scratch database is gone; the operator's gallery was never touched.
    con = await asyncpg.connect(pg_server)
    try:
        left = await con.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'facefind_eval_%'"
        )
    finally:
        await con.close()
    assert left == []


def test_eval_refuses_a_missing_folder(pg_server: str, tmp_path: Path) -> None:
    done = run_eval([str(tmp_path / "nowhere")], pg_server, tmp_path)
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_eval_of_a_folder_with_nobody_to_enroll_says_so_and_fails(
    pg_server: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_eval([str(empty), "--out", str(tmp_path / "out")], pg_server, tmp_path)
    assert done.returncode == 1
    assert f"error: nothing to enroll in {empty}" in done.stderr
    assert "Traceback" not in done.stderr and "n/a" not in done.stdout
    # one photo each, one reference each: nobody is left to search for
    singles = tmp_path / "singles"
    for name in ("Ann", "Bob"):
        (singles / name).mkdir(parents=True)
        (singles / name / "01.png").write_bytes(images.read_bytes(images.TOM_HANKS))
    done = run_eval([str(singles), "--out", str(tmp_path / "out")], pg_server, tmp_path)
    assert done.returncode == 1 and "people with more than 1 photo(s)" in done.stderr
    assert not (tmp_path / "out").exists()  # no report, no empty plots
