"""Video mode end to end: rendered H.264 minutes through two real stations' whole pipelines, then
sync, correlation, one claim and one solve per event — checked against the true 3D meteors. The
stations start from a rough pointing and calibrate from the stars of their own first minute."""

from __future__ import annotations

from pathlib import Path

import pytest

from ams_actors.sim.network import SimNetwork, SimOptions
from ams_actors.sim.video import VideoFeeder


@pytest.mark.slow
async def test_video_night_detects_correlates_and_solves(s3_endpoint: str, tmp_path: Path) -> None:
    opts = SimOptions(stations=2, cameras=2, minutes=4, mode="video", meteors=4, rate=20.0, seed=11,
                      spacing_km=60.0, drain_minutes=30.0, mc_runs=0)
    net = SimNetwork(opts, s3_endpoint, tmp_path)
    await net.start()
    feeder = VideoFeeder(net)
    try:
        await net.run(feeder.run)
    finally:
        await net.stop()
    bucket = await net.read_bucket()  # after stop (read_bucket refuses to read while stations run)
    report = net.report(bucket)
    figures = feeder.figures()
    assert figures["camera_minutes"] == 2 * 2 * 4
    assert figures["meteor_views_rendered"] >= 2
    assert figures["false_meteors"] == 0
    # every minute was scanned and classified by its station; the rendered meteors were found
    assert figures["meteors_detected"] >= 1
    assert report["duplicate_solutions"] == 0
    # the seeded night has meteors seen by two stations: an empty expectation would check nothing
    assert report["events_expected"] >= 1, report
    assert report["events_found"] == report["events_expected"]
    assert report["events_solved"] == report["events_expected"]
    assert report["solutions_accepted_per_event"] == [1]
    # every camera was fitted from its own stack, from a pointing degrees off, to well under a pixel
    assert figures["calibration"]["fitted"] == "4/4", figures["calibration_cameras"]
    for cam in figures["calibration_cameras"]:
        assert cam["start"]["centre_deg"] > 0.5, cam  # it was not handed the truth
        assert cam["n_matched"] >= 40 and cam["rms_px"] < 0.6, cam
        sd_px_arcmin = 60.0 * 100.0 / 640  # an SD pixel of the widest simulated lens
        assert cam["in_use"]["sky_median_arcmin"] < 0.25 * sd_px_arcmin, cam
        assert cam["in_use"]["sky_max_arcmin"] < sd_px_arcmin, cam
