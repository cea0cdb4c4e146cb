"""Bands for fused probes: a person of an album or a clip is searched with the normalised mean
of several of their faces, which scores every identity higher than one of those faces would,
a stranger's identity too.

The calibration is one photo's. For two photos a and b of one person, the fused probe scores
any identity at the mean of their two scores times 2/|a + b|, about 1.12 when the two photos
score 0.6 with each other; on LFW (bench/albums.py, docs/accuracy.md "Albums") an album of two
searched at one photo's bands was given a false candidate about 1.7 times as often, and the
more photos fused, the higher the scores (n / |a1 + ... + an|). Raising both bands by a margin
for a fused probe (FUSED_BAND_MARGIN for two faces, FUSED_BAND_MARGIN_3 for three or more)
brings its false-candidate rate back to at most one photo's at the bands in force (measured on
LFW for albums of 2, 3 and 4 photos), and it still finds more people than one photo does.
The rate a fused candidate is shown with is the calibration's at its score less the margin:
the one-photo rate the bands were set for.
"""

from __future__ import annotations

# Measured with bench/albums.py on LFW (docs/accuracy.md, "Albums"): albums of two at one
# photo's bands got false candidates 1.7 times as often (1.31% against 0.76%); raised by 0.015,
# the smallest step that brings them under one photo's rate, 0.63% (12 of 1,904 albums); by
# 0.02, 0.42%. With so few events the next step is taken: it costs nothing at `possible`
# (99.78% of albums found either way) and one point at `strong` (84.7% against 85.8%, and
# 70.0% for one photo).
FUSED_BAND_MARGIN = 0.02
# Albums of three (bench/albums.py --size 3): 1.78% at one photo's bands against one photo's
# 0.87%; the smallest step under it 0.025 (0.84%), and 0.02 not enough (0.94%). Albums of four:
# 2.68% against 1.17%; 0.015 suffices (1.07%), 0.03 gives 0.80%. One step more than three
# photos' smallest, as for two: 0.03 (0.75% for three). More than four photos is not measured
# (LFW has too few people with six photos or more); clips fuse at most 5 frames of one video,
# which score nearer one photo than an album does, so the margin errs on the safe side there.
FUSED_BAND_MARGIN_3 = 0.03


def band_margin(fused: int) -> float:
    """How much higher the bands are for a probe fusing `fused` faces (none for one face)."""
    if fused <= 1:
        return 0.0
    return FUSED_BAND_MARGIN if fused == 2 else FUSED_BAND_MARGIN_3
