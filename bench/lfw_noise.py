"""LFW DevTrain label noise: finding candidates in the impostor tail, and the decisions taken."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Decisions, each from the evidence bench/calibrate.py prints (names, how many photos of both
# names agree and how strongly, compared with photos within one name) and from looking at the
# photos. When in doubt a pair stays as two people: a real look-alike kept as an impostor only
# makes the thresholds stricter, while a wrong merge would hide the risk the bands guard.
MERGES: dict[str, tuple[str, str]] = {
    # name filed under -> (name kept, why)
    "Sepp_Blatter": ("Joseph_Blatter", "one person (Joseph S. Blatter, called Sepp)"),
    "John_Burnett": ("John_Barnett", "one person, two spellings; the photos show the same man"),
    "Dai_Chul_Chyung": ("Chyung_Dai-chul", "one person, name order swapped"),
    "Glenn_Rivers": ("Doc_Rivers", "one person (Glenn 'Doc' Rivers)"),
    "Wang_Nan": ("Nan_Wang", "one person, name order swapped; the same table-tennis player"),
    "Prince_Felipe": ("Felipe_De_Borbon", "one person (Felipe de Borbon, Prince of Asturias)"),
    "William_Pryor_Jr": ("Bill_Pryor", "one person (William H. Pryor Jr., called Bill)"),
    "John_Gruden": ("Jon_Gruden", "one person, two spellings"),
    "Odai_Hussein": ("Uday_Hussein", "one person, two transliterations"),
    "Mariam_Ali_Hassan": (
        "Makiya_Ali_Hassan",
        "one woman at the same protest in the same clothes, under two first names",
    ),
}
DROPS: dict[str, str] = {
    # photo -> why it is left out
    "Carlos_Ruckauf/Carlos_Ruckauf_0001.jpg": "shows Eduardo Duhalde (0.67 against his 14 photos)",
    "Michael_Schumacher/Michael_Schumacher_0008.jpg": (
        "shows Rubens Barrichello (0.56 against his photos, -0.03 against Schumacher's)"
    ),
    "Lane_Bryant/Lane_Bryant_0001.jpg": "shows Roseanne Barr; Lane Bryant is a clothing brand",
    "Bart_Hendricks/Bart_Hendricks_0001.jpg": "the same photo as Ricky_Ray_0001 (0.99)",
    "Ricky_Ray/Ricky_Ray_0001.jpg": "the same photo as Bart_Hendricks_0001 (0.99)",
    "Martha_Bowen/Martha_Bowen_0002.jpg": (
        "the same photo as Gabrielle_Rose_0001 (0.97); Martha_Bowen_0001 is another woman"
    ),
}
# Different people kept as impostors on purpose: relatives and look-alikes are the risk.
KEPT: dict[tuple[str, str], str] = {
    ("Carolina_Moraes", "Isabela_Moraes"): "twin sisters",
    ("Ashley_Olsen", "Mary-Kate_Olsen"): "twin sisters",
    ("James_Phelps", "Oliver_Phelps"): "twin brothers (one photo of both)",
    ("Johnny_Htu", "Luther_Htu"): "twin brothers (one photo of both)",
    ("Claire_Hentzen", "Morgan_Hentzen"): "same family name; sisters or one person: kept",
    ("Angelica_Romero", "Jenny_Romero"): "same family name, same event; probably sisters",
    ("Ahmed_Ibrahim_Bilal", "Muhammad_Ibrahim_Bilal"): "brothers",
    ("Serena_Williams", "Venus_Williams"): "sisters",
    ("George_W_Bush", "Jeb_Bush"): "brothers",
    ("George_HW_Bush", "George_W_Bush"): "father and son",
    ("Arturo_Gatti", "Joe_Gatti"): "brothers",
    ("Frank_Stallone", "Sylvester_Stallone"): "brothers",
    ("Norodom_Chakrapong", "Norodom_Sihanouk"): "son and father",
    ("Jaqueline_Godoy", "Kelly_Santos"): "different people (look-alikes)",
}
# Two photos of one name this similar are the same shot (or the next frame): they would count
# as an easy genuine pair, so the later one is left out.
NEAR_DUPLICATE = 0.95


def person(path: str) -> str:
    return path.split("/", 1)[0]


@dataclass(frozen=True)
class Cleaned:
    keep: np.ndarray  # (n,) bool over the input photos
    names: list[str]  # label of each kept photo, after merges
    dropped: list[tuple[str, str]]  # (photo, why)
    near_duplicates: list[tuple[str, str, float]]  # (kept photo, dropped photo, similarity)


def clean(paths: Sequence[str], vectors: np.ndarray) -> Cleaned:
    """Apply MERGES and DROPS, then drop near-duplicate photos within each name."""
    names = [MERGES.get(person(p), (person(p), ""))[0] for p in paths]
    keep = np.array([p not in DROPS for p in paths])
    dropped = [(p, DROPS[p]) for p in paths if p in DROPS]
    by_name: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        if keep[i]:
            by_name[name].append(i)
    near: list[tuple[str, str, float]] = []
    for rows in by_name.values():
        if len(rows) < 2:
            continue
        sims = vectors[rows] @ vectors[rows].T
        for a in range(len(rows)):
            for b in range(a + 1, len(rows)):
                if keep[rows[a]] and keep[rows[b]] and sims[a, b] >= NEAR_DUPLICATE:
                    keep[rows[b]] = False
                    near.append((paths[rows[a]], paths[rows[b]], float(sims[a, b])))
    return Cleaned(keep, [n for n, k in zip(names, keep, strict=True) if k], dropped, near)


@dataclass(frozen=True)
class Suspect:
    """Two names whose photos score high against each other, with the evidence to decide."""

    names: tuple[str, str]
    highest: float
    pairs_above: int
    photos: tuple[int, int]
    cross_mean: float
    within_means: tuple[float, float]
    name_similarity: float

    @property
    def decision(self) -> str:
        a, b = self.names
        if MERGES.get(a, ("",))[0] == b or MERGES.get(b, ("",))[0] == a:
            return "merged: " + (MERGES.get(a) or MERGES[b])[1]
        dropped = [p for p in DROPS if person(p) in self.names]
        if dropped:
            return "photo left out: " + "; ".join(f"{p.split('/')[1]} {DROPS[p]}" for p in dropped)
        return "kept: " + KEPT.get(self.names, "different people")


def suspects(paths: Sequence[str], vectors: np.ndarray, above: float = 0.45) -> list[Suspect]:
    """Name pairs with any cross-name photo pair >= `above`, highest first."""
    names = np.array([person(p) for p in paths])
    _, labels = np.unique(names, return_inverse=True)
    hits: dict[tuple[str, str], list[float]] = defaultdict(list)
    n = len(paths)
    for start in range(0, n, 1024):
        rows = np.arange(start, min(start + 1024, n))
        sims = vectors[rows] @ vectors[start:].T
        cols = np.arange(start, n)
        mask = (cols[None, :] > rows[:, None]) & (labels[rows][:, None] != labels[cols][None, :])
        for i, j in zip(*np.nonzero(mask & (sims >= above)), strict=True):
            pair = sorted((str(names[rows[i]]), str(names[cols[j]])))
            hits[(pair[0], pair[1])].append(float(sims[i, j]))
    out = [evidence(names, vectors, a, b, max(v), len(v)) for (a, b), v in hits.items()]
    return sorted(out, key=lambda s: -s.highest)


def evidence(
    names: np.ndarray, vectors: np.ndarray, a: str, b: str, highest: float = 0.0, above: int = 0
) -> Suspect:
    """The evidence on two names (`highest` computed when not given)."""
    ia, ib = np.flatnonzero(names == a), np.flatnonzero(names == b)
    cross = vectors[ia] @ vectors[ib].T
    return Suspect(
        names=(a, b),
        highest=highest or float(cross.max()),
        pairs_above=above,
        photos=(len(ia), len(ib)),
        cross_mean=float(cross.mean()),
        within_means=(_within(vectors[ia]), _within(vectors[ib])),
        name_similarity=difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio(),
    )


def _within(vectors: np.ndarray) -> float:
    if len(vectors) < 2:
        return float("nan")
    sims = vectors @ vectors.T
    return float(sims[np.triu_indices(len(vectors), 1)].mean())
