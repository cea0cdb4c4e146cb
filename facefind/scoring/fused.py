"""Bands for fused probes: a person of an album or a clip is searched with the normalised mean
of several of their faces, which scores every identity higher than one of those faces would,
a stranger's identity too.

The calibration is one photo's. For two photos a and b of one person, the fused probe scores
any identity at the mean of their two scores times 2/|a + b|, about 1.12 when the two photos
score 0.6 with each other; on LFW (bench/albums.py, docs/accuracy.md "Albums") an album of two
searched at one photo's bands was given a false candidate about 1.7 times as often. Raising
both bands by FUSED_BAND_MARGIN for a fused probe brings its false-candidate rate back to at
most one photo's at the bands in force, and it still finds more people than one photo does.
The rate a fused candidate is shown with is the calibration's at its score less the margin:
the one-photo rate the bands were set for.
"""

from __future__ import annotations

# Measured with bench/albums.py on LFW: the smallest raise, in steps of 0.005, for which albums
# of two get false candidates at most as often as single photos at the derived `possible`
# band (docs/accuracy.md, "Albums").
FUSED_BAND_MARGIN = 0.02


def band_margin(fused: int) -> float:
    """How much higher the bands are for a probe fusing `fused` faces (none for one face)."""
    return FUSED_BAND_MARGIN if fused > 1 else 0.0
