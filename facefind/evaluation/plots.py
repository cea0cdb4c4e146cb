"""`facefind eval`'s plots: the operating curve and the score histograms, as figure objects
(the tests read them) and as PNG files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from facefind.evaluation.report import ProbeResult, Rate, rates, sweep
from facefind.runtime.settings import Thresholds

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CURVE_LABELS = (0.3, 0.4, 0.5, 0.6)  # thresholds named along the operating curve
BINS = [round(-0.2 + 0.0125 * i, 4) for i in range(97)]  # -0.2 .. 1.0
SPARSE = 3  # a bin with this many photos or fewer also shows each photo as a tick
RUG_Y = 0.6  # where the ticks sit on the log axis: below one photo's bar, above the floor
LOG_FLOOR = 0.4  # the log axis starts here, so a bar of one photo has a visible height


@dataclass(frozen=True)
class Targets:
    """The false-candidate rates the operator aims at (the settings' targets)."""

    possible: float  # people not enrolled given any candidate
    strong: float  # ... a strong one


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    # A Figure of its own, not pyplot's: no global state, safe off the main thread.
    fig = Figure(figsize=(6.5, 4.5))
    return fig, fig.subplots()


def _error(rate: Rate) -> list[list[float]]:
    """Distances from the rate down and up to its 95% interval, as errorbar wants them."""
    interval = rate.interval
    if interval is None:
        return [[0.0], [0.0]]
    return [[rate.rate - interval[0]], [interval[1] - rate.rate]]


def operating_curve(
    probes: Sequence[ProbeResult],
    thresholds: Thresholds,
    shown: int,
    title: str,
    targets: Targets | None,
) -> Figure:
    """Found against the false-candidate rate as `possible` moves; the bands in force with
    their 95% intervals, and the target rates as vertical lines."""
    fig, ax = _figure()
    rows = sweep(probes, shown)
    fcr = [r["false_candidate"] for r in rows]
    ax.plot(fcr, [r["found"] for r in rows], "-", color="C0", label="possible at t (0.20..0.80)")
    # Thresholds that land on the same point (a small set: often all at 0 false candidates)
    # share one label instead of printing over each other.
    points: dict[tuple[float, float], list[float]] = {}
    for t in CURVE_LABELS:
        r = next(r for r in rows if abs(r["threshold"] - t) < 1e-9)
        if r["false_candidate"] == r["false_candidate"] and r["found"] == r["found"]:
            points.setdefault((r["false_candidate"], r["found"]), []).append(t)
    for (x, y), ts in points.items():
        text = f"{ts[0]:.1f}" if len(ts) == 1 else f"{ts[0]:.1f}–{ts[-1]:.1f}"
        ax.annotate(
            text, (x, y), xytext=(4, -10), textcoords="offset points", fontsize=7, color="C0"
        )
    for name, value, color in (
        ("possible", thresholds.possible, "C2"),
        ("strong", thresholds.strong, "C3"),
    ):
        at = rates(probes, Thresholds(strong=value, possible=value), shown)
        ax.errorbar(
            [at.false_candidate.rate],
            [at.found.rate],
            xerr=_error(at.false_candidate),
            yerr=_error(at.found),
            fmt="o",
            color=color,
            capsize=3,
            clip_on=False,
            label=f"{name} {value:.3f} (95% intervals)",
        )
    if targets is not None:
        for name, rate, color in (
            ("possible", targets.possible, "C2"),
            ("strong", targets.strong, "C3"),
        ):
            ax.axvline(rate, color=color, ls=":", lw=1, label=f"target, {name}: {rate:.2%}")
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("false-candidate rate (people not enrolled given any candidate)")
    ax.set_ylabel("found (photos of enrolled people)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def score_histograms(
    probes: Sequence[ProbeResult], thresholds: Thresholds, title: str, targets: Targets | None
) -> Figure:
    """The own identity's score of photos of enrolled people against the best score of photos
    of people not enrolled. The log axis starts below one photo, and photos in sparse bins
    (the misses and the false candidates, mostly) are also drawn as ticks: one photo is seen."""
    import numpy as np

    own = [s for p in probes if p.enrolled and (s := p.own_score()) is not None]
    best_other = [p.scores[0][1] for p in probes if not p.enrolled and p.scores]
    fig, ax = _figure()
    tick_label = f"one tick per photo where a bin holds {SPARSE} or fewer"
    for scores, color, label in (
        (own, "C0", f"own identity, enrolled ({len(own)})"),
        (best_other, "C1", f"best identity, not enrolled ({len(best_other)})"),
    ):
        counts, edges, _ = ax.hist(scores, BINS, alpha=0.6, color=color, label=label)
        where = np.clip(np.digitize(scores, edges) - 1, 0, len(counts) - 1)
        sparse = [s for s, b in zip(scores, where, strict=True) if counts[b] <= SPARSE]
        if sparse:
            ax.plot(
                sparse,
                [RUG_Y] * len(sparse),
                "|",
                color=color,
                markersize=12,
                markeredgewidth=1.5,
                label=tick_label,
            )
            tick_label = "_"  # one legend entry for the ticks of both
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.set_ylim(bottom=LOG_FLOOR)
    ax.yaxis.set_major_formatter(FuncFormatter(_count_label))
    ax.yaxis.set_minor_formatter(FuncFormatter(_count_label))
    for name, value, color, target in (
        ("possible", thresholds.possible, "C2", targets.possible if targets else None),
        ("strong", thresholds.strong, "C3", targets.strong if targets else None),
    ):
        aim = f", target {target:.2%} false candidates" if target is not None else ""
        ax.axvline(value, color=color, ls="--", label=f"{name} {value:.3f}{aim}")
    ax.set_xlabel("similarity")
    ax.set_ylabel("photos")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def _count_label(value: float, _position: object) -> str:
    """Photo counts on the log axis as plain numbers: 1, 2, 5, 10, 20, 50 ... (none below 1)."""
    if value < 1:
        return ""
    mantissa = round(value / 10 ** math.floor(math.log10(value)))
    return f"{value:g}" if mantissa in (1, 2, 5) else ""


def write_plots(
    out: Path,
    probes: Sequence[ProbeResult],
    thresholds: Thresholds,
    shown: int,
    title: str,
    targets: Targets | None = None,
) -> list[Path]:
    """The operating curve and the score histograms, as PNG files in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    curve, hist = out / "operating-curve.png", out / "score-histograms.png"
    operating_curve(probes, thresholds, shown, title, targets).savefig(curve, dpi=110)
    score_histograms(probes, thresholds, title, targets).savefig(hist, dpi=110)
    return [curve, hist]
