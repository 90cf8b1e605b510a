"""Projector calibration (issue 10): numpy only. Nothing here yet."""
