"""One GMN trajectory-summary row from a Solution and its Observation set (``ams correlate --solve``
and the archive re-solve both write ``protocols.traj_summary`` files from it). Pure arithmetic."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ams_actors.kernels import catalog as k
from protocols.observations import ObservationSet, parse_utc


def _sig(sigma: Mapping[str, Any] | None, *keys: str, scale: float = 1.0) -> float | None:
    node: Any = sigma
    for name in keys:
        node = node.get(name) if isinstance(node, Mapping) else None
    return None if not isinstance(node, int | float) else float(node) * scale


def _span(obs: ObservationSet) -> float:
    from datetime import timedelta

    starts = [o.t_ref_utc + timedelta(seconds=o.times[0]) for o in obs.observations if o.times]
    ends = [o.t_ref_utc + timedelta(seconds=o.times[-1]) for o in obs.observations if o.times]
    return (max(ends) - min(starts)).total_seconds() if starts else 0.0


def summary_row(sol: Mapping[str, Any], obs: ObservationSet) -> dict[str, object]:
    """One GMN summary row (protocols.traj_summary keys) from a solved Solution and its input."""
    t = parse_utc(str(sol["t_begin_utc"]))
    jd = k.julian_date(t)
    sol_lon = k.solar_longitude_deg(jd)
    begin, end, rad = sol["begin"], sol["end"], sol["radiant"]
    app = sol.get("radiant_apparent") or {}
    orbit = sol.get("orbit") or {}
    s = sol.get("sigma")
    lst = k.local_sidereal_deg(jd, begin["lon"])
    lam, bet = k.ecliptic_deg(rad["ra_deg"], rad["dec_deg"])
    azim = elev = None
    if app:
        azim, elev = k.azimuth_elevation_deg(app["ra_deg"], app["dec_deg"], begin["lat"], lst)
    shower = sol.get("shower") if isinstance(sol.get("shower"), Mapping) else None
    residuals = [v for v in (sol.get("residuals_arcsec") or {}).values() if isinstance(v, int | float)]
    v_g = sol.get("v_g_m_s")
    quality: Mapping[str, Any] = sol["quality"] if isinstance(sol.get("quality"), Mapping) else {}
    row: dict[str, object] = {
        "id": sol["event_id"], "jd": jd, "utc": t.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "iau_no": shower.get("iau_no", -1) if shower else -1,
        "iau_code": shower.get("code", "...") if shower else "...",
        "sol_lon": sol_lon, "app_lst": lst,
        "ra_geo": rad["ra_deg"], "ra_geo_sd": _sig(s, "radiant", "ra_deg"),
        "dec_geo": rad["dec_deg"], "dec_geo_sd": _sig(s, "radiant", "dec_deg"),
        "lam_geo": lam, "bet_geo": bet,
        "v_geo": None if v_g is None else v_g / 1000.0, "v_geo_sd": _sig(s, "v_g_m_s", scale=1e-3),
        "ra_app": app.get("ra_deg"), "dec_app": app.get("dec_deg"), "azim": azim, "elev": elev,
        "v_init": sol["v_init_m_s"] / 1000.0, "v_init_sd": _sig(s, "v_init_m_s", scale=1e-3),
        "v_avg": sol["v_avg_m_s"] / 1000.0, "v_avg_sd": _sig(s, "v_avg_m_s", scale=1e-3),
        "duration": _span(obs), "qc": sol.get("convergence_angle_deg"),
        "median_fit_err": sorted(residuals)[len(residuals) // 2] if residuals else None,
        "num": len(sol.get("stations") or ()), "stations": ",".join(sol.get("stations") or ()),
        "quality_ok": quality.get("ok"), "quality_reasons": "; ".join(quality.get("reasons") or ()),
    }
    for key, name in (("a", "a_au"), ("e", "e"), ("i", "i_deg"), ("peri", "peri_deg"), ("node", "node_deg"),
                      ("q", "q_au")):
        row[key], row[f"{key}_sd"] = orbit.get(name), _sig(s, "orbit", name)
    row.update(k.orbit_extras(orbit.get("a_au"), orbit.get("e"), orbit.get("i_deg"), orbit.get("peri_deg"),
                              orbit.get("node_deg"), sol_lon))
    for tag, p in (("beg", begin), ("end", end)):
        row[f"lat_{tag}"], row[f"lat_{tag}_sd"] = p["lat"], _sig(s, "begin" if tag == "beg" else "end", "lat")
        row[f"lon_{tag}"], row[f"lon_{tag}_sd"] = p["lon"], _sig(s, "begin" if tag == "beg" else "end", "lon")
        row[f"ht_{tag}"] = p["alt_m"] / 1000.0
        row[f"ht_{tag}_sd"] = _sig(s, "begin" if tag == "beg" else "end", "alt_m", scale=1e-3)
    return row
