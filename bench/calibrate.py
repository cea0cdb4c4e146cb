"""Calibrate a model pack on labelled photos (LFW DevTrain) and write its calibration file.

Embeds every photo with the production FaceAnalyzer (the labelled face is the one nearest the
image centre), removes the label noise listed in bench/lfw_noise.py, measures the impostor
distribution over all cross-identity pairs and the genuine one over same-identity pairs,
compares the ways to fuse an identity's references, fits the impostor tail, and writes
facefind/calibrations/<pack>.json. The report (Markdown, on stdout) is docs/calibration.md's.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from bench.lfw_embed import (
    REPO_ROOT,
    cache_identity,
    checked_cache_path,
    embed_all,
    list_people,
)
from bench.lfw_noise import KEPT, NEAR_DUPLICATE, clean, evidence, suspects
from facefind.scoring.calibration import (
    POSSIBLE_TARGET,
    STRONG_FOUND,
    STRONG_TARGET,
    Calibration,
    Curves,
    GallerySize,
    bands_for,
    capacity,
)
from facefind.scoring.calibration_files import save_calibration
from facefind.scoring.fitting import (
    FLOOR_FOUND,
    FUSIONS,
    PERSON_CAP,
    ImpostorCounts,
    all_pair_impostors,
    build_calibration,
    curves_from,
    score_references,
)

SIZES = (100, 547, 1_000, 10_000, 100_000, 333_000, 1_000_000)
FUSION = "max"
SOURCE = (
    "LFW DevTrain (deep-funneled): 4,038 people, 9,525 photos, label noise removed "
    "(docs/calibration.md); labelled face nearest the image centre"
)


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table, ready to paste into docs/calibration.md."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def poisson_interval(k: int) -> tuple[float, float]:
    """95% interval for a Poisson count (Wilson-Hilferty), for the tail-agreement check."""
    lower = 0.0 if k == 0 else k * (1 - 1 / (9 * k) - 1.96 / (3 * math.sqrt(k))) ** 3
    u = k + 1
    return lower, u * (1 - 1 / (9 * u) + 1.96 / (3 * math.sqrt(u))) ** 3


# --- label noise --------------------------------------------------------------------------------
def report_noise(paths: list[str], vectors: np.ndarray) -> None:
    print("## Label noise\n")
    print(
        "Every pair of names with a cross-name photo pair at 0.45 or more (before cleaning), "
        "with the evidence: photos of each name, the mean similarity across the names against "
        "the mean within each name, and how alike the names are (0..1).\n"
    )
    rows = []
    for s in suspects(paths, vectors):
        rows.append(
            [
                f"{s.names[0]} / {s.names[1]}",
                f"{s.highest:.3f}",
                s.pairs_above,
                f"{s.photos[0]} / {s.photos[1]}",
                f"{s.cross_mean:.3f}",
                " / ".join("-" if math.isnan(w) else f"{w:.3f}" for w in s.within_means),
                f"{s.name_similarity:.2f}",
                s.decision,
            ]
        )
    header = ["names", "highest", "pairs >= 0.45", "photos", "across", "within", "name", "decision"]
    print(table(header, rows))
    print()
    names = np.array([p.split("/", 1)[0] for p in paths])
    print("Relatives and look-alikes kept as different people:\n")
    rows = []
    for (a, b), why in KEPT.items():
        if a in names and b in names:
            e = evidence(names, vectors, a, b)
            rows.append([f"{a} / {b}", why, f"{e.highest:.3f}", f"{e.cross_mean:.3f}"])
    print(table(["names", "relation", "highest", "across"], rows))
    print()


def report_distributions(
    vectors: np.ndarray, labels: np.ndarray, impostors: ImpostorCounts
) -> None:
    print("## Distributions (one reference: photo against photo)\n")
    genuine = []
    for person in np.unique(labels):
        photos = np.flatnonzero(labels == person)
        if len(photos) > 1:
            sims = vectors[photos] @ vectors[photos].T
            genuine.append(sims[np.triu_indices(len(photos), 1)])
    g = np.concatenate(genuine)
    cumulative = np.cumsum(impostors.weight) / impostors.total
    edges = np.linspace(-1.0, 1.0, len(impostors.weight) + 1)[1:]
    quantiles = (0.01, 0.5, 0.99, 0.9999)
    rows = [
        [
            "impostor (all cross-identity pairs, each pair of people weighing 1)",
            f"{impostors.comparisons:,}",
            *(f"{edges[np.searchsorted(cumulative, q)]:.3f}" for q in quantiles),
        ],
        [
            "genuine (all same-identity pairs)",
            f"{len(g):,}",
            *(f"{np.quantile(g, q):.3f}" for q in quantiles),
        ],
    ]
    print(table(["pairs", "n", "1%", "median", "99%", "99.99%"], rows))
    print()
    print(
        "Measured FMR at the fixed bands used before: "
        + ", ".join(f"{t:.2f}: {impostors.rate_at_or_above(t):.2e}" for t in (0.35, 0.40, 0.55))
        + "\n"
    )


# --- fusion -------------------------------------------------------------------------------------
def report_fusions(
    vectors: np.ndarray, labels: np.ndarray, impostors: ImpostorCounts, seed: int
) -> None:
    print("## Fusion: scoring an identity from several references\n")
    print(
        "Each person with more photos than references is enrolled with reference sets drawn "
        "from their photos and probed with the rest; every enrolled set is also scored against "
        "every photo of everyone else (impostors). best: the best single face; template: the "
        "normalised mean of the references; max: the higher of the two; mean, mix25, mix75: "
        "0.5, 0.25, 0.75 x best + the rest x template. Found: share of genuine probes at or "
        "above the threshold that gives that impostor rate, measured (FMR 1e-4 .. 1e-6) or "
        "from the fitted tail (a gallery of N such identities and a false-candidate target; "
        "where look-alike relatives set the band, every fusion finds the same share).\n"
    )
    one = score_references(vectors, labels, 1, [FUSION], seed=seed, impostors=impostors)[FUSION]
    curves1, relatives = curves_from(one)
    header = [
        "refs",
        "fusion",
        "found at FMR 1e-4",
        "1e-5",
        "3e-6",
        "1e-6",
        "N=547, 0.5%",
        "strangers' tail scale",
    ]
    rows = []
    for k in (2, 3):
        scores = score_references(vectors, labels, k, FUSIONS, seed=seed)
        for fusion in FUSIONS:
            s = scores[fusion]
            curves, _ = curves_from(s, relatives)
            cal = _calibration(fusion, {1: curves1, k: curves}, relatives)
            measured = [
                cal.found_rate(_measured_threshold(s.impostor, f), k)
                for f in (1e-4, 1e-5, 3e-6, 1e-6)
            ]
            modelled = [
                cal.found_rate(cal.threshold_for(target, GallerySize({k: n})), k)
                for n, target in ((547, 0.005),)
            ]
            rows.append(
                [
                    k,
                    fusion,
                    *(pct(x, 2) for x in measured + modelled),
                    f"{curves.tail.strangers_scale:.4f}",
                ]
            )
        first = scores[FUSIONS[0]]
        print(
            f"- {k} references: {first.people} people, {first.probes} probe photos, "
            f"{first.impostor.comparisons:,} impostor comparisons"
        )
    print()
    print(table(header, rows))
    print()


def _measured_threshold(impostor: ImpostorCounts, fmr: float) -> float:
    s = -0.5
    while impostor.rate_at_or_above(s) > fmr:
        s = round(s + 0.0005, 4)
    return s


def _calibration(fusion: str, curves: dict[int, Curves], relatives: float) -> Calibration:
    return Calibration(
        model="",
        recognizer_sha256="",
        recipe="",
        fusion=fusion,
        source="",
        created="",
        floor=-1.0,
        relatives=relatives,
        curves=curves,
    )


# --- the tail and the bands ---------------------------------------------------------------------
def report_tail(
    cal: Calibration, vectors: np.ndarray, labels: np.ndarray, impostors: ImpostorCounts
) -> None:
    print("## The impostor tail: fit against measurement\n")
    print(
        "Above the tail's start, FMR(s) = strangers x exp(-(s - start) / scale) + relatives x "
        "found(s): an exponential for strangers, and look-alike relatives who score like the "
        "person (the genuine curve for the same number of references) with a prevalence per "
        f"comparison fitted once, on one reference: {cal.relatives:.3g}. Measured: comparisons "
        "at or above s, and their rate with each pair of people weighing 1 (95% Poisson "
        "interval of the count, scaled by the comparisons' mean weight).\n"
    )
    for k, curves in sorted(cal.curves.items()):
        counts = (
            impostors
            if k == 1
            else score_references(vectors, labels, k, [cal.fusion])[cal.fusion].impostor
        )
        t = curves.tail
        print(
            f"{k} reference{'s' if k > 1 else ''}: {counts.comparisons:,} comparisons; tail from "
            f"{t.start:.3f} ({t.exceedances} above), strangers' rate there {t.strangers_rate:.3g}, "
            f"scale {t.strangers_scale:.4f}\n"
        )
        rows = []
        for s in np.round(np.arange(t.start, 0.801, 0.05 if k == 1 else 0.1), 3):
            n = counts.events_at_or_above(float(s))
            rate = counts.rate_at_or_above(float(s))
            # The interval of the event count, scaled by the events' mean weight (with no
            # event: by the mean weight of all comparisons).
            per_event = rate / n if n else 1.0 / counts.comparisons
            lo, hi = (x * per_event for x in poisson_interval(n))
            model = cal.fmr(float(s), k)
            strangers = t.strangers_rate * math.exp(-(s - t.start) / t.strangers_scale)
            rows.append(
                [
                    f"{s:.3f}",
                    n,
                    f"{rate:.2e} ({lo:.1e}..{hi:.1e})",
                    f"{model:.2e}",
                    f"{strangers:.1e}",
                    f"{model - strangers:.1e}",
                ]
            )
        header = ["s", "comparisons >= s", "measured FMR", "model", "strangers", "relatives"]
        print(table(header, rows))
        print()


def report_bands(cal: Calibration) -> None:
    print("## Bands by gallery size\n")
    print(
        f"Targets: possible {pct(POSSIBLE_TARGET)}, strong {pct(STRONG_TARGET, 2)} of people "
        f"not enrolled get a candidate. Floor: possible >= {cal.floor:.3f}, where "
        f"{pct(FLOOR_FOUND, 0)} of enrolled people's photos (one reference) already score. "
        "Found: share of photos of enrolled people whose own identity reaches the band (LFW). "
        "Look-alike relatives at the default FACEFIND_RELATIVES_PREVALENCE=0; the last column "
        "counts LFW's (`calibrated`).\n"
    )
    default = dataclasses.replace(cal, relatives=0.0)
    rows = []
    for n in SIZES:
        for refs in (1, 3):
            size = GallerySize({refs: n})
            strong, possible = bands_for(default, size)
            lfw_strong, lfw_possible = bands_for(cal, size)
            rows.append(
                [
                    f"{n:,}",
                    refs,
                    f"{possible:.3f}",
                    pct(default.found_rate(possible, refs)),
                    pct(default.false_candidate_rate(possible, size), 2),
                    f"{strong:.3f}",
                    pct(default.found_rate(strong, refs)),
                    f"{lfw_possible:.3f} / {lfw_strong:.3f}",
                ]
            )
    header = [
        "identities",
        "refs",
        "possible",
        "found",
        "false candidates",
        "strong",
        "found strong",
        "with LFW's relatives: possible / strong",
    ]
    print(table(header, rows))
    print()
    print(
        f"- strong floor: {cal.strong_floor:.3f} (the score {pct(STRONG_FOUND, 0)} of enrolled "
        "people's photos reach with one reference)"
    )
    print(
        f"- capacity (found at possible >= 90%): {capacity(default):,} identities with one "
        f"reference each, {capacity(default, references=3):,} with three; with LFW's relatives "
        f"{capacity(cal):,} and {capacity(cal, references=3):,}"
    )
    bound = POSSIBLE_TARGET / (0.9 * cal.relatives) if cal.relatives > 0 else float("inf")
    print(
        "- counted, relatives alone cap any model: for 90% found, possible must accept 90% of "
        f"genuine scores, so N x {cal.relatives:.3g} x 0.9 <= {POSSIBLE_TARGET}: N <= {bound:,.0f}"
    )
    print()


def write_plots(cal: Calibration, impostors: ImpostorCounts, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    grid = np.round(np.arange(0.2, 0.9, 0.005), 3)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    measured = [impostors.rate_at_or_above(float(s)) for s in grid]
    ax.semilogy(
        grid, [m if m > 0 else np.nan for m in measured], "k.", ms=3, label="measured, 1 reference"
    )
    for k in sorted(cal.curves):
        label = f"model, {k} reference{'s' if k > 1 else ''}"
        ax.semilogy(grid, [cal.fmr(float(s), k) for s in grid], label=label)
    ax.axvline(cal.curves[1].tail.start, color="grey", ls=":", lw=1)
    ax.set_xlabel("similarity")
    ax.set_ylabel("false match rate per comparison (>= s)")
    ax.set_ylim(1e-11, 1e-1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    ax.set_title(f"{cal.model}: impostor tail (dotted: the fit's start)")
    fig.tight_layout()
    fig.savefig(folder / "impostor-tail.png", dpi=110)
    plt.close(fig)

    sizes = np.unique(np.round(np.logspace(1, 6, 60)).astype(int))
    cal = dataclasses.replace(cal, relatives=0.0)  # the default setting
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for refs, style in ((1, "-"), (3, "--")):
        bands = [bands_for(cal, GallerySize({refs: int(n)})) for n in sizes]
        left.semilogx(sizes, [b[1] for b in bands], "C0" + style, label=f"possible, {refs} ref")
        left.semilogx(sizes, [b[0] for b in bands], "C3" + style, label=f"strong, {refs} ref")
        right.semilogx(
            sizes,
            [cal.found_rate(b[1], refs) for b in bands],
            "C0" + style,
            label=f"possible, {refs} ref",
        )
        right.semilogx(
            sizes,
            [cal.found_rate(b[0], refs) for b in bands],
            "C3" + style,
            label=f"strong, {refs} ref",
        )
    left.set_xlabel("enrolled identities")
    left.set_ylabel("threshold (similarity)")
    right.set_xlabel("enrolled identities")
    right.set_ylabel("found (LFW photos of enrolled people)")
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{cal.model}: bands at 0.5% / 0.05% false candidates (relatives 0)")
    fig.tight_layout()
    fig.savefig(folder / "bands-by-size.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Example: flock /tmp/facefind-heavy.lock .venv/bin/python -m bench.calibrate "
        "/work/shared/faces/lfw-devtrain --workers 2 --plots docs/img",
    )
    parser.add_argument("photos", type=Path, help="folder with <Person>/<Person>_NNNN.jpg")
    parser.add_argument("--cache", type=Path, default=None, help="embedding cache outside the repo")
    parser.add_argument(
        "--model-dir", type=Path, default=None, help="model pack (default buffalo_s)"
    )
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--fusion", choices=FUSIONS, default=FUSION)
    parser.add_argument("--seed", type=int, default=0, help="seed of the reference-set draws")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="calibration file (default facefind/calibrations/<pack>.json)",
    )
    parser.add_argument("--plots", type=Path, default=None, help="folder for the docs' plots")
    args = parser.parse_args()

    root: Path = args.photos.resolve()
    identity = cache_identity(args.model_dir)
    pack = identity["model"]
    cache = checked_cache_path(
        args.cache or Path(tempfile.gettempdir()) / f"facefind-calib-{pack}.npz"
    )
    people = list_people(root)
    if not people:
        sys.exit(f"no <Person>/*.jpg photos under {root}")
    emb = embed_all(
        root,
        [p for ps in people.values() for p in ps],
        cache,
        identity,
        args.model_dir,
        args.workers,
    )
    has_face = emb.faces > 0
    paths = [str(p) for p in emb.paths[has_face]]
    vectors = emb.vectors[has_face].astype(np.float32)

    print(f"# Calibration: model pack {pack}\n")
    print(
        f"recognizer {identity['recognizer_sha256'][:12]}, detector "
        f"{identity['detector_sha256'][:12]}, recipe {identity['recipe']}, recognition code "
        f"{identity['recognition_sha256'][:12]}; {len(people):,} people, {len(emb.paths):,} "
        f"photos, {int((~has_face).sum())} without a face\n"
    )
    report_noise(paths, vectors)
    cleaned = clean(paths, vectors)
    print(
        f"Left out: {len(cleaned.dropped)} mislabelled or duplicated photos (above) and "
        f"{len(cleaned.near_duplicates)} near-duplicates within a name (similarity >= "
        f"{NEAR_DUPLICATE}, the later photo):\n"
    )
    for kept, dropped, sim in cleaned.near_duplicates:
        print(f"- {dropped.split('/')[1]} (same shot as {kept.split('/')[1]}, {sim:.3f})")
    print()
    v = vectors[cleaned.keep]
    _, labels = np.unique(np.array(cleaned.names), return_inverse=True)
    impostors = all_pair_impostors(v, labels)
    print(
        f"Cleaned: {labels.max() + 1:,} people, {len(v):,} photos, {impostors.comparisons:,} "
        f"cross-identity photo pairs between {impostors.total:,.0f} pairs of people. Genuine "
        f"probes weigh at most {PERSON_CAP} photos per person.\n"
    )
    report_distributions(v, labels, impostors)
    report_fusions(v, labels, impostors, args.seed)
    cal = build_calibration(
        v,
        labels,
        model=pack,
        recognizer_sha256=identity["recognizer_sha256"],
        detector_sha256=identity["detector_sha256"],
        recipe=identity["recipe"],
        fusion=args.fusion,
        source=SOURCE,
        impostors=impostors,
        seed=args.seed,
        notes=(f"bench/calibrate.py, recognition code {identity['recognition_sha256'][:12]}",),
    )
    report_tail(cal, v, labels, impostors)
    report_bands(cal)
    out = args.out or REPO_ROOT / "facefind" / "calibrations" / f"{pack}.json"
    save_calibration(cal, out)
    print(f"Wrote {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")
    if args.plots:
        write_plots(cal, impostors, args.plots)


if __name__ == "__main__":
    main()
