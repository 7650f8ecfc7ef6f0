"""The station's web page: aiohttp on the station's own event loop, started and stopped by the Station.

Handlers stay light on the loop: file reads and page data run in a worker thread (asyncio.to_thread),
ledger queries on the ledger's own thread, so a page view never delays an actor. Writes (review,
restore) need the token from ``AMS_WEB_TOKEN`` (header ``X-AMS-Token`` or the cookie the login form
sets); without it configured the page is read-only and every write answers 403. Files are served only
from inside the data root (safe_paths.served_file).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import time
from importlib import resources
from typing import Any

from aiohttp import web

from ams_actors.web import data, pages, review
from ams_actors.web.dashboard import Dashboard
from ams_actors.web.html import page
from ams_actors.web.metrics import CONTENT_TYPE, StationMetrics, snapshot
from ams_actors.web.pacing import Pacer
from ams_actors.web.review import ReviewError
from ams_actors.web.safe_paths import served_file, url_of
from ams_actors.web.view import StationView

log = logging.getLogger("ams.web")

TOKEN_ENV = "AMS_WEB_TOKEN"
TOKEN_HEADER = "X-AMS-Token"
TOKEN_COOKIE = "ams_token"
WHO_COOKIE = "ams_who"
_WHO_RE = re.compile(r"[^A-Za-z0-9 _.@-]")
DASHBOARD_MAX_AGE_S = 1.0
CSP = ("default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'")


class WebServer:
    def __init__(self, view: StationView, token: str | None = None) -> None:
        self.view = view
        self.ctx = view.ctx
        self.cfg = view.ctx.config
        self.paths = view.ctx.paths
        self.token = token if token is not None else (os.environ.get(TOKEN_ENV) or None)
        self.metrics = StationMetrics()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._review_lock = asyncio.Lock()
        self._purge: asyncio.Task[None] | None = None
        self.dash = Dashboard(view)
        self.pacer = Pacer(self.cfg.web.max_busy)
        # the day list, and each day's stacks and cards (a year of nights is a few MB: an operator paging
        # back through the year, or a crawler, does not read every meteor file again)
        self._by_stamp = data.StampCache(max_entries=512)
        self._night_bodies = data.StampCache(max_entries=256)
        self._dash_body: tuple[float, str] | None = None  # (time.monotonic() when built, body)

    # -- lifecycle -------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._paced, self._headers], client_max_size=64 * 1024)
        r = app.router
        r.add_get("/", self.dashboard)
        r.add_get("/night", self.night)
        r.add_get("/meteor/{day}/{meteor_id}", self.meteor)
        r.add_get("/review", self.review_page)
        r.add_get("/events", self.events)
        r.add_get("/calibration", self.calibration)
        r.add_get("/metrics", self.metrics_page)
        r.add_get("/files/{rel:.*}", self.files)
        r.add_get("/static/{name}", self.static)
        r.add_get("/login", self.login_page)
        r.add_post("/login", self.login)
        r.add_post("/api/review", self.api_review)
        return app

    async def start(self) -> str:
        """Listen on [web] bind:port; returns the page's URL."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.cfg.web.bind, self.cfg.web.port)
        await site.start()
        port = self.cfg.web.port
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            port = server.sockets[0].getsockname()[1]
        host = self.cfg.web.bind if ":" not in self.cfg.web.bind else f"[{self.cfg.web.bind}]"
        self.url = f"http://{host}:{port}/"
        self._purge = asyncio.create_task(self._purge_loop(), name="web-trash-purge")
        return self.url

    async def stop(self) -> None:
        if self._purge is not None:
            self._purge.cancel()
            await asyncio.wait({self._purge})
            self._purge = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _purge_loop(self) -> None:
        """Delete trash older than [web] trash_days, at start and hourly (station clock)."""
        while True:
            try:
                gone = await asyncio.to_thread(review.purge, self.paths, self.cfg.web.trash_days, self.ctx.clock.now())
                if gone:
                    log.info("trash: deleted %d meteor(s) rejected more than %d days ago", len(gone),
                             self.cfg.web.trash_days)
            except OSError as err:
                log.warning("trash purge failed: %s", err)
            await self.ctx.clock.sleep(3600.0)

    # -- plumbing --------------------------------------------------------------------------------
    @web.middleware
    async def _headers(self, request: web.Request, handler: Any) -> web.StreamResponse:
        resp: web.StreamResponse = await handler(request)
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        return resp

    @web.middleware
    async def _paced(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Pages, metrics and writes share the page's time budget; a page's images and scripts (sent by
        the kernel from the file, next to no CPU) do not, so a page never loads half its pictures. A page
        is sent inside the budget too: writing it to the socket costs as much CPU as building a small one."""
        if request.path.startswith(("/files/", "/static/")):
            return await handler(request)

        async def build_and_send() -> web.StreamResponse:
            resp: web.StreamResponse = await handler(request)  # the headers middleware ran inside
            if isinstance(resp, web.Response) and not resp.prepared:
                await resp.prepare(request)
                await resp.write_eof()
            return resp
        return await self.pacer.run(build_and_send)

    def can_write(self, request: web.Request) -> bool:
        if not self.token:
            return False
        sent = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE) or ""
        return hmac.compare_digest(sent.encode(), self.token.encode())

    @staticmethod
    def who(request: web.Request) -> str:
        raw = request.headers.get("X-AMS-User") or request.cookies.get(WHO_COOKIE) or "operator"
        return _WHO_RE.sub("", raw)[:32] or "operator"

    def html(self, request: web.Request, title: str, body: str, active: str) -> web.Response:
        text = page(title, self.cfg.station_id, body, active, self.can_write(request), self.who(request))
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    def _day(self, request: web.Request, days: list[str]) -> str:
        day = request.query.get("day", "")
        if day:
            try:
                review.check_ids(day, "x")
            except ReviewError as err:
                raise web.HTTPBadRequest(text=str(err)) from None
            return day
        return days[0] if days else self.ctx.clock.now().strftime("%Y_%m_%d")

    # -- pages -----------------------------------------------------------------------------------
    async def dashboard(self, request: web.Request) -> web.Response:
        """Rebuilt at most once every DASHBOARD_MAX_AGE_S: its figures move with every minute scanned, and a
        tab reloading in a loop should cost a lookup, not a dozen ledger queries, each time."""
        now = time.monotonic()
        if self._dash_body is None or now - self._dash_body[0] >= DASHBOARD_MAX_AGE_S:
            self._dash_body = (now, pages.dashboard(await self.dash.data()))
        return self.html(request, "Dashboard", self._dash_body[1], "/")

    async def night(self, request: web.Request) -> web.Response:
        days = await self.days_with_data()
        day = self._day(request, days)
        camera = request.query.get("camera", "")
        hour = request.query.get("hour", "")
        cams = [c.id for c in self.cfg.cameras]
        if camera not in ("", *cams) or hour not in ("", *(f"{i:02d}" for i in range(24))):
            raise web.HTTPBadRequest(text="unknown camera or hour")
        stamp, (stacks, cards) = await self.night_data(day)
        reviews = await self.ctx.ledger.review_states(day) if self.ctx.ledger else {}
        # the body depends only on these: a night looked at again costs a dictionary lookup, not ~10 ms of
        # HTML for its cards (the page's CPU is paced, so a cheaper page is a faster page under load)
        key = (day, camera, hour, stamp, tuple(days), tuple(sorted(reviews.items())))
        shown = [c for c in cards if (not camera or c.camera == camera) and (not hour or c.hour == int(hour))]
        _, body = self._night_bodies.get(  # no folders: the key says everything the body depends on
            key, (), lambda: pages.night(day, days, cams, camera, hour, stacks, shown, reviews))
        return self.html(request, f"Night of {day}", body, "/night")

    async def days_with_data(self) -> list[str]:
        """The day picker's days, listed again only when a day folder was added or removed."""
        return (await asyncio.to_thread(self._by_stamp.get, "days", data.day_bases(self.paths),
                                        lambda: data.days_with_data(self.paths)))[1]

    async def night_data(self, day: str) -> tuple[tuple[int, ...], tuple[dict[str, list[tuple[str, str]]],
                                                                         list[data.MeteorCard]]]:
        """(its folders' stamp, (a day's minute stacks, its meteor cards)), re-read only when one of its
        folders changed: a past night costs three stats."""
        cams = [c.id for c in self.cfg.cameras]
        folders = (self.paths.meteors_dir(day), self.paths.archive_meteor(day, "x").parent, self.paths.images_dir(day))
        return await asyncio.to_thread(
            self._by_stamp.get, ("night", day), folders,
            lambda: (data.minute_stacks(self.paths, day, cams), data.night_meteors(self.paths, day)))

    async def meteor(self, request: web.Request) -> web.Response:
        day, mid = request.match_info["day"], request.match_info["meteor_id"]
        try:
            review.check_ids(day, mid)
        except ReviewError as err:
            raise web.HTTPNotFound(text=str(err)) from None

        def gather() -> tuple[Any, ...]:
            doc = review.read_meteor(self.paths, day, mid)
            if doc is None:
                return (None,)
            card = data.card_of(self.paths, day, doc)
            folder = self.paths.meteors_dir(day)

            def url(name: Any) -> str | None:
                if not isinstance(name, str) or "/" in name:
                    return None
                p = folder / name
                return url_of(self.paths.root, p) if p.is_file() else None

            stack = url(f"{mid}.png") or (card.frame_preview if card else None)
            events = data.events_of_meteor(self.paths, self.cfg.station_id, day, mid)
            trashed = not self.paths.archive_meteor(day, mid).exists()
            return card, url(doc.get("sd_trim")), url(doc.get("hd_trim")), stack, events, trashed

        got = await asyncio.to_thread(gather)
        if got[0] is None:
            raise web.HTTPNotFound(text=f"no meteor {mid} on {day}")
        card, video, hd, stack, events, trashed = got
        state = (await self.ctx.ledger.review_states(day)).get(mid, ("",))[0] if self.ctx.ledger else ""
        body = pages.meteor(card, video, hd, stack, events, state, trashed)
        return self.html(request, f"Meteor {mid}", body, "/night")

    async def review_page(self, request: web.Request) -> web.Response:
        days = await self.days_with_data()
        day = self._day(request, days)
        _stamp, (_stacks, cards) = await self.night_data(day)
        trash = await asyncio.to_thread(review.trashed, self.paths, day)
        ledger = self.ctx.ledger
        reviews = await ledger.review_states(day) if ledger else {}
        rlog = await ledger.review_log(20) if ledger else []
        body = pages.review(day, days, cards, reviews, trash, rlog, self.can_write(request))
        return self.html(request, f"Review {day}", body, "/review")

    async def events(self, request: web.Request) -> web.Response:
        from ams_actors.store.events_tree import event_folder_day, local_events

        wanted = request.query.get("event", "")
        days = await asyncio.to_thread(data.event_days, self.paths)
        if wanted:
            try:
                day = event_folder_day(wanted)
            except ValueError:  # InvalidId, InvalidKey, an impossible date
                raise web.HTTPNotFound(text="not an event id") from None
        else:
            day = self._day(request, days)
        claims = {r["event_id"]: r for part in self.view.claims().values() if isinstance(part, list) for r in part}
        sites = {self.cfg.station_id: (self.cfg.station.lon, self.cfg.station.lat)}

        def gather() -> list[dict[str, Any]]:
            rows = []
            for ev in local_events(self.paths, day):
                if wanted and ev.event_id != wanted:
                    continue
                sol, plots = data.event_files(self.paths, day, ev.event_id)
                obs = data.read_json(self.paths.events_dir(day) / ev.event_id / "obs.json") or {}
                ev_sites = dict(sites)
                for o in obs.get("observations", []) if isinstance(obs.get("observations"), list) else []:
                    try:
                        ev_sites[str(o["station_id"])] = (float(o["lon"]), float(o["lat"]))
                    except (KeyError, TypeError, ValueError):
                        continue
                rows.append({"event_id": ev.event_id, "revision": ev.revision,
                             "members": [(m.station_id, m.meteor_id) for m in ev.members],
                             "claim": claims.get(ev.event_id, {}), "solution": sol, "plots": plots,
                             "previews": data.partner_previews(self.paths, day, ev.event_id), "sites": ev_sites})
            return rows

        rows = await asyncio.to_thread(gather)
        return self.html(request, f"Events of {day}", pages.events(rows, days, day), "/events")

    async def calibration(self, request: web.Request) -> web.Response:
        cams = await asyncio.to_thread(
            lambda: [(c.id, data.calibration_records(self.cfg, c.id)) for c in self.cfg.cameras])
        return self.html(request, "Calibration", pages.calibration(cams, self.ctx.clock.now().isoformat()),
                         "/calibration")

    # -- metrics ---------------------------------------------------------------------------------
    async def metrics_page(self, request: web.Request) -> web.Response:
        snap = await snapshot(self.view, self.metrics.counts)
        snap.web_held_back_s = self.pacer.waited_s
        body = self.metrics.render(snap)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    # -- files -----------------------------------------------------------------------------------
    async def files(self, request: web.Request) -> web.StreamResponse:
        path = await asyncio.to_thread(served_file, self.paths.root, request.match_info["rel"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "private, max-age=60"})

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        types = {"app.js": "application/javascript", "style.css": "text/css"}
        if name not in types:
            raise web.HTTPNotFound()
        text = resources.files("ams_actors.web").joinpath("static", name).read_text(encoding="utf-8")
        return web.Response(text=text, content_type=types[name], headers={"Cache-Control": "max-age=300"})

    # -- writes ----------------------------------------------------------------------------------
    async def login_page(self, request: web.Request) -> web.Response:
        note = "" if self.token else ('<div class="warn">This station has no AMS_WEB_TOKEN: the page is '
                                      'read-only.</div>')
        body = (f'{note}<form class="login" method="post" action="/login"><label>name <input name="who" '
                f'autocomplete="username" value="operator"></label><label>token <input name="token" type="password" '
                f'autocomplete="current-password"></label><button>Log in</button></form>')
        return self.html(request, "Log in", body, "")

    async def login(self, request: web.Request) -> web.Response:
        form = await request.post()
        token = str(form.get("token", ""))
        if not self.token or not hmac.compare_digest(token.encode(), self.token.encode()):
            raise web.HTTPForbidden(text="wrong token (or the station has no AMS_WEB_TOKEN)")
        resp = web.HTTPSeeOther("/review")
        resp.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        resp.set_cookie(WHO_COOKIE, _WHO_RE.sub("", str(form.get("who", "operator")))[:32] or "operator",
                        samesite="Strict")
        raise resp

    async def api_review(self, request: web.Request) -> web.Response:
        """POST {day, meteor, action: confirm|reject|restore|unreview} (JSON or form)."""
        if not self.can_write(request):
            raise web.HTTPForbidden(text="reviewing needs the station's AMS_WEB_TOKEN")
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise web.HTTPBadRequest(text="body is not JSON") from None
        else:
            body = dict(await request.post())
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="body must be an object")
        day, mid, action = str(body.get("day", "")), str(body.get("meteor", "")), str(body.get("action", ""))
        try:
            state = await self.apply_review(day, mid, action, self.who(request))
        except ReviewError as err:
            return web.json_response({"ok": False, "error": str(err)}, status=409)
        return web.json_response({"ok": True, "meteor": mid, "day": day, "state": state})

    async def apply_review(self, day: str, mid: str, action: str, who: str) -> str:
        review.check_ids(day, mid)
        ledger = self.ctx.ledger
        if ledger is None:
            raise ReviewError("the station's ledger is not open")
        now = self.ctx.clock.now().isoformat(timespec="seconds")
        async with self._review_lock:
            if action in ("reject", "restore"):
                # marked before and after the move: a crash in between still leaves the day to rebuild
                await ledger.mark_index_day(day)
                if action == "reject":
                    await asyncio.to_thread(review.reject, self.paths, day, mid, who, now)
                else:
                    await asyncio.to_thread(review.restore, self.paths, day, mid)
                await ledger.mark_index_day(day)
                await ledger.add_review(mid, day, action, who, now)
                log.info("meteor %s of %s: %s by %s", mid, day, "rejected" if action == "reject" else "restored",
                         who)
                await self.view.reindex(day)
            elif action in ("confirm", "unreview"):
                if not await asyncio.to_thread(self.paths.archive_meteor(day, mid).is_file):
                    raise ReviewError(f"{mid} is not in the archive of {day}")
                await ledger.add_review(mid, day, action, who, now)
            else:
                raise ReviewError(f"unknown action {action!r} (confirm, reject, restore, unreview)")
        return action
