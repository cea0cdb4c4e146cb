"""Bands that follow the gallery: thresholds derived from a calibration and the gallery's size."""

from __future__ import annotations

import logging
import math

import pytest

from facefind.runtime.settings import Settings, SettingsError, Thresholds
from facefind.scoring.bands import BandPolicy, one_in
from facefind.scoring.calibration import Calibration, GallerySize


def synthetic_calibration(floor: float = 0.2) -> Calibration:
    """A calibration whose impostor tail falls tenfold every 0.05 of similarity (1e-2 at 0.2),
    a bit heavier for identities with several references; found rates fall linearly."""
    grid = tuple(round(0.2 + 0.05 * i, 2) for i in range(13))  # 0.20 .. 0.80
    one = tuple(10 ** (-2 - i) for i in range(13))
    three = tuple(3 * v for v in one)
    found = tuple(max(0.0, 1.0 - 0.1 * i) for i in range(13))
    return Calibration.from_tables(
        model="m", recognizer_sha256="r", recipe="flip-mean", fusion="max", source="test",
        grid=grid, fmr={1: one, 3: three}, found={1: found}, floor=floor,
    )  # fmt: skip


def policy(**settings: float) -> BandPolicy:
    return BandPolicy(Settings(**settings), synthetic_calibration(), "m")  # type: ignore[arg-type]


def test_thresholds_rise_as_the_gallery_grows() -> None:
    p = policy()
    sizes = [10, 547, 10_000, 100_000, 1_000_000]
    bands = [p.bands_for({1: n}) for n in sizes]
    possibles = [b.thresholds.possible for b in bands]
    stronges = [b.thresholds.strong for b in bands]
    assert possibles == sorted(possibles) and len(set(possibles)) == len(possibles)
    assert stronges == sorted(stronges)
    assert all(b.thresholds.possible < b.thresholds.strong for b in bands)
    assert all(b.source == "calibrated" for b in bands)
    # at each size the possible band meets its target: 0.5% of people not enrolled
    strong_floor = synthetic_calibration().strong_floor
    assert strong_floor == pytest.approx(0.35)  # where 70% of the genuine scores still reach
    for n, b in zip(sizes, bands, strict=True):
        if b.thresholds.possible > 0.2:  # above the floor
            assert b.false_candidate_rate(b.thresholds.possible) == pytest.approx(0.005, rel=1e-3)
        if b.thresholds.strong > strong_floor + 1e-9:  # above the strong floor
            assert b.false_candidate_rate(b.thresholds.strong) == pytest.approx(0.0005, rel=1e-3)
        assert b.thresholds.strong >= strong_floor
        assert b.identities == n


def test_a_false_candidate_rate_is_one_minus_no_match_against_every_identity() -> None:
    cal = synthetic_calibration()
    fmr = cal.fmr(0.5)
    assert fmr == pytest.approx(1e-8)
    n = 547
    assert cal.false_candidate_rate(0.5, GallerySize({1: n})) == pytest.approx(1 - (1 - fmr) ** n)
    # identities with more references are likelier to be matched by someone else
    assert cal.false_candidate_rate(0.5, GallerySize({3: n})) > cal.false_candidate_rate(
        0.5, GallerySize({1: n})
    )


def test_a_small_gallery_never_goes_below_the_floor() -> None:
    floored = BandPolicy(Settings(), synthetic_calibration(floor=0.3), "m")
    # two identities would need only 0.23 for 0.5%; the floor holds the band at 0.30
    assert floored.bands_for({1: 2}).thresholds.possible == pytest.approx(0.3)
    assert floored.bands_for({1: 100_000}).thresholds.possible > 0.3


def test_fixed_thresholds_override_the_calibration() -> None:
    bands = policy(possible_threshold=0.45).bands_for({1: 100_000})
    assert bands.thresholds.possible == 0.45 and bands.source == "fixed"
    # the rate at a score is still the calibrated one
    assert bands.false_candidate_rate(0.45) is not None


def test_a_fixed_strong_threshold_below_a_large_gallerys_possible_band_wins_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="facefind.scoring.bands")
    p = policy(strong_threshold=0.40)
    # at start, the operator learns the sizes at which the derived band will cross it
    [start] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "FACEFIND_STRONG_THRESHOLD 0.400 is below the possible band" in start
    assert "from 1,671 identities with 3 reference(s) each" in start
    caplog.clear()
    assert p.bands_for({1: 1000}).thresholds.possible < 0.40  # not crossed yet
    # past 5,013 identities the derived possible band (0.465 at 100,000) is above the fixed
    # strong one: it is held at it, and no lookup fails over it
    for n in (100_000, 1_000_000, 100_001, 2_000_000):
        bands = p.bands_for({1: n})
        assert bands.thresholds == Thresholds(strong=0.40, possible=0.40)
        assert bands.thresholds.band(0.41) == "strong" and bands.thresholds.band(0.39) is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once when it began, not for every gallery size or lookup
    held = "possible band 0.465 derived for 100000 identities: possible is held at 0.400"
    assert held in warnings[0]
    assert "9.52%" in warnings[0]  # the false-candidate rate at the fixed value
    # a gallery that shrinks back below the crossing says so once
    caplog.clear()
    p.bands_for({1: 1000})
    p.bands_for({1: 999})
    assert [r.levelno for r in caplog.records] == [logging.INFO]


def test_a_fixed_possible_threshold_above_the_derived_strong_band_raises_it() -> None:
    p = policy(possible_threshold=0.37)
    # a small gallery's strong band (0.35) is below it: strong is raised to it
    assert p.bands_for({1: 10}).thresholds == Thresholds(strong=0.37, possible=0.37)
    assert p.bands_for({1: 1000}).thresholds.strong > 0.37


def test_targets_are_settings() -> None:
    loose = policy(possible_target=0.05).bands_for({1: 1000})
    strict = policy(possible_target=0.0005).bands_for({1: 1000})
    assert loose.thresholds.possible < strict.thresholds.possible


def test_without_a_calibration_the_fallback_thresholds_hold_at_every_size() -> None:
    p = BandPolicy(Settings(), None, "unknown-pack")
    small, large = p.bands_for({1: 5}), p.bands_for({1: 500_000})
    assert small.thresholds == large.thresholds == Thresholds(0.55, 0.40)
    assert small.source == "uncalibrated" and small.false_candidate_rate(0.6) is None


def test_capacity_warns_when_the_gallery_outgrows_the_model() -> None:
    p = policy()
    capacity = p.bands_for({1: 1}).capacity
    assert capacity is not None and capacity > 1
    assert not p.bands_for({1: capacity}).over_capacity
    assert p.bands_for({1: capacity * 4}).over_capacity


def test_rates_read_as_one_in_n_with_two_significant_figures() -> None:
    assert one_in(1 / 19_873) == 20_000
    assert one_in(0.5) == 2
    assert one_in(1 / 547.3) == 550
    assert math.isclose(one_in(1e-7), 10_000_000)


def test_look_alike_relatives_count_only_when_the_operator_says_so() -> None:
    import dataclasses

    # a short grid: the fitted tail, where relatives count, starts at 0.45
    grid = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
    short = Calibration.from_tables(
        model="m", recognizer_sha256="r", recipe="flip-mean", fusion="max", source="test",
        grid=grid, fmr={1: tuple(10 ** (-2 - i) for i in range(6))},
        found={1: (1.0, 0.95, 0.9, 0.85, 0.8, 0.75)}, floor=0.2,
    )  # fmt: skip
    measured = dataclasses.replace(short, relatives=1e-6)
    # by default the people searched are not assumed to be families of public figures
    default = BandPolicy(Settings(), measured, "m").bands_for({1: 100_000})
    own = BandPolicy(Settings(relatives_prevalence=None), measured, "m").bands_for({1: 100_000})
    assert own.thresholds.possible > default.thresholds.possible
    assert (
        Settings.from_env({"FACEFIND_RELATIVES_PREVALENCE": "calibrated"}).relatives_prevalence
        is None
    )
    assert Settings.from_env({}).relatives_prevalence == 0.0
    with pytest.raises(SettingsError):
        Settings.from_env({"FACEFIND_RELATIVES_PREVALENCE": "-1"})
