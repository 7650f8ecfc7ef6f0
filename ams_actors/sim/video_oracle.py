"""What the decoded video still holds of a rendered meteor: the best detection statistic any detector could have.

A diagnostic for the detection benchmark (issue 15's low-bit-rate misses), not a detector: it knows the TRUE
track and the exact light the renderer put in each frame (``render.stamp_meteor``), and matches that light
against the decoded frames. Per frame, the matched-filter statistic is ``<D, T> / ||T||`` with ``D`` the
decoded luma minus a per-pixel median background of frames without the meteor and ``T`` the meteor's rendered
light; summed along the track it is ``Σ<D_f, T_f> / sqrt(Σ||T_f||²)``, the optimal linear statistic for that
exact light in white noise. No software reading the video can do better on that track than this statistic
(it would also have to search for the track, which costs more).

Its noise is measured, not assumed: at a low bit rate the encoder flattens the sky (the decoded pixels' sigma
falls far below the sensor's) and its errors are blocky and correlated, so the same templates are laid on the
same decoded frames at many positions away from the meteor (``null`` shifts) and the RMS of those sums is the
sigma (never below the 1-DN rounding's). ``kept`` is ``<D, T> / <T, T>``: the share of the rendered light the
video kept (1 = all of it, 0 = the encoder erased it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.video import iter_y
from ams_actors.sim.render import stamp_meteor
from ams_actors.sim.scene import Meteor

F32 = NDArray[np.float32]

#: null positions: the templates shifted by these (dx, dy) pixels (those near the meteor's light are left out)
_NULL_SHIFTS = tuple((int(round(r * np.cos(a))), int(round(r * np.sin(a))))
                     for r in (28.0, 40.0, 52.0, 64.0, 76.0, 88.0)
                     for a in np.linspace(0.0, 2 * np.pi, 12, endpoint=False))
_BG_FRAMES = 12  # frames of background (before the meteor, else after it)
_BG_GAP = 3  # frames left between the background and the meteor (the encoder's pre-echo and stale copies)


@dataclass(frozen=True, slots=True)
class OracleResult:
    snr_sum: float  # the summed statistic over its null sigma
    snr_frames: list[float]  # per frame of the truth, the statistic over its null sigma
    kept: float  # share of the rendered light the decoded frames kept (light-weighted over the track)
    snr_sum_rendered: float  # the same sum on the rendered light with the sensor's white noise (before encoding)

    def frames_above(self, snr: float) -> int:
        return sum(1 for s in self.snr_frames if s >= snr)

    def to_dict(self) -> dict[str, Any]:
        return {"snr_sum": round(self.snr_sum, 2), "frames_snr5": self.frames_above(5.0),
                "snr_frames": [round(s, 2) for s in self.snr_frames], "kept": round(self.kept, 3),
                "snr_sum_rendered": round(self.snr_sum_rendered, 2)}


def oracle_snr(path: str | Path, meteor: Meteor, fns: list[int], *, fps: float, size: tuple[int, int],
               noise: float, n_frames: int) -> OracleResult | None:
    """The oracle statistic of ``meteor`` (whose truth lists frames ``fns``) in the decoded clip ``path``;
    None when the clip has no frames without it for a background. ``noise``: the sensor's sigma (DN)."""
    if not fns:
        return None
    w, h = size
    f0, f1 = fns[0], fns[-1]
    before = list(range(max(0, f0 - _BG_GAP - _BG_FRAMES), max(0, f0 - _BG_GAP)))
    after = list(range(f1 + 1 + _BG_GAP, min(n_frames, f1 + 1 + _BG_GAP + _BG_FRAMES)))
    ref_fns = before if len(before) >= 6 else after
    if len(ref_fns) < 6:
        return None
    want = set(ref_fns) | set(fns)
    frames = {fn: y.astype(np.float32) for fn, y in iter_y(path, start=min(want), stop=max(want) + 1) if fn in want}
    if any(fn not in frames for fn in fns) or sum(fn in frames for fn in ref_fns) < 6:
        return None
    bg = np.median(np.stack([frames[fn] for fn in ref_fns if fn in frames]), axis=0)
    stamps = []
    for fn in fns:
        tmpl = np.zeros((h, w), np.float32)
        stamp_meteor(tmpl, meteor, fn / fps, fps)
        ys, xs = np.nonzero(tmpl > 1e-3 * max(float(tmpl.max()), 1e-9))
        stamps.append((ys, xs, tmpl[ys, xs].astype(np.float64)))
    shifts = [(0, 0), *_null_shifts(stamps, (h, w))]
    dot = np.zeros(len(shifts))  # the true track first, then the null shifts
    per: list[tuple[NDArray[np.float64], float]] = []
    for fn, (ys, xs, t) in zip(fns, stamps, strict=True):
        d = frames[fn] - bg
        row = np.array([float(t @ d[(ys + dy) % h, (xs + dx) % w]) for dx, dy in shifts])
        per.append((row, float(t @ t)))
        dot += row
    tt = sum(ptt for _, ptt in per)
    if tt <= 0 or len(shifts) < 13:
        return None
    snr_frames = [float(row[0] / _null_sigma(row[1:], ptt)) if ptt > 0 else 0.0 for row, ptt in per]
    return OracleResult(snr_sum=float(dot[0] / _null_sigma(dot[1:], tt)), snr_frames=snr_frames,
                        kept=float(dot[0] / tt), snr_sum_rendered=float(np.sqrt(tt) / noise))


def _null_shifts(stamps: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float64]]],
                 size: tuple[int, int]) -> list[tuple[int, int]]:
    """The null shifts whose templates stay ≥ 8 px from every frame's light of the meteor (the encoder's stale
    copies of it linger where it was, in later frames)."""
    h, w = size
    light = np.zeros((h, w), np.uint8)
    for ys, xs, _ in stamps:
        light[ys, xs] = 1
    near = cv2.dilate(light, np.ones((17, 17), np.uint8))
    return [(dx, dy) for dx, dy in _NULL_SHIFTS
            if not any(near[(ys + dy) % h, (xs + dx) % w].any() for ys, xs, _ in stamps)]


def _null_sigma(null: NDArray[np.float64], tt: float) -> float:
    """The statistic's sigma: the RMS of its null sums (not a robust spread: most of a flattened sky decodes to
    exactly its background, and the rare blocky updates, the tail, are what a detector would trip on), and at
    least what the decoded pixels' 1-DN rounding alone gives (uniform, sigma 1/sqrt(12) DN), so a sky the encoder
    copied unchanged does not make any light infinitely significant."""
    return max(float(np.sqrt(np.mean(null**2))), float(np.sqrt(tt / 12.0)))
