"""Calibration from stars: match detections to the catalog from a rough pointing, then fit the camera.

Matching cannot start with nearest neighbours: a guess 3° and 5 % off puts every star 20–40 px (SD)
from its image, farther than the typical spacing of catalog stars. So the first match is a vote:
for a small grid of roll and scale corrections, every (bright detection, bright catalog star) pair
votes for the focal-plane shift that would align them; the true shift collects one vote per star, the
wrong pairs spread out. The winning similarity transform gives the first pairs; from then on the
camera model itself is fitted (robust soft-L1 least squares in the focal plane, closed form both ways)
and the pairs are re-matched with shrinking radii while the model gains distortion terms, with
σ-clipping of outliers at the end. Residuals are reported in image pixels (through the exact lens
inverse) and in arc-minutes on the sky.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

from ams_actors.kernels.astrometry.camera import CameraModel, cam_to_focal, rotvec_matrix
from ams_actors.kernels.astrometry.catalog import StarTable, star_enu
from ams_actors.kernels.astrometry.frames import TimeLike, as_time, enu_refract
from ams_actors.kernels.astrometry.lens import Lens
from ams_actors.kernels.astrometry.stars import DetectedStars
from ams_actors.kernels.geo import angle_between_deg

Float = NDArray[np.float64]


class CalibrationFailed(Exception):
    """Not enough stars could be matched; the message says what was found."""


@dataclass(frozen=True)
class CalibrationFit:
    camera: CameraModel
    det_x: Float  # matched detections (pixels)
    det_y: Float
    det_flux: Float
    cat_index: NDArray[np.intp]  # into the star table
    cat_x: Float  # model position of the matched catalog stars (pixels)
    cat_y: Float
    cat_vmag: Float
    resid_px: Float  # |detection - model| per matched star
    resid_arcmin: Float
    n_detected: int
    n_catalog: int  # catalog stars predicted in the frame (V ≤ mag limit)
    mag_limit: float

    @property
    def n_matched(self) -> int:
        return len(self.det_x)

    @property
    def rms_px(self) -> float:
        return float(np.sqrt(np.mean(self.resid_px**2))) if self.n_matched else float("nan")

    @property
    def rms_arcmin(self) -> float:
        return float(np.sqrt(np.mean(self.resid_arcmin**2))) if self.n_matched else float("nan")

    def quality(self) -> dict[str, Any]:
        return {
            "n_detected": self.n_detected,
            "n_catalog": self.n_catalog,
            "n_matched": self.n_matched,
            "mag_limit": self.mag_limit,
            "rms_px": round(self.rms_px, 4),
            "rms_arcmin": round(self.rms_arcmin, 4),
            "median_px": round(float(np.median(self.resid_px)), 4) if self.n_matched else None,
            "max_px": round(float(np.max(self.resid_px)), 4) if self.n_matched else None,
        }


# --- parameter vector <-> model ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    n_k: int
    free_k: int  # how many of the k's are free (the rest stay at their start value)
    centre: bool
    asym: bool


def _unpack(p: Float, base: CameraModel, r0: Float, spec: _Spec) -> tuple[Float, float, Lens]:
    rot = r0 @ rotvec_matrix(p[:3])
    scale = base.scale * float(np.exp(p[3]))
    i = 4
    lens = base.lens
    ks = list(lens.k) + [0.0] * (spec.n_k - len(lens.k))
    ks = ks[: spec.n_k]
    for j in range(spec.free_k):
        ks[j] = float(p[i])
        i += 1
    x0, y0, ac, as_ = lens.x0, lens.y0, lens.asym_c, lens.asym_s
    if spec.centre:
        x0, y0 = float(p[i]), float(p[i + 1])
        i += 2
    if spec.asym:
        ac, as_ = float(p[i]), float(p[i + 1])
        i += 2
    new_lens = replace(lens, kind="radial-odd", k=tuple(ks), x0=x0, y0=y0, asym_c=ac, asym_s=as_)
    return rot, scale, new_lens


def _pack_start(base: CameraModel, spec: _Spec) -> Float:
    lens = base.lens
    ks = list(lens.k) + [0.0] * spec.n_k
    p = [0.0, 0.0, 0.0, 0.0, *ks[: spec.free_k]]
    if spec.centre:
        p += [lens.x0, lens.y0]
    if spec.asym:
        p += [lens.asym_c, lens.asym_s]
    return np.asarray(p, dtype=float)


def _fit(
    base: CameraModel,
    det_x: Float,
    det_y: Float,
    cat_enu_app: Float,
    spec: _Spec,
    f_scale_px: float,
) -> CameraModel:
    r0 = base.rotation
    p0 = _pack_start(base, spec)

    def resid(p: Float) -> Float:
        rot, scale, lens = _unpack(p, base, r0, spec)
        ud, vd = lens.to_focal(det_x, det_y)
        uc, vc = cam_to_focal(cat_enu_app @ rot, scale)
        out = [ud - uc, vd - vc]
        # weak priors keep near-degenerate terms (distortion centre vs pointing, high orders that
        # cancel inside the star-covered area) from wandering off where there are no stars
        if spec.free_k > 1:
            out.append(p[5 : 4 + spec.free_k] / 0.1)
        i = 4 + spec.free_k
        if spec.centre:
            out.append(p[i : i + 2] / (0.15 * base.width))
            i += 2
        if spec.asym:
            out.append(p[i : i + 2] / 0.05)
        return np.concatenate(out)

    res = least_squares(resid, p0, loss="soft_l1", f_scale=f_scale_px, x_scale="jac", max_nfev=200)
    rot, scale, lens = _unpack(res.x, base, r0, spec)
    return replace(base, scale=scale, lens=lens).with_rotation(rot)


# --- matching ------------------------------------------------------------------------------------------


def _vote(
    det_uv: Float,
    cat_uv: Float,
    scale_px_deg: float,
    max_shift_deg: float,
    roll_range_deg: float,
    scale_range: float,
) -> list[tuple[int, float, float, Float]]:
    """Candidate (votes, roll, scale, shift) aligning detections to catalog in the focal plane, best first.

    One candidate per roll (its best scale and shift); the caller tries them in order until one
    refines into a good fit, so a chance alignment that out-votes the truth by a star costs time, not
    the calibration.
    """
    bin_px = max(2.0, 0.35 * scale_px_deg)
    lim = max_shift_deg * scale_px_deg
    nb = int(np.ceil(2 * lim / bin_px))
    found: list[tuple[int, float, float, Float]] = []
    rolls = np.arange(-roll_range_deg, roll_range_deg + 1e-9, 1.0)
    scales = np.arange(1.0 - scale_range, 1.0 + scale_range + 1e-9, 0.0125)
    for ro in rolls:
        best: tuple[int, float, float, Float] = (-1, 0.0, 1.0, np.zeros(2))
        c, s = np.cos(np.radians(ro)), np.sin(np.radians(ro))
        rd = det_uv @ np.array([[c, -s], [s, c]]).T
        for sc in scales:
            d = (cat_uv[None, :, :] - sc * rd[:, None, :]).reshape(-1, 2)
            ij = np.floor((d + lim) / bin_px).astype(np.int64)
            ok = (ij[:, 0] >= 0) & (ij[:, 0] < nb) & (ij[:, 1] >= 0) & (ij[:, 1] < nb)
            if not ok.any():
                continue
            hist = np.bincount(ij[ok, 0] * nb + ij[ok, 1], minlength=nb * nb).reshape(nb, nb)
            # 2x2 box sum: a true shift on a bin edge still wins
            hs = hist[:-1, :-1] + hist[1:, :-1] + hist[:-1, 1:] + hist[1:, 1:]
            k = int(np.argmax(hs))
            score = int(hs.flat[k])
            if score > best[0]:
                ix, iy = np.unravel_index(k, hs.shape)
                sel = ok & (ij[:, 0] >= ix) & (ij[:, 0] <= ix + 1) & (ij[:, 1] >= iy) & (ij[:, 1] <= iy + 1)
                best = (score, float(ro), float(sc), np.median(d[sel], axis=0))
        if best[0] > 0:
            found.append(best)
    found.sort(key=lambda f: -f[0])
    return found


def _mutual_nn(ax: Float, ay: Float, bx: Float, by: Float, radius: float) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Index pairs (i in a, j in b) that are each other's nearest neighbour within ``radius``."""
    if len(ax) == 0 or len(bx) == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    ta = cKDTree(np.c_[ax, ay])
    tb = cKDTree(np.c_[bx, by])
    dab, jab = tb.query(np.c_[ax, ay], distance_upper_bound=radius)
    _, iba = ta.query(np.c_[bx, by], distance_upper_bound=radius)
    i = np.flatnonzero(np.isfinite(dab))
    j = jab[i]
    mutual = iba[j] == i
    return i[mutual], j[mutual]


def _refine(
    model: CameraModel,
    detected: DetectedStars,
    det_idx: NDArray[np.intp],
    cat_idx: NDArray[np.intp],
    enu_true: Float,
    enu_app: Float,
    n_k: int,
    fit_centre: bool,
    fit_asym: bool,
    min_matched: int,
) -> tuple[CameraModel, NDArray[np.intp], NDArray[np.intp]]:
    """From first pairs to the final model: grow the matches over the frame while freeing terms."""
    model = _fit(model, detected.x[det_idx], detected.y[det_idx], enu_app[cat_idx], _Spec(n_k, 0, False, False), 3.0)
    full = _Spec(n_k, n_k, fit_centre, fit_asym)
    # (radius px, terms, soft-L1 scale px, repeat while the matched set grows)
    stages = [
        (max(6.0, 0.8 * model.scale), _Spec(n_k, min(1, n_k), False, False), 2.0, 2),
        (5.0, _Spec(n_k, min(1, n_k), fit_centre, False), 1.0, 2),
        (4.0, _Spec(n_k, min(2, n_k), fit_centre, False), 1.0, 4),
        (3.0, full, 1.0, 4),
        (2.0, full, 0.5, 1),
    ]
    mi = mj = np.zeros(0, np.intp)
    for radius, spec, fscale, repeat in stages:
        last_n = -1
        for _ in range(repeat):
            px, py = model.enu_to_pixel(enu_true)
            ok_idx = np.flatnonzero(np.isfinite(px))
            mi, mj_local = _mutual_nn(detected.x, detected.y, px[ok_idx], py[ok_idx], radius)
            mj = ok_idx[mj_local]
            if len(mi) < min_matched:
                raise CalibrationFailed(f"only {len(mi)} stars matched within {radius:.1f} px")
            if len(mi) <= last_n:
                break  # the set stopped growing: the edges are in
            last_n = len(mi)
            model = _fit(model, detected.x[mi], detected.y[mi], enu_app[mj], spec, f_scale_px=fscale)

    # σ-clip and refit
    for _ in range(2):
        px, py = model.enu_to_pixel(enu_true[mj])
        r = np.hypot(px - detected.x[mi], py - detected.y[mi])
        sig = 1.4826 * np.median(r) / 0.8326 if len(r) else 0.0  # Rayleigh: median = 1.1774 σ
        keep = np.isfinite(r) & (r < max(3.0 * sig, 0.3))
        if keep.all():
            break
        mi, mj = mi[keep], mj[keep]
        if len(mi) < min_matched:
            raise CalibrationFailed(f"only {len(mi)} stars left after outlier rejection")
        model = _fit(model, detected.x[mi], detected.y[mi], enu_app[mj], full, f_scale_px=0.5)
    return model, mi, mj


def calibrate_stars(
    detected: DetectedStars,
    guess: CameraModel,
    table: StarTable,
    t: TimeLike,
    mag_limit: float = 5.5,
    n_k: int = 3,
    fit_centre: bool = True,
    fit_asym: bool = True,
    max_pointing_error_deg: float = 6.0,
    max_roll_error_deg: float = 10.0,
    max_scale_error: float = 0.1,
    min_matched: int = 15,
) -> CalibrationFit:
    """Fit ``guess`` (pointing, roll, scale, radial-odd distortion) to the detected stars at UTC ``t``."""
    tt = as_time(t)
    if len(detected) < min_matched:
        raise CalibrationFailed(f"only {len(detected)} stars detected (need ≥ {min_matched})")
    frame = guess.frame(tt)
    sel = np.flatnonzero(table.vmag <= mag_limit)
    sub = table.subset(sel)
    enu_true = star_enu(sub, frame, tt)
    enu_app = enu_refract(enu_true, apparent_to_true=False) if guess.refraction else enu_true
    above = enu_true[:, 2] > np.sin(np.radians(-1.0))
    # candidates: anything within the guessed field plus the pointing error
    axis = guess.center_enu()
    half_diag = 0.5 * np.hypot(guess.width, guess.height) / guess.scale * (1 + max_scale_error)
    near = enu_app @ axis > np.cos(np.radians(min(half_diag + max_pointing_error_deg + 2, 130.0)))
    cand = np.flatnonzero(above & near)
    enu_app, enu_true, sub_idx = enu_app[cand], enu_true[cand], sel[cand]
    vmag = table.vmag[sub_idx].astype(float)
    if len(cand) < min_matched:
        raise CalibrationFailed(f"only {len(cand)} catalog stars (V ≤ {mag_limit}) near the guessed field")

    model = replace(guess, lens=replace(guess.lens, kind="radial-odd", k=tuple(guess.lens.k)[:n_k]))
    # 1) vote in the guess's focal plane with the brightest stars of each list
    order_c = np.argsort(vmag)
    n_det_v = min(len(detected), 60)
    central = np.hypot(detected.x - guess.width / 2, detected.y - guess.height / 2) < 0.42 * np.hypot(
        guess.width, guess.height
    )
    di = np.flatnonzero(central)[:n_det_v]
    if len(di) < 8:
        di = np.arange(n_det_v)
    du, dv = model.lens.to_focal(detected.x[di], detected.y[di])
    cu, cv = cam_to_focal(enu_app @ model.rotation, model.scale)
    ci = order_c[: min(len(order_c), int(2.5 * len(di)) + 20)]
    # near the zenith a small pointing error is a large azimuth error, which turns the image about its
    # axis (roll is measured from the local horizontal): widen the roll search accordingly
    roll_range = max_roll_error_deg
    if guess.el > 60.0:
        roll_range = min(180.0, max_roll_error_deg + max_pointing_error_deg / max(np.cos(np.radians(guess.el)), 1e-3))
    candidates = _vote(
        np.c_[du, dv],
        np.c_[cu[ci], cv[ci]],
        model.scale,
        max_pointing_error_deg,
        roll_range,
        max_scale_error,
    )
    if not candidates or candidates[0][0] < 6:
        best_votes = candidates[0][0] if candidates else 0
        raise CalibrationFailed(f"no consistent star pattern found (best vote {best_votes} stars)")
    best: tuple[CameraModel, NDArray[np.intp], NDArray[np.intp]] | None = None
    errors: list[str] = []
    tried: list[float] = []
    for votes, roll, sc, shift in candidates:
        if len(tried) >= 4 or votes < 6:
            break
        if any(abs(roll - r) < 1.5 for r in tried):
            continue  # a neighbour of a roll already tried
        tried.append(roll)
        c, s = np.cos(np.radians(roll)), np.sin(np.radians(roll))
        pred = sc * (np.c_[du, dv] @ np.array([[c, -s], [s, c]]).T) + shift
        i, j = _mutual_nn(pred[:, 0], pred[:, 1], cu[ci], cv[ci], max(3.0, 0.5 * model.scale))
        if len(i) < 6:
            errors.append(f"only {len(i)} stars agree with the pattern at roll {roll:+.0f}°")
            continue
        try:
            got = _refine(model, detected, di[i], ci[j], enu_true, enu_app, n_k, fit_centre, fit_asym, min_matched)
        except CalibrationFailed as err:
            errors.append(str(err))
            continue
        if best is None or len(got[1]) > len(best[1]):
            best = got
        if len(got[1]) >= 0.5 * len(detected):
            break  # most detected stars are explained: this is it
    if best is None:
        raise CalibrationFailed("; ".join(errors) or "no candidate pattern refined")
    model, mi, mj = best

    px, py = model.enu_to_pixel(enu_true[mj])
    dx, dy = px - detected.x[mi], py - detected.y[mi]
    arc = angle_between_deg(model.pixel_to_enu(detected.x[mi], detected.y[mi]), enu_true[mj]) * 60.0
    in_frame_x, in_frame_y = model.enu_to_pixel(enu_true)
    n_cat = int(
        np.sum(
            np.isfinite(in_frame_x)
            & (in_frame_x >= 0)
            & (in_frame_x <= model.width - 1)
            & (in_frame_y >= 0)
            & (in_frame_y <= model.height - 1)
            & (enu_true[:, 2] > 0)
        )
    )
    return CalibrationFit(
        camera=model,
        det_x=detected.x[mi],
        det_y=detected.y[mi],
        det_flux=detected.flux[mi],
        cat_index=sub_idx[mj],
        cat_x=px,
        cat_y=py,
        cat_vmag=vmag[mj],
        resid_px=np.hypot(dx, dy),
        resid_arcmin=arc,
        n_detected=len(detected),
        n_catalog=n_cat,
        mag_limit=mag_limit,
    )
