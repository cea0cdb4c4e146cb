"""`facefind eval` end to end: a labelled folder derived from t1.jpg, a scratch database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation
from scipy.stats import binomtest

from facefind.eval_results import read_latest
from facefind.evaluation.plots import Targets, operating_curve, score_histograms, write_plots
from facefind.evaluation.report import ProbeResult, Rate, wilson_interval
from facefind.runtime.settings import Thresholds
from facefind.scoring.calibration_files import load_calibration
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
    # each rate with its 95% Wilson interval: 18 of 18 still allows 82.4%, 0 of 1 up to 79.3%
    assert at["rank1"] == {"rate": 1.0, "count": 18, "of": 18, "interval_95": [0.824121, 1.0]}
    assert at["found"]["count"] == 18 and at["found"]["of"] == 18
    assert at["false_candidate"] == {
        "rate": 0.0,
        "count": 0,
        "of": 1,
        "interval_95": [0.0, 0.793451],
    }
    assert report["targets"] == {"false_candidate": 0.005, "false_strong": 0.0005}
    assert at["wrong_candidate"]["count"] == 0
    assert at["wrong_strong_enrolled"]["count"] == 0
    assert at["wrong_strong_not_enrolled"]["count"] == 0
    assert report["thresholds"]["possible"] <= report["thresholds"]["strong"]

    found = [row["found"] for row in report["sweep"]]
    assert found == sorted(found, reverse=True) and found[0] == 1.0
    for name in report["plots"]:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    assert {"operating-curve.png", "score-histograms.png"} <= set(report["plots"])
    # the run is kept in the data folder, whatever --out was: the console's /status shows it
    latest = read_latest(tmp_path)
    assert latest is not None and latest.report == report
    assert latest.plots == tuple(report["plots"])
    assert all((latest.folder / p).read_bytes() == (out / p).read_bytes() for p in latest.plots)
    assert latest.plot("../report.json") is None
    assert (
        "found (right identity first, >= possible): 100.00% (18 of 18; 95% interval "
        "82.41–100.00%)" in done.stdout
    )
    assert "(false-candidate rate): 0.00% (0 of 1; 95% interval 0.00–79.35%) [target 0.50%]" in (
        done.stdout
    )

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


# --- the numbers' intervals and the plots, on results made up for the purpose ------------------


@pytest.mark.parametrize(
    ("count", "of", "low", "high"),
    [
        (0, 10, 0.0, 0.277533),  # z^2 / (n + z^2)
        (10, 10, 0.722467, 1.0),
        (5, 10, 0.236593, 0.763407),
        (1, 100, 0.001767, 0.054486),
        (0, 1, 0.0, 0.793451),
    ],
)
def test_the_wilson_interval_gives_the_textbook_values(
    count: int, of: int, low: float, high: float
) -> None:
    interval = wilson_interval(count, of)
    assert interval is not None
    assert interval == pytest.approx((low, high), abs=1e-6)


@pytest.mark.parametrize(("count", "of"), [(3, 7), (17, 250), (249, 250), (1, 36000)])
def test_the_wilson_interval_agrees_with_scipy(count: int, of: int) -> None:
    reference = binomtest(count, of).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(count, of) == pytest.approx((reference.low, reference.high), rel=1e-9)


def test_a_rate_of_no_photos_has_no_interval() -> None:
    assert wilson_interval(0, 0) is None
    assert str(Rate(0, 0)) == "n/a (0 photos)"
    assert Rate(0, 0).as_dict()["interval_95"] is None
    assert str(Rate(1, 4)) == "25.00% (1 of 4; 95% interval 4.56–69.94%)"


def probe(person: str, truth: int | None, scores: list[tuple[int, float]]) -> ProbeResult:
    return ProbeResult(f"{person}/x.jpg", person, truth is not None, truth, "only", scores)


BANDS = Thresholds(strong=0.55, possible=0.32)
TARGETS = Targets(possible=0.005, strong=0.0005)


def small_set(false_candidate: float | None = 0.62) -> list[ProbeResult]:
    """Twelve photos of four enrolled people found well above the bands, eight people not
    enrolled far below them, and (unless None) one of them given a candidate at this score."""
    probes = [probe(f"P{i % 4}", i % 4 + 1, [(i % 4 + 1, 0.70 + 0.01 * i)]) for i in range(12)]
    probes += [probe(f"O{i}", None, [(1, 0.02 * i)]) for i in range(8)]
    if false_candidate is not None:
        probes.append(probe("Lookalike", None, [(2, false_candidate)]))
    return probes


def xy(line: Line2D) -> list[tuple[float, float]]:
    xs = np.asarray(line.get_xdata(), dtype=float)
    ys = np.asarray(line.get_ydata(), dtype=float)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def test_a_single_false_candidate_is_drawn_on_the_score_histogram() -> None:
    fig = score_histograms(small_set(0.62), BANDS, "t", TARGETS)
    ax = fig.axes[0]
    bottom, top = ax.get_ylim()
    # its bar (one photo) rises above the log axis' floor
    bars = [
        bar
        for bar in ax.patches
        if isinstance(bar, Rectangle)
        and bar.get_x() <= 0.62 < bar.get_x() + bar.get_width()
        and bar.get_height() > 0
    ]
    assert [bar.get_height() for bar in bars] == [1.0] and bottom < 1.0
    # and it is also a tick of its own, inside the plot
    ticks = [point for line in ax.lines if line.get_marker() == "|" for point in xy(line)]
    assert (0.62, pytest.approx(0.6)) in ticks and all(bottom < y < top for _, y in ticks)
    legend = ax.get_legend()
    assert legend is not None
    labels = [t.get_text() for t in legend.get_texts()]
    assert "possible 0.320, target 0.50% false candidates" in labels


def test_the_operating_curve_marks_the_targets_and_the_bands_intervals() -> None:
    fig = operating_curve(small_set(0.62), BANDS, 3, "t", TARGETS)
    ax = fig.axes[0]
    verticals = {
        line.get_label(): [x for x, _ in xy(line)]
        for line in ax.lines
        if len(xy(line)) == 2 and xy(line)[0][0] == xy(line)[1][0]
    }
    assert verticals["target, possible: 0.50%"] == [0.005, 0.005]
    assert verticals["target, strong: 0.05%"] == [0.0005, 0.0005]
    # the bands' points carry their 95% intervals: 1 of 9 not enrolled given a candidate
    low, high = wilson_interval(1, 9) or (0, 0)
    spans = [
        segment[:, 0].tolist()
        for collection in ax.collections
        if isinstance(collection, LineCollection)
        for segment in map(np.asarray, collection.get_segments())
        if segment[0, 1] == segment[1, 1]  # horizontal: the false-candidate rate's interval
    ]
    assert [pytest.approx(low), pytest.approx(high)] in spans


def test_the_operating_curve_labels_a_point_once_on_a_small_set() -> None:
    # nobody is given a candidate and everybody is found from 0.3 to 0.6: one point
    fig = operating_curve(small_set(None), BANDS, 3, "t", TARGETS)
    labels = [(t.get_text(), t.xy) for t in fig.axes[0].texts if isinstance(t, Annotation)]
    assert labels == [("0.3–0.6", (0.0, 1.0))]


def test_eval_writes_both_plots_as_png(tmp_path: Path) -> None:
    paths = write_plots(tmp_path, small_set(), BANDS, 3, "t", TARGETS)
    assert [p.name for p in paths] == ["operating-curve.png", "score-histograms.png"]
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in paths)
