"""The Verifier's last step: accepted meteors that are pieces of one object become one meteor.

The Detector can hand over one meteor as several objects: a saturated bolide's scan peaks wander over its
clipped plateau and bloom, so two or three tracks run along it side by side; a faint or flaring stretch cuts
a track in two. Each is measured on its own and each is accepted, and reported alone they are false meteors
(the same light twice) or a meteor in halves. Whether two pieces are one object is decided by the same rule
the Detector joins its track pieces with (``kernels.track_pieces``), on the measured centroids here. A piece
that reaches beyond the meteor it belongs to is verified again with both pieces' detections, so the record
spans the whole flight; a piece inside it (or a merged measurement that fails) is folded in as it is. The
piece's outcome says which meteor it went into and why, as any rejection does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ams_actors.kernels.track_pieces import Piece, one_object
from ams_actors.kernels.verify_measure import VerifyParams


@dataclass(slots=True)
class VerifyOutcome:
    """Result for one object: ``meteor`` (the §7 record) when accepted, else ``reason``."""

    oid: int
    accepted: bool
    reason: str | None
    report: dict[str, Any]
    trim: tuple[int, int]
    meteor: dict[str, Any] | None = None


def merge_pieces(outcomes: list[VerifyOutcome], objects: dict[int, dict[str, Any]],
                 reverify: Callable[[dict[str, Any]], VerifyOutcome], prm: VerifyParams) -> list[VerifyOutcome]:
    """``outcomes`` with the pieces of one meteor merged (longest measurement first). ``objects``: the detect
    objects by oid; ``reverify``: verify_object for a merged detect object."""
    objects = dict(objects)
    order = sorted((o for o in outcomes if o.accepted and o.meteor),
                   key=lambda o: -len(o.meteor["frames"]))  # type: ignore[index]
    kept: list[VerifyOutcome] = []
    replaced: dict[int, VerifyOutcome] = {}  # oid → the merged outcome standing in for it
    for o in order:
        for n, k in enumerate(kept):
            why = _one_meteor(k, o, prm)
            if why is None:
                continue
            oids = [*k.report.get("merged_oids", [k.oid]), o.oid]
            if _reaches_beyond(o, k):
                union = _union(objects[k.oid], objects[o.oid])
                merged = reverify(union)
                if merged.accepted and merged.meteor is not None:
                    objects[k.oid] = union  # a third piece is merged with both
                    replaced[k.oid] = kept[n] = k = merged
            k.report["merged_oids"] = oids  # the record says which objects it is made of
            k.meteor["report"]["merged_oids"] = oids  # type: ignore[index]
            o.accepted, o.meteor = False, None
            o.reason = f"one meteor with object {k.oid} ({why})"
            break
        else:
            kept.append(o)
    return [replaced.get(o.oid, o) for o in outcomes]


def _piece(o: VerifyOutcome) -> Piece:
    fr = o.meteor["frames"]  # type: ignore[index]
    return Piece.of([f["fn"] for f in fr], [f["x"] for f in fr], [f["y"] for f in fr])


def _one_meteor(k: VerifyOutcome, o: VerifyOutcome, prm: VerifyParams) -> str | None:
    """Why ``o`` is a piece of ``k``. Each measured frame is within the off-motion tolerance of the true
    motion, so two measurements of one object may differ by twice it."""
    scale = float(k.report.get("px_per_ref_px", 1.0))
    return one_object(_piece(k), _piece(o), tol_px=2.0 * prm.off_motion_px * scale, tol_speed=0.2,
                      max_gap=prm.join_gap_frames, speed_ratio=prm.join_speed_ratio)


def _reaches_beyond(o: VerifyOutcome, k: VerifyOutcome) -> bool:
    fo, fk = o.meteor["frames"], k.meteor["frames"]  # type: ignore[index]
    return bool(fo[0]["fn"] < fk[0]["fn"] or fo[-1]["fn"] > fk[-1]["fn"])


def _union(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """One detect object of both pieces' detections (``a``'s point where both have one), with ``a``'s oid."""
    pts = {fn: (x, y) for fn, x, y in zip(b["fns"], b["xs"], b["ys"], strict=True)}
    pts.update({fn: (x, y) for fn, x, y in zip(a["fns"], a["xs"], a["ys"], strict=True)})
    fns = sorted(pts)
    rest = {k: v for k, v in a.items() if k != "vals"}  # per-point values of a alone: not the union's
    return {**rest, "fns": fns, "xs": [pts[f][0] for f in fns], "ys": [pts[f][1] for f in fns]}
