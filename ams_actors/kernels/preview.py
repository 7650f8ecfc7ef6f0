"""Detection previews (the old ``bmpi``): what an operator looks at to keep or throw out a meteor.

Two JPEGs per verified meteor, both drawn from the max-pixel stack of its SD trim:

- the *crop*: the stack around the track, scaled to ``CROP_WIDTH`` px, every measured centroid drawn
  (a meteor is a few dozen pixels long on a 640 px frame: at full-frame size nobody can judge it);
- the *frame*: the whole field at most ``FRAME_WIDTH`` px wide with the track marked, to see where in
  the sky it was and what else was there (a plane's lights, the moon, a cloud edge).

Pure drawing on arrays; :func:`stack_clip` is the only function that reads (a trim through the
shared decoder), so a pool worker can call everything here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.video import ClipUnreadable, iter_y

U8 = NDArray[np.uint8]

CROP_WIDTH = 400
FRAME_WIDTH = 640
CROP_MARGIN_PX = 24  # SD pixels around the track's bounding box
CROP_MIN_PX = 64  # a short track still gets some sky around it
JPEG_QUALITY = 85
TRACK_BGR = (0, 200, 255)
START_BGR = (0, 255, 0)


@dataclass(frozen=True, slots=True)
class Previews:
    crop: bytes
    frame: bytes
    crop_box: tuple[int, int, int, int]  # x0, y0, x1, y1 in SD pixels (what the crop shows)


def stack_clip(path: str | Path) -> U8:
    """The max-pixel stack of every frame of ``path`` (the trim: the meteor ± its padding)."""
    stack: U8 | None = None
    for _fn, y in iter_y(path):
        if stack is None:
            stack = y.copy()
        else:
            cv2.max(stack, y, dst=stack)
    if stack is None:
        raise ClipUnreadable(path, "no frames to stack")
    return stack


def crop_box(xy: Sequence[tuple[float, float]], width: int, height: int) -> tuple[int, int, int, int]:
    """The track's bounding box plus a margin, at least CROP_MIN_PX square, inside the frame."""
    xs = [p[0] for p in xy]
    ys = [p[1] for p in xy]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half_w = max((max(xs) - min(xs)) / 2 + CROP_MARGIN_PX, CROP_MIN_PX / 2)
    half_h = max((max(ys) - min(ys)) / 2 + CROP_MARGIN_PX, CROP_MIN_PX / 2)
    x0, x1 = _span(cx, half_w, width)
    y0, y1 = _span(cy, half_h, height)
    return x0, y0, x1, y1


def _span(centre: float, half: float, limit: int) -> tuple[int, int]:
    """[lo, hi) of length 2*half around centre, shifted (not shrunk) to stay inside [0, limit)."""
    size = min(limit, max(1, int(round(2 * half))))
    lo = int(round(centre - size / 2))
    lo = min(max(lo, 0), limit - size)
    return lo, lo + size


def _jpeg(img: U8) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())


def _scaled(gray: U8, width: int) -> tuple[U8, float]:
    """``gray`` as BGR at ``width`` px wide (never wider than asked), and the scale used."""
    h, w = gray.shape[:2]
    scale = width / w
    size = (width, max(1, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    img: U8 = cv2.cvtColor(cv2.resize(gray, size, interpolation=interp), cv2.COLOR_GRAY2BGR).astype(np.uint8)
    return img, scale


def stretch(gray: U8, xy: Sequence[tuple[float, float]]) -> U8:
    """Sky background (the median) to black and the meteor (its brighter centroids) to white: a faint
    streak on a grey sky shows; stars and the head of a bright one saturate, which is fine."""
    h, w = gray.shape[:2]
    on_track = [gray[min(h - 1, max(0, int(round(y)))), min(w - 1, max(0, int(round(x))))] for x, y in xy]
    lo = float(np.median(gray))
    hi = max(float(np.percentile(on_track, 90.0)), lo + 16.0)
    out = (gray.astype(np.float32) - lo) * (255.0 / (hi - lo))
    return np.clip(out, 0, 255).astype(np.uint8)


def draw_crop(stack: U8, xy: Sequence[tuple[float, float]], box: tuple[int, int, int, int],
              width: int = CROP_WIDTH) -> U8:
    """The crop of ``stack`` scaled to ``width``, each centroid a tick beside the track (the first one
    green): marks drawn on the track itself would hide the streak the operator has to judge."""
    x0, y0, x1, y1 = box
    img, s = _scaled(stretch(stack[y0:y1, x0:x1], [(x - x0, y - y0) for x, y in xy]), width)
    pts = np.array([((x - x0 + 0.5) * s, (y - y0 + 0.5) * s) for x, y in xy], np.float64)
    along = pts[-1] - pts[0]
    norm = float(np.hypot(*along))
    normal = np.array([-along[1], along[0]]) / norm if norm > 0 else np.array([0.0, -1.0])
    gap, length = max(4.0, 3.0 * s), max(5.0, 4.0 * s)
    for i, p in enumerate(pts):
        a, b = p + gap * normal, p + (gap + length) * normal
        cv2.line(img, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))),
                 START_BGR if i == 0 else TRACK_BGR, 1, cv2.LINE_AA)
    return img


def draw_frame(stack: U8, xy: Sequence[tuple[float, float]], box: tuple[int, int, int, int],
               width: int = FRAME_WIDTH) -> U8:
    """The whole stack at most ``width`` wide, the crop's box around the track and an arrow beside it
    from the first centroid to the last (the direction of flight)."""
    w = stack.shape[1]
    img, s = _scaled(stack, min(width, w))
    (xa, ya), (xb, yb) = xy[0], xy[-1]
    along = np.array([xb - xa, yb - ya], np.float64)
    norm = float(np.hypot(*along))
    off = (np.array([-along[1], along[0]]) / norm if norm > 0 else np.zeros(2)) * 6.0
    a = (int(round((xa + 0.5) * s + off[0])), int(round((ya + 0.5) * s + off[1])))
    b = (int(round((xb + 0.5) * s + off[0])), int(round((yb + 0.5) * s + off[1])))
    cv2.arrowedLine(img, a, b, TRACK_BGR, 1, cv2.LINE_AA, tipLength=min(0.3, 8.0 / max(norm * s, 1.0)))
    x0, y0, x1, y1 = box
    cv2.rectangle(img, (int(x0 * s), int(y0 * s)), (int(x1 * s) - 1, int(y1 * s) - 1), START_BGR, 1)
    return img


def render_previews(stack: U8, xy: Sequence[tuple[float, float]]) -> Previews:
    """Both JPEGs of one meteor from its stack and its measured centroids (SD pixels)."""
    if len(xy) == 0:
        raise ValueError("a meteor without centroids has no preview")
    h, w = stack.shape[:2]
    box = crop_box(xy, w, h)
    return Previews(crop=_jpeg(draw_crop(stack, xy, box)), frame=_jpeg(draw_frame(stack, xy, box)), crop_box=box)

