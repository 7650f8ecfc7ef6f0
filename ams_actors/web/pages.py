"""The pages' bodies, from data the server gathered (no I/O here): Dashboard, Night, Meteor, Review,
Events, Calibration. Each returns HTML inside the frame of `html.page`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ams_actors.web.data import MeteorCard
from ams_actors.web.html import Raw, bars, esc, kv, line_chart, table
from protocols.calibration import CalibrationRecord

PLACEHOLDER = '<div class="ph">no preview yet</div>'
# what the last review action means for the meteor now
STATE_WORDS = {"": "not reviewed", "confirm": "confirmed", "reject": "rejected (in the trash)",
               "restore": "restored, not reviewed", "unreview": "not reviewed"}


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = int(seconds)
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def dashboard(d: dict[str, Any]) -> str:
    st = d["status"]
    warn = "".join(f'<div class="warn">⚠ {esc(w)}</div>' for w in d["warnings"])
    cams = []
    for c in d["cameras"]:
        thumb = f'<img src="{esc(c["thumb"])}" alt="last minute of {esc(c["id"])}">' if c["thumb"] else \
            '<div class="ph">no minute yet</div>'
        cal = c["calibration"]
        cal_txt = (f'{cal["age"]} old · {cal["rms_px"]:.2f} px rms · {cal["n"]} stars' if cal else
                   "no star fit (uncalibrated model)")
        cams.append(f'<section class="cam{" silent" if c["silent"] else ""}" data-camera="{esc(c["id"])}">'
                    f'<h3>Camera {esc(c["id"])}</h3>{thumb}'
                    f'<p>last minute <b>{esc(c["last_clip"] or "none")}</b> · {esc(age_text(c["age_s"]))}</p>'
                    f'<p class="dim">minutes per hour, last 16 h</p>{bars(c["per_hour"], c["hours"])}'
                    f'<p>calibration: {esc(cal_txt)}</p></section>')
    actors = table(("actor", "state", "inbox", "processed", "failed", "restarts", "last error"),
                   [(a["name"], Raw(f'<span class="st {esc(a["state"])}">{esc(a["state"])}</span>'), a["inbox"],
                     a["processed"], a["failed"], a["restarts"], a["last_error"] or None) for a in st["actors"]],
                   "actors")
    total, used, free = d["disk"]
    counts = d["last_night"]
    summary = kv([
        ("station", st["station"]), ("clock (UTC)", st["now_utc"]), ("store", st["store"]), ("claims", st["claims"]),
        ("disk", f"{_gb(used)} used of {_gb(total)}, {_gb(free)} free"),
        ("sync backlog", f'{d["sync_backlog"]} day(s)'), ("claims held", d["claims_held"]),
        (f"night of {d['last_night_day']}", f'{counts.get("scanned", 0)} minutes scanned, '
                                            f'{counts.get("maybe_meteors", 0)} candidates, '
                                            f'{counts.get("meteors_verified", 0)} meteors'),
    ])
    return (f'{warn}<div class="grid2"><div>{summary}</div><div class="cams">{"".join(cams)}</div></div>'
            f'<h2>Actors</h2>{actors}')


def day_picker(path: str, days: Sequence[str], current: str, extra: str = "") -> str:
    opts = "".join(f'<option{" selected" if x == current else ""}>{esc(x)}</option>' for x in days)
    return (f'<form class="pick" method="get" action="{esc(path)}"><label>day <select name="day">'
            f'{opts}</select></label>{extra}<noscript><button>show</button></noscript>'
            f'</form>')


def meteor_grid(cards: Sequence[MeteorCard], reviews: dict[str, tuple[str, str, str]]) -> str:
    if not cards:
        return '<p class="dim">no meteors</p>'
    out = []
    for c in cards:
        img = f'<img loading="lazy" src="{esc(c.preview)}" alt="meteor {esc(c.meteor_id)}">' if c.preview \
            else PLACEHOLDER
        state = reviews.get(c.meteor_id, ("", "", ""))[0]
        out.append(f'<a class="card {esc(state)}" href="/meteor/{esc(c.day)}/{esc(c.meteor_id)}" '
                   f'data-meteor="{esc(c.meteor_id)}">{img}<span>{esc(c.start_utc[11:19])} · cam {esc(c.camera)} · '
                   f'{c.duration_s:.2f} s{" · ✓" if state == "confirm" else ""}</span></a>')
    return f'<div class="grid">{"".join(out)}</div>'


def night(day: str, days: Sequence[str], cameras: Sequence[str], camera: str, hour: str,
          stacks: dict[str, list[tuple[str, str]]], cards: Sequence[MeteorCard],
          reviews: dict[str, tuple[str, str, str]]) -> str:
    cam_opts = "".join(f'<option value="{esc(c)}"{" selected" if c == camera else ""}>{esc(c) or "all"}</option>'
                       for c in ["", *cameras])
    hour_opts = "".join(f'<option value="{h}"{" selected" if h == hour else ""}>{h or "all"}</option>'
                        for h in ["", *(f"{i:02d}" for i in range(24))])
    extra = (f'<label>camera <select name="camera">{cam_opts}</select></label>'
             f'<label>hour <select name="hour">{hour_opts}</select></label>')
    strips = []
    for cam, items in stacks.items():
        if camera and cam != camera:
            continue
        shown = [(t, u) for t, u in items if not hour or t.startswith(hour)]
        imgs = "".join(f'<figure><img loading="lazy" src="{esc(u)}" alt="{esc(cam)} {esc(t)}"><figcaption>{esc(t)}'
                       f'</figcaption></figure>' for t, u in shown)
        strips.append(f'<h3>Camera {esc(cam)} · {len(shown)} minutes</h3>'
                      f'<div class="strip">{imgs or "<p class=dim>no minutes</p>"}</div>')
    return (day_picker("/night", days, day, extra) + f"<h2>Meteors ({len(cards)})</h2>" + meteor_grid(cards, reviews)
            + "<h2>Minute stacks</h2>" + "".join(strips))


def _review_buttons(day: str, meteor_id: str, state: str) -> str:
    return (f'<div class="review" data-day="{esc(day)}" data-meteor="{esc(meteor_id)}" data-state="{esc(state)}">'
            f'<button class="ok" data-action="confirm" title="confirm (c)">✓ Confirm <kbd>c</kbd></button>'
            f'<button class="bad" data-action="reject" title="reject (x)">✗ Reject <kbd>x</kbd></button>'
            f'<button data-action="undo" title="undo (u)">↶ Undo <kbd>u</kbd></button>'
            f'<span class="msg"></span></div>')


def meteor(card: MeteorCard, video: str | None, hd_video: str | None, stack: str | None,
           events: Sequence[str], state: str, trashed: bool) -> str:
    doc = card.doc
    frames = [f for f in doc.get("frames", []) if isinstance(f, dict)]
    rep: dict[str, Any] = doc["report"] if isinstance(doc.get("report"), dict) else {}
    w, h = _sd_size(frames)
    vid = (f'<video id="trim" controls autoplay muted loop playsinline src="{esc(video)}"></video>' if video else
           '<div class="ph">no trim video</div>')
    hd = f'<p><a href="{esc(hd_video)}">HD trim</a></p><video controls muted src="{esc(hd_video)}" ' \
         f'preload="none"></video>' if hd_video else ""
    dots = "".join(f'<circle cx="{float(f["x"]):.1f}" cy="{float(f["y"]):.1f}" r="3"><title>frame {esc(f["fn"])}'
                   f'</title></circle>' for f in frames if "x" in f and "y" in f)
    over = (f'<div class="overlay"><img src="{esc(stack)}" alt="stack"><svg viewBox="0 0 {w} {h}" '
            f'preserveAspectRatio="none">{dots}</svg></div>') if stack else \
        f'<svg class="track" viewBox="0 0 {w} {h}">{dots}</svg>'
    t0 = _t(frames[0]) if frames else 0.0
    times = [_t(f) - t0 for f in frames]
    light = line_chart(times, [float(f.get("intensity", 0)) for f in frames], "time (s)", "intensity")
    sky = [f for f in frames if "az" in f and "el" in f]
    track = line_chart([float(f["az"]) for f in sky], [float(f["el"]) for f in sky], "azimuth (°)", "elevation (°)") \
        if sky else '<p class="dim">no az/el (no calibration)</p>'
    cal: dict[str, Any] = doc["calibration"] if isinstance(doc.get("calibration"), dict) else {}
    ev = " ".join(f'<a href="/events?event={esc(e)}">{esc(e)}</a>' for e in events) or "not in a multi-station event"
    head = kv([("meteor", card.meteor_id), ("camera", card.camera), ("start (UTC)", card.start_utc),
               ("duration", f"{card.duration_s:.2f} s, {card.frames} frames"), ("SD minute", doc.get("sd_clip")),
               ("HD minute", doc.get("hd_clip")), ("event", Raw(ev)),
               ("review", STATE_WORDS["reject"] if trashed else STATE_WORDS.get(state, state))])
    return (f'<div class="grid2"><div>{vid}{hd}</div><div>{head}{_review_buttons(card.day, card.meteor_id, state)}'
            f'</div></div><div class="grid3"><div><h2>Centroids over the stack</h2>{over}</div>'
            f'<div><h2>Light curve</h2>{light}</div><div><h2>Track (az/el)</h2>{track}</div></div>'
            f'<div class="grid2"><div><h2>Calibration used</h2>{kv(sorted(cal.items()))}</div>'
            f'<div><h2>Why it passed</h2>{kv(sorted((k, _short(v)) for k, v in rep.items()))}</div></div>')


def _short(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 4)
    if isinstance(v, list | dict):
        text = str(v)
        return text if len(text) < 120 else text[:117] + "…"
    return v


def _t(f: dict[str, Any]) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(f["t_utc"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return 0.0


def _sd_size(frames: Sequence[dict[str, Any]]) -> tuple[int, int]:
    xs = [float(f["x"]) for f in frames if "x" in f] or [640.0]
    ys = [float(f["y"]) for f in frames if "y" in f] or [360.0]
    if max(xs) <= 640 and max(ys) <= 360:
        return 640, 360
    return 704, 576 if max(ys) > 360 else 360


def review(day: str, days: Sequence[str], cards: Sequence[MeteorCard], reviews: dict[str, tuple[str, str, str]],
           trash: Sequence[Any], log: Sequence[tuple[str, ...]], can_write: bool) -> str:
    note = "" if can_write else ('<div class="warn">Read-only: set AMS_WEB_TOKEN for the station and '
                                 '<a href="/login">log in</a> to review.</div>')
    items = []
    for i, c in enumerate(cards):
        img = f'<img src="{esc(c.preview)}" alt="meteor {esc(c.meteor_id)}">' if c.preview else PLACEHOLDER
        state = reviews.get(c.meteor_id, ("", "", ""))[0]
        items.append(f'<div class="item{" sel" if i == 0 else ""}" tabindex="0" data-day="{esc(day)}" '
                     f'data-meteor="{esc(c.meteor_id)}" data-state="{esc(state)}">{img}<div><a href="/meteor/'
                     f'{esc(day)}/{esc(c.meteor_id)}">{esc(c.meteor_id)}</a><br>{esc(c.start_utc[11:19])} · cam '
                     f'{esc(c.camera)} · {c.duration_s:.2f} s · <b class="state">'
                     f'{esc(STATE_WORDS.get(state, state))}</b>'
                     f'</div></div>')
    trash_rows = [(t.meteor_id, t.rejected_utc, t.who,
                   Raw(f'<button data-action="restore" data-day="{esc(t.day)}" data-meteor="{esc(t.meteor_id)}">'
                       f'Restore</button>')) for t in trash]
    help_ = ('<p class="dim">keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous · <kbd>c</kbd> confirm · '
             '<kbd>x</kbd> reject · <kbd>u</kbd> undo the last action</p>')
    listing = "".join(items) or '<p class="dim">no meteors</p>'
    return (note + day_picker("/review", days, day) + help_ + f'<div class="reviewlist">{listing}</div>'
            + '<span class="msg" id="msg"></span>'
            + f"<h2>Trash of {esc(day)}</h2>" + (table(("meteor", "rejected (UTC)", "by", ""), trash_rows)
                                                 if trash_rows else '<p class="dim">empty</p>')
            + "<h2>Recent reviews</h2>" + table(("meteor", "day", "action", "who", "when (UTC)"), log))


def ground_track(sol: dict[str, Any], sites: dict[str, tuple[float, float]]) -> str:
    """Stations and the track's begin→end on lat/lon axes (no map tiles: drawn here)."""
    try:
        b, e = sol["begin"], sol["end"]
        pts = [(float(b["lon"]), float(b["lat"])), (float(e["lon"]), float(e["lat"]))]
    except (KeyError, TypeError, ValueError):
        return '<p class="dim">no solved track</p>'
    allp = pts + list(sites.values())
    lons, lats = [p[0] for p in allp], [p[1] for p in allp]
    pad = 0.3
    x0, x1, y0, y1 = min(lons) - pad, max(lons) + pad, min(lats) - pad, max(lats) + pad
    k = math.cos(math.radians((y0 + y1) / 2))
    w = 420
    h = max(160, min(420, int(w * (y1 - y0) / max((x1 - x0) * k, 1e-6))))

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return 10 + (lon - x0) / (x1 - x0) * (w - 20), 10 + (y1 - lat) / (y1 - y0) * (h - 30)

    (bx, by), (ex, ey) = xy(*pts[0]), xy(*pts[1])
    st = "".join(f'<circle class="site" cx="{xy(lo, la)[0]:.1f}" cy="{xy(lo, la)[1]:.1f}" r="5"/>'
                 f'<text x="{xy(lo, la)[0] + 7:.1f}" y="{xy(lo, la)[1] + 4:.1f}">{esc(name)}</text>'
                 for name, (lo, la) in sites.items())
    return (f'<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><rect class="frame" x="10" y="10" '
            f'width="{w - 20}" height="{h - 30}"/>{st}<line class="trk" x1="{bx:.1f}" y1="{by:.1f}" x2="{ex:.1f}" '
            f'y2="{ey:.1f}"/><circle class="beg" cx="{bx:.1f}" cy="{by:.1f}" r="4"/>'
            f'<text x="12" y="{h - 6}">lon {x0:.2f}…{x1:.2f}, lat {y0:.2f}…{y1:.2f}</text></svg>')


def events(rows: Sequence[dict[str, Any]], days: Sequence[str], day: str) -> str:
    if not rows:
        return day_picker("/events", days, day) + '<p class="dim">no events this station is in</p>'
    out = [day_picker("/events", days, day)]
    for r in rows:
        sol = r["solution"] or {}
        radiant: dict[str, Any] = sol["radiant"] if isinstance(sol.get("radiant"), dict) else {}
        orbit: dict[str, Any] = sol["orbit"] if isinstance(sol.get("orbit"), dict) else {}
        facts = kv([
            ("members", ", ".join(f"{s}:{m}" for s, m in r["members"])), ("revision", r["revision"]),
            ("claim", r["claim"].get("state") or r["claim"].get("status") or "not tracked"),
            ("owner", r["claim"].get("owner")), ("epoch", r["claim"].get("epoch")),
            ("solution", sol.get("status", "none yet")),
            ("begin", _place(sol.get("begin"))), ("end", _place(sol.get("end"))),
            ("speed", f'{_num(sol.get("v_init_m_s")) / 1000:.1f} km/s' if _isnum(sol.get("v_init_m_s")) else None),
            ("radiant (RA, Dec)", f'{_num(radiant.get("ra_deg")):.2f}°, {_num(radiant.get("dec_deg")):.2f}°'
             if _isnum(radiant.get("ra_deg")) and _isnum(radiant.get("dec_deg")) else None),
            ("why", sol.get("reason")),
            ("orbit", ", ".join(f"{k} {v:.3g}" for k, v in orbit.items() if isinstance(v, int | float)) or None),
        ])
        plots = "".join(f'<img class="plot" src="{esc(u)}" alt="trajectory plot">' for u in r["plots"])
        prev = "".join(f'<img class="pv" src="{esc(u)}" alt="partner preview">' for u in r["previews"])
        out.append(f'<section class="event" id="{esc(r["event_id"])}"><h2>{esc(r["event_id"])}</h2>'
                   f'<div class="grid2"><div>{facts}</div><div>{ground_track(sol, r["sites"])}</div></div>'
                   f'{plots}{prev}</section>')
    return "".join(out)


def _isnum(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _num(v: Any) -> float:
    return float(v) if _isnum(v) else float("nan")


def _place(p: Any) -> str | None:
    if not isinstance(p, dict):
        return None
    try:
        return f'{float(p["lat"]):.4f}°, {float(p["lon"]):.4f}°, {float(p["alt_m"]) / 1000:.1f} km'
    except (KeyError, TypeError, ValueError):
        return None


def residual_plot(rec: CalibrationRecord, w: int = 420) -> str:
    """Matched stars and their residual vectors (×20) on the image plane."""
    stars = [s for s in rec.stars if isinstance(s, dict) and {"x", "y", "dx", "dy"} <= s.keys()]
    if not stars:
        return '<p class="dim">no star residuals in this fit</p>'
    lens: dict[str, Any] = rec.model["lens"] if isinstance(rec.model.get("lens"), dict) else {}
    iw = float(lens.get("width") or max(float(s["x"]) for s in stars) + 1)
    ih = float(lens.get("height") or max(float(s["y"]) for s in stars) + 1)
    h = int(w * ih / iw)
    f = w / iw
    vec = "".join(f'<circle cx="{float(s["x"]) * f:.1f}" cy="{float(s["y"]) * f:.1f}" r="2"/>'
                  f'<line x1="{float(s["x"]) * f:.1f}" y1="{float(s["y"]) * f:.1f}" '
                  f'x2="{(float(s["x"]) + 20 * float(s["dx"])) * f:.1f}" '
                  f'y2="{(float(s["y"]) + 20 * float(s["dy"])) * f:.1f}"/>' for s in stars)
    return (f'<svg class="chart resid" viewBox="0 0 {w} {h}" width="{w}" height="{h}"><rect class="frame" x="0" y="0" '
            f'width="{w}" height="{h}"/>{vec}<text x="6" y="{h - 6}">{len(stars)} stars, residuals ×20</text></svg>')


def calibration(cams: Sequence[tuple[str, list[CalibrationRecord]]], now_iso: str) -> str:
    out = []
    for cam, recs in cams:
        if not recs:
            out.append(f'<section><h2>Camera {esc(cam)}</h2><div class="warn">no calibration: the uncalibrated model '
                       f'from the config\'s pointing is used</div></section>')
            continue
        hist = table(("stack time (UTC)", "rms px", "rms arcmin", "stars", "usable"),
                     [(r.obs_utc.isoformat(timespec="minutes"), round(r.rms_px, 3), round(r.rms_arcmin, 2),
                       r.n_matched, "yes" if r.usable() else "no") for r in recs])
        out.append(f'<section><h2>Camera {esc(cam)}</h2><div class="grid2"><div>{residual_plot(recs[0])}</div>'
                   f'<div><h3>Fit history</h3>{hist}</div></div></section>')
    return "".join(out)
