"""`facefind eval`'s numbers and plots: rates at the bands in force, a sweep, report.json."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facefind.settings import Thresholds

SWEEP = tuple(round(0.20 + 0.01 * i, 2) for i in range(61))  # 0.20 .. 0.80


@dataclass
class ProbeResult:
    """One photo searched: whose it is, the face it is filed for, the identities it met."""

    path: str
    person: str
    enrolled: bool  # the person was meant to be enrolled (has more photos than references)
    truth: int | None  # the person's identity id; None when not enrolled (or refused)
    chosen_by: str  # how the face was chosen: only / dominant / centre / none / error:<code>
    scores: list[tuple[int, float]] = field(default_factory=list)  # (identity, similarity)

    @property
    def face(self) -> bool:
        """A face was found and searched (a photo without one can get no candidate)."""
        return self.chosen_by not in ("none",) and not self.chosen_by.startswith("error")

    @property
    def top(self) -> tuple[int, float] | None:
        return self.scores[0] if self.scores else None

    def own_score(self) -> float | None:
        """The similarity of the person's own identity, when it is among the scores."""
        for ident, sim in self.scores:
            if ident == self.truth:
                return sim
        return None

    def found(self, threshold: float) -> bool:
        top = self.top
        return (
            self.truth is not None
            and top is not None
            and top[0] == self.truth
            and top[1] >= threshold
        )

    def wrong_at(self, threshold: float, shown: int) -> bool:
        """Another person's identity is among the `shown` candidates at or above `threshold`."""
        return any(i != self.truth and s >= threshold for i, s in self.scores[:shown])


@dataclass(frozen=True)
class Rate:
    count: int
    of: int

    @property
    def rate(self) -> float:
        return self.count / self.of if self.of else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rate": None if not self.of else round(self.rate, 6),
            "count": self.count,
            "of": self.of,
        }

    def __str__(self) -> str:
        if not self.of:
            return "n/a (0 photos)"
        return f"{100 * self.rate:.2f}% ({self.count} of {self.of})"


def _rate(flags: Iterable[bool]) -> Rate:
    values = list(flags)
    return Rate(sum(values), len(values))


@dataclass(frozen=True)
class Rates:
    """The operator's numbers at one (strong, possible) pair."""

    rank1: Rate  # photos of enrolled people whose nearest identity is their own (no threshold)
    found: Rate  # ... own identity first and >= possible, over all people meant to be enrolled
    found_enrolled: Rate  # the same over people whose enrollment succeeded
    strong: Rate  # own identity first and >= strong
    wrong_candidate: Rate  # photos of enrolled people shown someone else >= possible
    false_candidate: Rate  # photos of people not enrolled given any candidate >= possible
    wrong_strong_enrolled: Rate  # photos of enrolled people shown someone else as strong
    wrong_strong_not_enrolled: Rate  # photos of people not enrolled given a strong candidate

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).as_dict() for name in self.__dataclass_fields__}


def rates(probes: Sequence[ProbeResult], thresholds: Thresholds, shown: int) -> Rates:
    mated = [p for p in probes if p.enrolled]
    enrolled = [p for p in mated if p.truth is not None]
    searched = [p for p in enrolled if p.face]
    others = [p for p in probes if not p.enrolled and p.face]
    possible, strong = thresholds.possible, thresholds.strong
    return Rates(
        rank1=_rate(p.top is not None and p.top[0] == p.truth for p in searched),
        found=_rate(p.found(possible) for p in mated),
        found_enrolled=_rate(p.found(possible) for p in enrolled),
        strong=_rate(p.found(strong) for p in mated),
        wrong_candidate=_rate(p.wrong_at(possible, shown) for p in searched),
        false_candidate=_rate(p.wrong_at(possible, shown) for p in others),
        wrong_strong_enrolled=_rate(p.wrong_at(strong, shown) for p in searched),
        wrong_strong_not_enrolled=_rate(p.wrong_at(strong, shown) for p in others),
    )


def sweep(probes: Sequence[ProbeResult], shown: int) -> list[dict[str, Any]]:
    """Found, wrong-candidate and false-candidate rates with `possible` at each threshold."""
    rows = []
    for t in SWEEP:
        r = rates(probes, Thresholds(strong=t, possible=t), shown)
        rows.append(
            {
                "threshold": t,
                "found": r.found.rate,
                "found_enrolled": r.found_enrolled.rate,
                "wrong_candidate": r.wrong_candidate.rate,
                "false_candidate": r.false_candidate.rate,
            }
        )
    return rows


def describe(probes: Sequence[ProbeResult]) -> dict[str, Any]:
    """How many photos of each kind were searched, and how their faces were chosen."""
    mated = [p for p in probes if p.enrolled]
    return {
        "photos_of_enrolled_people": len(mated),
        "photos_of_refused_people": sum(p.truth is None for p in mated),
        "photos_of_people_not_enrolled": sum(not p.enrolled for p in probes),
        "face_chosen_by": dict(Counter(p.chosen_by for p in probes).most_common()),
    }


def print_summary(report: dict[str, Any]) -> None:
    g, at = report["gallery"], report["at_bands"]
    t = report["thresholds"]
    e = g["enrollment"]
    print(
        f"gallery: {g['identities_enrolled']} of {g['people_to_enroll']} people enrolled with up "
        f"to {report['references']} reference(s) ({g['faces_enrolled']} faces, {e['flagged']} "
        f"flagged as poor); {len(g['people_refused'])} people left out; photos refused "
        f"{e['refused']}, tied {e['ties']}, skipped {e['skipped']}"
    )
    probes = report["probes"]
    print(
        f"searched: {probes['photos_of_enrolled_people']} photos of people to enroll "
        f"({probes['photos_of_refused_people']} of refused people), "
        f"{probes['photos_of_people_not_enrolled']} of people not enrolled; face chosen by "
        + ", ".join(f"{k} {v}" for k, v in probes["face_chosen_by"].items())
    )
    print(
        f"bands in force ({t['source']}, {t['identities']} identities): strong "
        f"{t['strong']:.3f}, possible {t['possible']:.3f}"
        + (
            f"; expected false-candidate rate {_pct(t['predicted_false_candidate'])}, strong "
            f"{_pct(t['predicted_false_strong'])}"
            if t.get("predicted_false_candidate") is not None
            else ""
        )
    )
    labels = {
        "rank1": "rank-1 (nearest identity is the right one)",
        "found": "found (right identity first, >= possible)",
        "found_enrolled": "found, people actually enrolled",
        "strong": "strong (right identity first, >= strong)",
        "wrong_candidate": "enrolled, shown someone else >= possible",
        "false_candidate": "not enrolled, given a candidate (false-candidate rate)",
        "wrong_strong_enrolled": "enrolled, shown someone else as strong",
        "wrong_strong_not_enrolled": "not enrolled, given a strong candidate",
    }
    for key, label in labels.items():
        print(f"  {label}: {Rate(at[key]['count'], at[key]['of'])}")
    print("sweep (possible at t): t, found, false-candidate rate, enrolled shown someone else")
    for row in report["sweep"][::5]:
        print(
            f"  {row['threshold']:.2f}  {_pct(row['found'])}  {_pct(row['false_candidate'])}  "
            f"{_pct(row['wrong_candidate'])}"
        )


def _pct(x: float | None) -> str:
    return "   n/a" if x is None or x != x else f"{100 * x:6.2f}%"


def write_report(out: Path, report: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "report.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_probes(out: Path, probes: Sequence[ProbeResult]) -> Path:
    """Every probe with its scores, one JSON object per line (for the operator's own analysis)."""
    path = out / "probes.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        for p in probes:
            row = {
                "path": p.path,
                "person": p.person,
                "enrolled": p.enrolled,
                "identity": p.truth,
                "face": p.chosen_by,
                "scores": [[i, round(s, 5)] for i, s in p.scores],
            }
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def write_plots(
    out: Path, probes: Sequence[ProbeResult], thresholds: Thresholds, shown: int, title: str
) -> list[Path]:
    """The operating curve and the score histograms, as PNG files in `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    rows = sweep(probes, shown)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    fcr = [r["false_candidate"] for r in rows]
    ax.plot(fcr, [r["found"] for r in rows], "-", color="C0", label="possible at t (0.20..0.80)")
    for t in (0.3, 0.4, 0.5, 0.6):
        r = next(r for r in rows if abs(r["threshold"] - t) < 1e-9)
        ax.annotate(f"{t:.1f}", (r["false_candidate"], r["found"]), fontsize=7, color="C0")
    for name, value, color in (
        ("possible", thresholds.possible, "C2"),
        ("strong", thresholds.strong, "C3"),
    ):
        at = rates(probes, Thresholds(strong=value, possible=value), shown)
        ax.plot(
            [at.false_candidate.rate],
            [at.found.rate],
            "o",
            color=color,
            label=f"{name} {value:.3f}",
        )
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("false-candidate rate (people not enrolled given any candidate)")
    ax.set_ylabel("found (photos of enrolled people)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    curve = out / "operating-curve.png"
    fig.savefig(curve, dpi=110)
    plt.close(fig)

    own = [s for p in probes if p.enrolled and (s := p.own_score()) is not None]
    best_other = [p.scores[0][1] for p in probes if not p.enrolled and p.scores]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    bins = [round(-0.2 + 0.0125 * i, 4) for i in range(97)]
    ax.hist(own, bins, alpha=0.6, color="C0", label=f"own identity, enrolled ({len(own)})")
    ax.hist(
        best_other,
        bins,
        alpha=0.6,
        color="C1",
        label=f"best identity, not enrolled ({len(best_other)})",
    )
    ax.set_yscale("log")
    ax.axvline(
        thresholds.possible, color="C2", ls="--", label=f"possible {thresholds.possible:.3f}"
    )
    ax.axvline(thresholds.strong, color="C3", ls="--", label=f"strong {thresholds.strong:.3f}")
    ax.set_xlabel("similarity")
    ax.set_ylabel("photos")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    hist = out / "score-histograms.png"
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    return [curve, hist]
