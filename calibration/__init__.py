"""Projector calibration (issue 10): numpy (+ Pillow for pictures); no GL.

    model.py            a hall's calibration as data: per projector its fitted model, manual
                        control grid, blend and colour; checked JSON round trip
    store.py            versions per hall on disk: atomic saves, history, diff, rollback,
                        MPCDI import/export (cli_store.py: `domectl calibrate history|...`)
    patterns.py         test patterns in projector pixels (`domectl calibrate pattern`)
    structured_light.py Gray code + phase shift: encode, decode to projector pixels
    camera.py           the camera interface, and a simulated fisheye at the dome centre
    fit.py              each projector's pose and lens from correspondences (Levenberg-Marquardt)
    auto.py             the automatic calibration pipeline (cli_auto.py: `domectl calibrate auto`)
"""
