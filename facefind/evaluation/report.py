"""`facefind eval`'s numbers and plots: rates at the bands in force, a sweep, report.json."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facefind.runtime.settings import Thresholds

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


Z95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95% interval


def wilson_interval(count: int, of: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion count/of (95% by default); None for of = 0.

    Unlike the normal approximation it stays within [0, 1] and is not empty at 0 or `of`
    (0 of 30 still allows up to 11%), which is where an operator's rates of mistakes sit."""
    if of <= 0:
        return None
    p = count / of
    z2 = z * z
    centre = (p + z2 / (2 * of)) / (1 + z2 / of)
    half = z / (1 + z2 / of) * math.sqrt(p * (1 - p) / of + z2 / (4 * of * of))
    low = 0.0 if count == 0 else max(0.0, centre - half)  # exact ends, not rounding noise
    high = 1.0 if count == of else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class Rate:
    count: int
    of: int

    @property
    def rate(self) -> float:
        return self.count / self.of if self.of else float("nan")

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% Wilson interval; None without photos."""
        return wilson_interval(self.count, self.of)

    def as_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "rate": None if not self.of else round(self.rate, 6),
            "count": self.count,
            "of": self.of,
            "interval_95": None if interval is None else [round(v, 6) for v in interval],
        }

    def __str__(self) -> str:
        interval = self.interval
        if interval is None:
            return "n/a (0 photos)"
        low, high = interval
        return (
            f"{100 * self.rate:.2f}% ({self.count} of {self.of}; 95% interval "
            f"{100 * low:.2f}–{100 * high:.2f}%)"
        )


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
                "found_interval_95": r.found.interval,
                "false_candidate_interval_95": r.false_candidate.interval,
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
    targets = report.get("targets") or {}
    target_of = {
        "false_candidate": targets.get("false_candidate"),
        "wrong_strong_not_enrolled": targets.get("false_strong"),
    }
    for key, label in labels.items():
        target = target_of.get(key)
        aim = f" [target {_pct(target).strip()}]" if target is not None else ""
        print(f"  {label}: {Rate(at[key]['count'], at[key]['of'])}{aim}")
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
