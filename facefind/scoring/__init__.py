"""Scoring: what similarities mean (calibration, bands, assignment, sightings)."""
