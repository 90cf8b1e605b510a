"""Cost of automatic calibration in simulation: the whole reference hall, 12 projectors.

    .venv/bin/pytest benchmarks/bench_calibration.py --benchmark-only -p no:cacheprovider

* The full pipeline (calibration/auto.py) at the defaults of ``domectl
  calibrate auto --camera sim``: a 1024 px fisheye camera, 38 patterns per
  projector (Gray code to half periods of 32 px + 4-step phase shift, x and
  y), decode, fit, the warp rebuilt (warp build's defaults), report and
  pictures. ``extra_info`` gives the time per stage and the worst accuracy.
* Baseline in the same run: only rendering the 456 simulated captures
  (what a camera costs, no decoding or fitting); ``extra_info
  ["total_over_render"]`` is the ratio, so a regression in decode or fit shows
  whatever the machine.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from calibration.auto import run_auto_calibration, simulated_truth
from calibration.camera import CameraNoise, SimCamera, camera_model
from calibration.structured_light import PatternSpec, pattern_images
from domectl.config import load_hall
from domectl.hallwarp import dome_model, eye_m, projector_models

CONFIG = Path(__file__).resolve().parents[1] / "config" / "lacoupole"
CAMERA_PX = 1024
SEED = 1


@pytest.fixture(scope="module")
def hall():
    h = load_hall(CONFIG)
    nominal = projector_models(h)
    truth = simulated_truth(nominal, seed=SEED, misalign={"p05": {"yaw": 1.5}})
    return h, dome_model(h), nominal, truth


def _render_only(dome, truth) -> float:
    camera = SimCamera(dome, truth, camera_model(CAMERA_PX), CameraNoise(), seed=SEED)
    t0 = time.perf_counter()
    for p in truth:
        for _, image in pattern_images(PatternSpec(p.width_px, p.height_px, gamma=p.gamma)):
            camera.capture(p.name, image)
    return time.perf_counter() - t0


def test_auto_calibration_12_projectors(benchmark, hall, tmp_path_factory):
    h, dome, nominal, truth = hall

    def calibrate():
        camera = SimCamera(dome, truth, camera_model(CAMERA_PX), CameraNoise(), seed=SEED)
        return run_auto_calibration(dome, nominal, eye_m(h), camera, tmp_path_factory.mktemp("auto"),
                                    hall_name=h.name, truth=truth)

    report = benchmark.pedantic(calibrate, rounds=1, iterations=1)
    render_s = _render_only(dome, truth)
    stages = report["timings_s"]
    benchmark.extra_info.update({
        "camera_px": CAMERA_PX,
        "patterns_per_projector": report["patterns"]["count"],
        "stage_timings_s": stages,
        "render_only_s": round(render_s, 2),
        "total_over_render": round(stages["total"] / render_s, 2),
        "worst_warp_rms_px": report["summary"]["worst_warp_rms_px"],
        "worst_warp_max_px": report["summary"]["worst_warp_max_px"],
    })
    assert report["summary"]["corrected"] == ["p05"] and not report["summary"]["failed"]
    assert report["summary"]["worst_warp_max_px"] <= 1.5
