"""Scan → detect → verify on rendered clips: meteors at the right frames and pixels, the rest rejected."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from ams_actors.kernels.astrometry import guess_camera
from ams_actors.kernels.astrometry.frames import enu_refract
from ams_actors.kernels.detect import detect_vals
from ams_actors.kernels.geo import azel_to_enu, enu_to_azel
from ams_actors.kernels.scan import scan_clip
from ams_actors.kernels.verify import trim_range, verify_clip, write_trim
from ams_actors.kernels.verify_measure import Measurement, VerifyParams, without_copies
from ams_actors.kernels.video import clip_info, iter_y
from ams_actors.sim.render import Truth, render_clip, stamp_meteor
from ams_actors.sim.scene import Aircraft, Flash, Insect, Meteor, Satellite, Scene
from protocols.pipeline_files import validate

CLIP = "2026_07_12_22_15_00_000_010001.mp4"
START = datetime(2026, 7, 12, 22, 15, tzinfo=UTC)
CAL = guess_camera(51.5, -0.1, 0.0, 640, 360, az=90.0, el=45.0, fov_h=90.0)  # the config's pointing, uncalibrated


def _pipeline(p: Path, hd: Path | None = None) -> tuple[dict, dict, list[dict]]:
    vals = scan_clip(p).vals
    det = detect_vals(vals, pixel_scale_deg=CAL.pixel_scale_deg)
    validate("detect", det)
    if det["classification"] != "maybe-meteors":
        return det, {}, []
    verdict, meteors, _ = verify_clip(p, det, station="AMS1", hd_path=hd, calibration=CAL)
    validate("verify", verdict)
    for m in meteors:
        validate("meteor", m)
    return det, verdict, meteors


def _errors(m: dict, truth: Truth) -> tuple[int, list[float], list[float]]:
    """(index of the matched true meteor, SD errors, HD errors) per measured frame."""
    fns = [f["fn"] for f in m["frames"]]
    best = max(truth.meteors, key=lambda t: len(set(t.fns) & set(fns)))
    tx = {fn: (x, y, hx, hy) for fn, x, y, hx, hy in zip(best.fns, best.x, best.y, best.hd_x, best.hd_y, strict=True)}
    sd = [float(np.hypot(f["x"] - tx[f["fn"]][0], f["y"] - tx[f["fn"]][1])) for f in m["frames"] if f["fn"] in tx]
    hd = [float(np.hypot(f["hd_x"] - tx[f["fn"]][2], f["hd_y"] - tx[f["fn"]][3]))
          for f in m["frames"] if f["fn"] in tx and "hd_x" in f]
    return best.index, sd, hd


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """8 s: two meteors (one fast and bright, one slow and faint) among a plane, a satellite, flashes."""
    d = tmp_path_factory.mktemp("busy")
    scene = Scene(
        duration=8.0, seed=21,
        meteors=(Meteor(t0=1.0, duration=1.0, x0=120.0, y0=80.0, vx=230.0, vy=110.0, amp=110.0),
                 Meteor(t0=4.5, duration=1.6, x0=500.0, y0=250.0, vx=-45.0, vy=-25.0, amp=30.0)),
        aircraft=(Aircraft(t0=0.0, t1=8.0, x0=60.0, y0=320.0, vx=8.0, vy=-3.0),),
        satellites=(Satellite(t0=0.0, t1=8.0, x0=400.0, y0=40.0, vx=-5.0, vy=4.0),),
        flashes=tuple(Flash(fn=fn, x=x, y=y, amp=90.0) for fn, x, y in
                      [(10, 300.0, 200.0), (60, 50.0, 50.0), (61, 600.0, 300.0), (150, 320.0, 90.0)]),
    )
    p = d / CLIP
    return p, render_clip(scene, p)


def test_meteors_found_at_truth(busy: tuple[Path, Truth]) -> None:
    p, truth = busy
    det, verdict, meteors = _pipeline(p)
    assert det["classification"] == "maybe-meteors"
    assert verdict["result"] == "meteor"
    assert len(meteors) == 2, [m["frames"][0]["fn"] for m in meteors]
    found = set()
    for m in meteors:
        idx, errs, _ = _errors(m, truth)
        found.add(idx)
        mt = truth.meteors[idx]
        fns = [f["fn"] for f in m["frames"]]
        strong = [fn for fn, s in zip(mt.fns, mt.snr, strict=True) if s >= 6]
        assert len(set(strong) & set(fns)) >= 0.8 * len(strong)
        assert set(fns) <= set(range(mt.fns[0] - 2, mt.fns[-1] + 3))
        assert np.median(errs) < 0.6 and max(errs) < 2.5, errs
        for f in m["frames"]:
            t = datetime.strptime(f["t_utc"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            assert abs((t - (START + timedelta(seconds=f["fn"] / 25))).total_seconds()) < 0.0011
            assert 0 <= f["az"] < 360 and -10 < f["el"] < 90 and "ra" in f and "dec" in f
        assert m["meteor_id"].startswith(CLIP[:-4] + "-trim-") and m["sd_clip"] == CLIP
        assert m["calibration"] == {"file": None, "model": "ams-equidistant/radial-odd", "fit_quality": None}
    assert found == {0, 1}


def test_plane_satellite_flashes_rejected(tmp_path: Path) -> None:
    # besides a plane crossing, the harder cases: a plane (3.4 deg/s, steady light) leaving the frame
    # within the first 20 frames with a single strobe in view, and an insect near the lens (a blur disc)
    leaving = Aircraft(t0=-1.08, t1=8.0, x0=600.0, y0=250.0 - 18.0, vx=24.0, vy=-3.0, amp=40.0, strobe_amp=150.0,
                       blink_period=1.4, blink_frames=1)  # at x 626 at frame 0, strobe at frame 8, out by frame 19
    scene = Scene(
        duration=8.0, seed=22,
        insects=(Insect(t0=4.0, t1=5.0, x0=250.0, y0=120.0, vx=220.0, vy=90.0, amp=60.0, sigma=7.0),),
        aircraft=(Aircraft(t0=0.0, t1=8.0, x0=100.0, y0=100.0, vx=12.0, vy=5.0, strobe_amp=160.0), leaving),
        satellites=(Satellite(t0=0.0, t1=8.0, x0=300.0, y0=300.0, vx=6.0, vy=-3.0, amp=45.0),),
        flashes=tuple(Flash(fn=int(fn), x=float(x), y=float(y), amp=120.0) for fn, x, y in
                      zip(range(5, 200, 13), np.linspace(40, 600, 15), np.linspace(300, 40, 15), strict=False)),
    )
    p = tmp_path / CLIP
    render_clip(scene, p)
    det, verdict, meteors = _pipeline(p)
    assert meteors == []
    assert det["classification"] == "detect" or verdict.get("result") == "nometeor"
    reasons = [r["reason"] for r in verdict["rejected"]]
    assert any(r.startswith("defocused") for r in reasons), reasons  # the insect
    assert any(r.startswith("blinking: a 1-frame flash") for r in reasons), reasons  # the plane leaving


def test_hd_measurement(tmp_path: Path) -> None:
    m = Meteor(t0=0.3, duration=0.8, x0=250.0, y0=120.0, vx=160.0, vy=70.0, amp=110.0)
    scene = Scene(duration=2.0, meteors=(m,), seed=23, n_random_stars=60)
    sd, hd = tmp_path / CLIP, tmp_path / ("hd_" + CLIP)
    truth = render_clip(scene, sd, hd, hd_preset="ultrafast", hd_bit_rate=4_000_000)
    _, _verdict, meteors = _pipeline(sd, hd)
    assert len(meteors) == 1
    mm = meteors[0]
    assert mm["hd_clip"] == hd.name and mm["hd_trim"].endswith("-HD.mp4")
    _, errs, hd_errs = _errors(mm, truth)
    assert np.median(errs) < 0.6
    assert len(hd_errs) >= 0.8 * len(mm["frames"]) and np.median(hd_errs) < 1.5, hd_errs


def test_trim(busy: tuple[Path, Truth], tmp_path: Path) -> None:
    p, _ = busy
    start, stop = trim_range([30, 31, 40], n_frames=200, fps=25.0)
    assert (start, stop) == (5, 66)
    assert trim_range([3, 190], n_frames=200, fps=25.0) == (0, 200)
    dst = tmp_path / "trim.tmp"
    n = write_trim(p, dst, start, stop)
    assert n == stop - start
    info = clip_info(dst)
    assert (info.width, info.height) == (640, 360)
    src = {fn: y.astype(np.int16) for fn, y in iter_y(p, start=start, stop=stop)}
    out = [y.astype(np.int16) for _, y in iter_y(dst)]
    assert len(out) == n
    assert np.abs(out[10] - src[start + 10]).mean() < 2.0  # same picture, re-encoded at high quality


def test_config_pointing_camera() -> None:
    """The uncalibrated camera (config pointing, equidistant all-sky projection) looks where it is told."""
    cal = guess_camera(51.5, 0.0, 0.0, 640, 360, az=120.0, el=30.0, fov_h=80.0, rotation=0.0)
    az, el = cal.pixel_to_azel(np.array([320.0, 640.0, 320.0]), np.array([180.0, 180.0, 0.0]))
    # the centre pixel looks along the configured (apparent) direction; az/el are true (refraction removed)
    true_az, true_el = enu_to_azel(enu_refract(azel_to_enu(120.0, 30.0), apparent_to_true=True))
    assert abs(az[0] - 120) < 1e-6 and abs(el[0] - float(true_el)) < 1e-6 and abs(float(true_az) - 120) < 1e-6
    assert az[1] > 120 + 30  # right edge: ~40 deg to the right (east of south-east)
    assert el[2] > 30  # top of the image is higher
    # zenith at the pole-facing meridian: dec = latitude
    zen = guess_camera(51.5, 0.0, 0.0, 640, 360, az=0.0, el=90.0, fov_h=90.0)
    t = [datetime(2026, 7, 12, 22, 0, tzinfo=UTC)]
    ra, dec = zen.pixel_to_radec(np.array([320.0]), np.array([180.0]), t)
    assert abs(dec[0] - 51.5) < 0.3  # (J2000 vs of-date: precession moves it a little)
    # local sidereal time at 22:00 UTC on 12 July 2026 at Greenwich ≈ 17.4 h = 261 deg
    assert abs(ra[0] - 261.0) < 1.5


def test_same_sky_at_two_resolutions(tmp_path: Path) -> None:
    """Issue 15: the rules are in angles, not in the clip's pixels. The same meteor (30 deg/s, through the same
    90° lens) at 640×360 and at 1280×720 is found in both, with the same angular speed, and the Verifier keeps
    the frames it measures at both (at 1280×720 a fixed pixel tolerance used to drop genuine frames)."""
    found = {}
    for f in (1, 2):
        m = Meteor(t0=0.3, duration=1.0, x0=150.0 * f, y0=100.0 * f, vx=195.0 * f, vy=90.0 * f, amp=70.0,
                   sigma=1.0 * f ** 0.7)
        scene = Scene(width=640 * f, height=360 * f, duration=2.0, meteors=(m,), seed=31, n_random_stars=80)
        p = tmp_path / f"{f}" / CLIP
        p.parent.mkdir()
        render_clip(scene, p, sd_bit_rate=1_500_000 * f * f, preset="ultrafast")
        scale = 90.0 / (640 * f)
        det = detect_vals(scan_clip(p).vals, pixel_scale_deg=scale)
        assert det["classification"] == "maybe-meteors", det["reason"]
        verdict, meteors, _ = verify_clip(p, det, station="AMS1", pixel_scale_deg=scale)
        assert len(meteors) == 1, verdict["rejected"]
        found[f] = meteors[0]["report"]
    sd, hd = found[1], found[2]
    assert abs(hd["speed_deg_s"] - sd["speed_deg_s"]) < 0.05 * sd["speed_deg_s"]
    assert abs(hd["duration_s"] - sd["duration_s"]) <= 0.12, (sd, hd)
    kept = {f: r["measured_frames"] - r["outlier_frames"] for f, r in found.items()}
    assert kept[2] >= 0.9 * kept[1], (sd, hd)


@pytest.fixture(scope="module")
def bolide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    """The real bolide clip's kind of case (issue 15): a core saturated over several pixels, a halo, a late flare."""
    m = Meteor(t0=0.5, duration=1.6, x0=120.0, y0=100.0, vx=230.0, vy=95.0, amp=3000.0, sigma=1.6, peak_at=0.5,
               flare_gain=2.0, flare_at=0.75, bloom=0.15, bloom_sigma=4.5)
    p = tmp_path_factory.mktemp("bolide") / CLIP
    return p, render_clip(Scene(duration=3.0, meteors=(m,), seed=23), p, preset="ultrafast")


def test_saturated_blooming_bolide_is_a_meteor(bolide: tuple[Path, Truth]) -> None:
    # Saturation flattens the scan's peak and the Verifier's profile; neither may read it as erratic or defocused.
    p, truth = bolide
    _, verdict, meteors = _pipeline(p)
    assert len(meteors) == 1, verdict.get("rejected")
    _, errs, _ = _errors(meteors[0], truth)
    assert len(errs) >= 0.8 * len(truth.meteors[0].fns), (len(errs), len(truth.meteors[0].fns))
    assert np.median(errs) < 1.0, errs


def test_split_bolide_is_one_meteor(bolide: tuple[Path, Truth]) -> None:
    """Issue 15: the Detector handed over a bolide in pieces — its first and last stretches (18 frames apart, so
    their measurements, each extended 8 frames, share no frame) and a piece beside the first one's core along its
    bloom.
    One meteor comes out, spanning the flight and on the truth; each other piece says which meteor it went into."""
    p, truth = bolide
    t = truth.meteors[0]
    n = len(t.fns)
    cut = [range(1, 9), range(n - 12, n - 1), range(3, 8)]
    det = {"format": "ams-detect/1", "clip": CLIP, "camera": "010001", "start_utc": "2026-07-12T22:15:00.000Z",
           "classification": "maybe-meteors", "pixel_scale_deg": CAL.pixel_scale_deg,
           "objects": [{"oid": k, "passed": True, "fns": [t.fns[i] for i in r],
                        "xs": [t.x[i] + (2.5 if k == 2 else 0.0) for i in r],  # the bloom piece: beside the core
                        "ys": [t.y[i] - (2.5 if k == 2 else 0.0) for i in r]} for k, r in enumerate(cut)]}
    verdict, meteors, outcomes = verify_clip(p, det, station="AMS1", calibration=CAL)
    assert len(meteors) == 1, verdict["rejected"]
    kept = meteors[0]["report"]["oid"]
    assert sorted(meteors[0]["report"]["merged_oids"]) == [0, 1, 2]
    for o in outcomes:
        assert o.accepted == (o.oid == kept)
        assert o.accepted or (o.reason or "").startswith(f"one meteor with object {kept} ("), o.reason
    _, errs, _ = _errors(meteors[0], truth)
    assert len(errs) >= 0.8 * n, (len(errs), n)
    assert np.median(errs) < 0.5, errs


def _clip_of(path: Path, frames: list[np.ndarray], fps: int = 25) -> None:
    """Encode luma frames as they are (CRF 16: the test's own frames, not x264's choices, are what is decoded)."""
    h, w = frames[0].shape
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "16", "g": "50"})
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        yuv = np.full((h * 3 // 2, w), 128, np.uint8)
        for f in frames:
            yuv[:h] = np.clip(f, 0, 255).astype(np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def test_encoder_copies_of_a_fast_meteor_are_not_its_frames(tmp_path: Path) -> None:
    """At a low bit rate x264 skips blocks that changed little: in the spent held-out-4 low_bitrate set a 33-SNR
    meteor at 8.8 px/frame had its third frame replaced by the fourth one's blob (a B-frame) and its last blob
    left standing in the two frames after it (skipped blocks), its faint ends erased; the Verifier fitted the
    copies with it and rejected it as "erratic: 3 of 8 frames". Its decoded frames are rebuilt here (each own frame
    at the share of its light the video kept, the copies where they stood) and encoded near-losslessly, so the
    test does not hang on what x264 decides. One meteor comes out, on the truth, without the copies."""
    fps, n = 25, 50
    m = Meteor(t0=1.0173, duration=0.4, x0=82.0, y0=30.0, vx=38.4, vy=215.4, amp=252.0, sigma=1.16, peak_at=0.78)
    light, centre = [], []
    for fn in range(n):
        img = np.zeros((360, 640), np.float32)
        _, x, y, b = stamp_meteor(img, m, fn / fps, fps)
        light.append(img)
        centre.append((float((x * b).sum() / max(b.sum(), 1e-9)), float((y * b).sum() / max(b.sum(), 1e-9))))
    first = next(fn for fn in range(n) if light[fn].max() > 0)
    # that meteor's decoded light, frame by frame (the share of its rendered light the Verifier measured there),
    # and its copies: frame 2 shows frame 3's blob, frames 10 and 11 frame 9's; frames 0-1 are erased
    own = {3: 0.62, 4: 0.59, 5: 0.63, 6: 0.82, 7: 1.0, 8: 0.74, 9: 0.81}
    copies = {2: (3, 0.33), 10: (9, 0.62), 11: (9, 0.34)}
    shown = {first + k: g * light[first + k] for k, g in own.items()}
    shown.update({first + k: g * light[first + src] for k, (src, g) in copies.items()})
    rng = np.random.default_rng(7)
    _clip_of(tmp_path / CLIP, [15.4 + rng.normal(0.0, 0.8, (360, 640)) + shown.get(fn, 0.0) for fn in range(n)])
    _, verdict, meteors = _pipeline(tmp_path / CLIP)
    assert len(meteors) == 1, verdict.get("rejected")
    fns = [f["fn"] for f in meteors[0]["frames"]]
    assert fns == [first + k for k in own], fns  # the meteor's own frames, none of the copies
    errs = [float(np.hypot(f["x"] - centre[f["fn"]][0], f["y"] - centre[f["fn"]][1])) for f in meteors[0]["frames"]]
    assert max(errs) < 1.0, errs


def test_exact_copies_keep_the_frame_on_the_motion() -> None:
    """An exact copy ties with its source (TUNE low_bitrate minute 4: 4.2 px/frame, the encoder updating the blob
    every second or third frame, frames 316-317 alike): the frame kept from each run of copies is the one whose
    time fits the motion through the others, whether the copy follows its source (skipped blocks) or precedes it
    (a B-frame)."""
    shown = {10: 10, 11: 11, 12: 11, 13: 13, 14: 14, 15: 14, 16: 16, 17: 17, 18: 19, 19: 19}  # frame -> light shown
    m = Measurement(fns=list(shown), x=[100.0 + 4.2 * (src - 10) for src in shown.values()], y=[50.0] * 10,
                    w=[3.0] * 10, h=[3.0] * 10, intensity=[100.0] * 10, snr=[20.0] * 10, across=[4.0] * 10)
    assert [m.fns[i] for i in without_copies(m, 4.2, 1.0, VerifyParams())] == [10, 11, 13, 14, 16, 17, 19]


def test_slow_movers_told_by_their_light_not_one_threshold(tmp_path: Path) -> None:
    """The held-out-5 cases, rebuilt: a meteor leaving the frame at its brightest (its edge frames once bent the
    core's motion: "erratic"), a meteor at 1.8 °/s whose light rises and falls (under the old 2 °/s floor), and a
    plane that appears at full light mid-frame (its strobe on its first frame) and leaves at the top edge."""
    leaving = Meteor(t0=0.6, duration=0.8, x0=609.0, y0=259.0, vx=38.0, vy=10.0, amp=70.0, peak_at=0.95)
    slow = Meteor(t0=3.0, duration=0.6, x0=300.0, y0=200.0, vx=11.0, vy=-6.5, amp=90.0)  # 1.8 °/s
    plane = Aircraft(t0=5.0, t1=8.0, x0=269.6, y0=38.2, vx=9.85, vy=-32.0, amp=57.0, strobe_amp=177.0,
                     blink_period=1.55, blink_frames=1)
    scene = Scene(duration=8.0, seed=31, meteors=(leaving, slow), aircraft=(plane,))
    p = tmp_path / CLIP
    truth = render_clip(scene, p)
    _det, verdict, meteors = _pipeline(p)
    seen = {i: set(t.fns) for i, t in enumerate(truth.meteors)}
    found = sorted(next((i for i, fns in seen.items() if fns & {f["fn"] for f in m["frames"]}), -1) for m in meteors)
    reasons = [r["reason"] for r in verdict["rejected"]]
    assert found == [0, 1], (found, reasons)  # -1: a meteor where none was (the old code's plane)
    speeds = [m["report"]["speed_deg_s"] for m in meteors if set(truth.meteors[1].fns) & {f["fn"] for f in m["frames"]}]
    assert speeds and speeds[0] < 2.0, speeds  # measured under the old floor, kept on its light curve
    assert any(r.startswith("persistent") for r in reasons), reasons  # the plane


def test_steady_slow_light_is_a_satellite() -> None:
    from ams_actors.kernels.verify_judge import plane_or_satellite

    n = 30
    rise_fall = 60.0 * np.sin(np.linspace(0.1, np.pi - 0.1, n)) + 5.0
    for snr, want in ((np.full(n, 25.0) + np.random.default_rng(1).normal(0, 2, n), "satellite"),
                      (np.full(n, 6.0), "satellite"),  # faint: its weakest measured frames are as bright as the rest
                      (rise_fall, None)):
        m = Measurement(fns=list(range(100, 100 + n)), x=list(np.linspace(200, 220, n)), y=[150.0] * n,
                        intensity=list(snr * 10), snr=list(snr))
        why = plane_or_satellite(m, (1.8, 1.8), (50, 200), (640, 360), 1.0, VerifyParams(), {})
        assert (why or "").split(":")[0] == (want or ""), (want, why)
    # its light steady while its SNR rises and falls (its own light in the background of its window's ends):
    # a satellite (held-out-6 aircraft minute 56)
    m = Measurement(fns=list(range(100, 100 + n)), x=list(np.linspace(200, 220, n)), y=[150.0] * n,
                    intensity=[170.0] * n, snr=list(rise_fall))
    why = plane_or_satellite(m, (1.6, 1.6), (50, 200), (640, 360), 1.0, VerifyParams(), {})
    assert (why or "").startswith("satellite"), why


def test_glow_where_a_short_slow_meteor_ended_is_not_its_motion() -> None:
    """Held-out-7 aircraft seed 99032, as the Verifier measured it: a 2.0 °/s meteor of 6 frames (peak SNR 192) with
    the encoder's still blocks 2 frames after its end. With them its speed read 1.26 °/s ("too slow"); without, it
    is over the floor, and its light rises and falls, so it is no satellite. A faint end that still moves is kept, and
    a steady light measured as briefly is still a satellite."""
    from ams_actors.kernels.verify_judge import plane_or_satellite
    from ams_actors.kernels.verify_motion import motion_fit, without_end_glow

    fns = list(range(95, 103))
    xs = [556.57, 556.15, 555.77, 555.17, 554.75, 554.21, 554.33, 554.54]
    ys = [29.58, 29.55, 29.27, 29.11, 28.95, 28.78, 28.81, 28.88]
    snr = [44.2, 100.2, 164.0, 192.0, 148.0, 22.8, 17.2, 10.1]
    light = [304.0, 658.0, 1032.0, 1153.0, 972.0, 132.0, 106.0, 57.0]
    m = Measurement(fns=fns, x=xs, y=ys, w=[3.0] * 8, h=[3.0] * 8, intensity=light, snr=snr, across=[3.0] * 8)
    prm = VerifyParams()
    keep = without_end_glow(m, prm)
    assert [fns[i] for i in keep] == list(range(95, 101))
    before = motion_fit(np.asarray(fns, float), np.asarray(xs), np.asarray(ys))["speed_px_frame"] * 25 * 90 / 640
    m.take(keep)
    after = motion_fit(np.asarray(m.fns, float), np.asarray(m.x), np.asarray(m.y))["speed_px_frame"] * 25 * 90 / 640
    assert before < prm.min_speed_deg_s < after, (before, after)
    assert plane_or_satellite(m, (after, after), (20, 176), (640, 360), 1.0, prm, {}) is None
    moving = Measurement(fns=fns, x=[556.57 - 0.5 * i for i in range(8)], y=ys, intensity=light, snr=snr)
    assert without_end_glow(moving, prm) == list(range(8))
    steady = Measurement(fns=fns[:6], x=xs[:6], y=ys[:6], intensity=[700.0, 820.0, 760.0, 800.0, 690.0, 750.0],
                         snr=[120.0] * 6)
    why = plane_or_satellite(steady, (after, after), (20, 176), (640, 360), 1.0, prm, {})
    assert (why or "").startswith("satellite"), why


def test_meteor_grazing_the_frame_edge_is_judged_on_its_bright_frames(tmp_path: Path) -> None:
    """Held-out-7 slow_long seed 99014: a 6.3 °/s meteor entering at the left edge and running along the top edge
    (2-5 px from it), brightest there. Its in-view frames were only its faint start, so the motion the others were
    judged against was wrong (there: 2.4 °/s, a "satellite"; on these renders one read "not one direction"). The
    edge it runs along no longer limits what is in view."""
    found = 0
    for seed in (41, 42, 43):
        m = Meteor(t0=1.0, duration=2.84, x0=-12.2, y0=8.5, vx=43.7, vy=-10.0, amp=60.0, sigma=0.86, peak_at=0.78)
        p = tmp_path / f"{seed}" / CLIP
        p.parent.mkdir()
        render_clip(Scene(duration=6.0, seed=seed, meteors=(m,), noise=2.5), p)
        _det, _verdict, meteors = _pipeline(p)
        assert len(meteors) <= 1, meteors
        found += len(meteors)
        speeds = [mm["report"]["speed_deg_s"] for mm in meteors]
        assert all(speed > 5.0 for speed in speeds), (seed, speeds)
    assert found == 3, found


def test_faint_slow_meteor_is_followed_beyond_its_detected_middle(tmp_path: Path) -> None:
    """A faint 3.8 °/s meteor of 4 s (peak SNR 6.9) is detected only in its middle (frames 43-81 of 12-112). Searched
    8 frames beyond that it is as bright at both ends of the window as a plane, and was rejected as "persistent";
    a slow mover is followed 2 s further, where it is seen to fade in and out."""
    m = Meteor(t0=0.5, duration=4.0, x0=390.0, y0=285.0, vx=10.0, vy=-25.0, amp=18.0, peak_at=0.5)
    p = tmp_path / CLIP
    truth = render_clip(Scene(duration=6.0, seed=41, meteors=(m,)), p)
    det, verdict, meteors = _pipeline(p)
    (seen,) = [o["fns"] for o in det["objects"] if o["passed"]]
    assert seen[0] > truth.meteors[0].fns[0] + 20 and seen[-1] < truth.meteors[0].fns[-1] - 20, seen
    assert len(meteors) == 1, [r["reason"] for r in verdict["rejected"]]
    fns = [f["fn"] for f in meteors[0]["frames"]]
    assert fns[0] < seen[0] - 8 and fns[-1] > seen[-1] + 8, (fns[0], fns[-1])
