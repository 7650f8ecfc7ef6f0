"""Is a solved trajectory fit to publish? Rules a person can check, each with a reason in words.

A least-squares solve always returns numbers; whether they mean anything is a separate question.
Real data showed each of these: two nearly parallel planes (the trajectory line is then decided by
noise), one camera hundreds of arcseconds off its own line (a wrong member or a bad plate), heights
or speeds no meteor has, and hyperbolic orbits that are only a large error bar away from bound ones.
A Solution flagged here is kept (a scientist may still want it) but left out of the published index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protocols.observations import Quality

#: Below this the two best planes meet at too small an angle to pin the line (GMN uses 3° too).
MIN_CONVERGENCE_DEG = 3.0
#: A camera's residual RMS above this many of its pixels is not measurement noise.
MAX_RESIDUAL_PX = 2.0
#: The plate scale assumed when an observation does not give one: a typical GMN/RMS wide camera
#: (1280 px over ~70-90°), so the unknown-scale limit is 300″.
DEFAULT_PIXEL_SCALE_ARCSEC = 150.0
BEGIN_KM = (40.0, 180.0)  # meteors begin ablating at 70-130 km; fireballs lower, nothing above ~180 km
END_KM = (10.0, 150.0)  # meteorite droppers end near 15-20 km
#: Slowest possible: the Earth's escape speed less margin; fastest: a retrograde hyperbolic limit.
SPEED_KM_S = (10.0, 75.0)
#: A hyperbolic orbit is believed only when it is this many sigma from e = 1 and sigma(e) is small.
HYPERBOLIC_SIGMAS = 3.0
MAX_E_SIGMA = 0.1


def pixel_limit_arcsec(scale_arcsec: float | None, px: float = MAX_RESIDUAL_PX) -> float:
    """The residual limit for a camera of this plate scale (the default scale when unknown)."""
    return px * (scale_arcsec if scale_arcsec is not None else DEFAULT_PIXEL_SCALE_ARCSEC)


def _range_reason(what: str, value: float | None, lo: float, hi: float, unit: str) -> str | None:
    if value is None:
        return f"{what} unknown"
    if not lo <= value <= hi:
        return f"{what} {value:.1f} {unit} outside {lo:g}-{hi:g} {unit}"
    return None


def assess(
    convergence_deg: float | None,
    residuals_arcsec: Mapping[str, float | None],
    pixel_scales_arcsec: Mapping[str, float | None],
    begin_alt_m: float | None,
    end_alt_m: float | None,
    v_init_m_s: float | None,
    eccentricity: float | None,
    sigma: Mapping[str, Any] | None,
) -> Quality:
    """The quality of one solved trajectory; ``pixel_scales_arcsec`` is keyed like the residuals."""
    reasons: list[str] = []
    if convergence_deg is None or convergence_deg < MIN_CONVERGENCE_DEG:
        shown = "unknown" if convergence_deg is None else f"{convergence_deg:.1f}°"
        reasons.append(f"convergence angle {shown} < {MIN_CONVERGENCE_DEG:g}° (degenerate geometry)")
    for name, rms in residuals_arcsec.items():
        scale = pixel_scales_arcsec.get(name)
        limit = pixel_limit_arcsec(scale)
        if rms is not None and rms > limit:
            px = rms / (scale if scale is not None else DEFAULT_PIXEL_SCALE_ARCSEC)
            assumed = "" if scale is not None else " at an assumed"
            reasons.append(
                f"{name} residuals {rms:.0f}″ = {px:.1f} px{assumed} {scale or DEFAULT_PIXEL_SCALE_ARCSEC:.0f}″/px "
                f"(> {MAX_RESIDUAL_PX:g} px)"
            )
    km = [None if v is None else v / 1000.0 for v in (begin_alt_m, end_alt_m, v_init_m_s)]
    for what, value, (lo, hi), unit in (("begin height", km[0], BEGIN_KM, "km"), ("end height", km[1], END_KM, "km"),
                                        ("initial speed", km[2], SPEED_KM_S, "km/s")):
        r = _range_reason(what, value, lo, hi, unit)
        if r:
            reasons.append(r)
    if km[0] is not None and km[1] is not None and km[0] < km[1]:
        reasons.append(f"begins lower ({km[0]:.1f} km) than it ends ({km[1]:.1f} km)")
    if eccentricity is not None and eccentricity >= 1.0:
        orbit_sigma = (sigma or {}).get("orbit") or {}
        e_sigma = orbit_sigma.get("e") if isinstance(orbit_sigma, Mapping) else None
        if e_sigma is None:
            reasons.append(f"hyperbolic orbit (e = {eccentricity:.2f}) without an uncertainty to back it")
        elif e_sigma > MAX_E_SIGMA or eccentricity - 1.0 < HYPERBOLIC_SIGMAS * e_sigma:
            reasons.append(f"hyperbolic orbit with a large uncertainty (e = {eccentricity:.2f} ± {e_sigma:.2f})")
    return Quality(ok=not reasons, reasons=tuple(reasons))

