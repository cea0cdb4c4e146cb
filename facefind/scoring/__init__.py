"""Scores into words: calibration and its fitting, the bands in force, one identity per face,
unknown faces grouped into unknown persons."""
