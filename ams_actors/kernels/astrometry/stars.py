"""Star detection in a minute stack: sub-pixel centroids and brightness.

A max-pixel stack has a lumpy background (sky glow, vignetting, city light) and star images a pixel
or two wide, slightly trailed. So: subtract a large median background, threshold the matched-filtered
residual at k·σ (σ from the MAD, robust to the stars themselves), and centroid each blob with an
iterated Gaussian-windowed first moment, which is unbiased for a symmetric PSF and insensitive to the
neighbouring noise that drags a plain centroid. Elongated blobs (planes, meteors, satellites) and blobs
touching the border or the mask are dropped, and so are single lit pixels (hot pixels): a wrong star
costs more than a missing one.

Pixel convention: the centre of pixel [row i, column j] is (x, y) = (j, i).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

Float = NDArray[np.float64]


@dataclass(frozen=True)
class DetectedStars:
    """Detections sorted by decreasing flux."""

    x: Float
    y: Float
    flux: Float  # background-subtracted sum in the aperture (DN)
    peak: Float  # highest background-subtracted pixel (DN)
    snr: Float
    noise_dn: float

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: NDArray[np.intp]) -> DetectedStars:
        return DetectedStars(self.x[idx], self.y[idx], self.flux[idx], self.peak[idx], self.snr[idx], self.noise_dn)


def background(image: ArrayLike, box: int = 31) -> Float:
    """Smooth sky background: median in a large box (on a 2× reduced image, for speed)."""
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape
    small = cv2.resize(img, (max(w // 2, 1), max(h // 2, 1)), interpolation=cv2.INTER_AREA)
    k = max(3, (box // 2) | 1)
    # cv2.medianBlur supports large kernels only for uint8; scale into 0..255 losslessly enough
    lo, hi = float(small.min()), float(small.max())
    span = max(hi - lo, 1e-6)
    q = np.clip(np.rint((small - lo) / span * 255.0), 0, 255).astype(np.uint8)
    med = cv2.medianBlur(q, k).astype(np.float32) / 255.0 * span + lo
    return cv2.resize(med, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float64)


def detect_stars(
    image: ArrayLike,
    mask: ArrayLike | None = None,
    k_sigma: float = 5.0,
    max_area: int = 150,
    max_elongation: float = 2.5,
    window_sigma: float = 1.2,
    aperture_px: float = 3.0,
    border_px: int = 3,
    max_stars: int = 2000,
    max_sharpness: float = 0.75,
) -> DetectedStars:
    """Stars in a grey stack (2-D array). ``mask``: True/nonzero where pixels must be ignored."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3:
        img = img.mean(axis=2)
    h, w = img.shape
    resid = img - background(img)
    ignore = np.zeros((h, w), dtype=bool) if mask is None else np.asarray(mask).astype(bool)
    good = resid[~ignore]
    noise = float(1.4826 * np.median(np.abs(good - np.median(good)))) if good.size else 1.0
    noise = max(noise, 0.5)
    smooth = cv2.GaussianBlur(resid.astype(np.float32), (0, 0), 1.0).astype(np.float64)
    # noise of the smoothed image: a unit-σ Gaussian kernel divides white noise by 2·√π
    thr = k_sigma * noise / (2.0 * np.sqrt(np.pi))
    binary = ((smooth > thr) & ~ignore).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    xs: list[float] = []
    ys: list[float] = []
    fl: list[float] = []
    pk: list[float] = []
    yy, xx = np.mgrid[-6:7, -6:7]
    for lab in range(1, n):
        x0, y0, bw, bh, area = (int(v) for v in stats[lab])
        if area > max_area or x0 < border_px or y0 < border_px:
            continue
        if x0 + bw > w - border_px or y0 + bh > h - border_px:
            continue
        sub = smooth[y0 : y0 + bh, x0 : x0 + bw] * (labels[y0 : y0 + bh, x0 : x0 + bw] == lab)
        iy, ix = np.unravel_index(int(np.argmax(sub)), sub.shape)
        cx, cy = float(x0 + ix), float(y0 + iy)
        ok = True
        for _ in range(12):
            jc, ic = int(round(cx)), int(round(cy))
            if jc - 6 < 0 or ic - 6 < 0 or jc + 7 > w or ic + 7 > h:
                ok = False
                break
            stamp = np.maximum(resid[ic - 6 : ic + 7, jc - 6 : jc + 7], 0.0)
            gx, gy = xx + jc, yy + ic
            wgt = stamp * np.exp(-0.5 * ((gx - cx) ** 2 + (gy - cy) ** 2) / window_sigma**2)
            s = wgt.sum()
            if s <= 0:
                ok = False
                break
            nx, ny = float((wgt * gx).sum() / s), float((wgt * gy).sum() / s)
            # a windowed centroid converges to ~1/2 of the true offset per step without this factor
            nx, ny = cx + 2.0 * (nx - cx), cy + 2.0 * (ny - cy)
            done = abs(nx - cx) < 1e-3 and abs(ny - cy) < 1e-3
            cx, cy = nx, ny
            if done:
                break
        jc, ic = int(round(cx)), int(round(cy))
        # the last centroid step may have left the frame's 6-px margin (a star at the edge): no full stamp
        if not ok or jc - 6 < 0 or ic - 6 < 0 or jc + 7 > w or ic + 7 > h:
            continue
        stamp = resid[ic - 6 : ic + 7, jc - 6 : jc + 7]
        gx, gy = xx + jc, yy + ic
        ap = (gx - cx) ** 2 + (gy - cy) ** 2 <= aperture_px**2
        flux = float(stamp[ap].sum())
        pos = np.maximum(stamp * ap, 0.0)
        m = pos.sum()
        if m <= 0 or flux <= 0:
            continue
        # elongation from second moments (trails, planes, meteors)
        mxx = float((pos * (gx - cx) ** 2).sum() / m)
        myy = float((pos * (gy - cy) ** 2).sum() / m)
        mxy = float((pos * (gx - cx) * (gy - cy)).sum() / m)
        tr, det = mxx + myy, mxx * myy - mxy * mxy
        disc = np.sqrt(max(tr * tr / 4 - det, 0.0))
        l1, l2 = tr / 2 + disc, max(tr / 2 - disc, 1e-6)
        if np.sqrt(l1 / l2) > max_elongation and area > 6:
            continue
        if float(stamp.max()) > max_sharpness * flux:
            continue  # one lit pixel, no PSF around it: a hot pixel or a cosmic ray
        xs.append(cx)
        ys.append(cy)
        fl.append(flux)
        pk.append(float(stamp.max()))
    flux_a = np.asarray(fl, dtype=float)
    order = np.argsort(-flux_a)[:max_stars]
    n_ap = np.pi * aperture_px**2
    return DetectedStars(
        x=np.asarray(xs, dtype=float)[order],
        y=np.asarray(ys, dtype=float)[order],
        flux=flux_a[order],
        peak=np.asarray(pk, dtype=float)[order],
        snr=flux_a[order] / (noise * np.sqrt(n_ap)),
        noise_dn=noise,
    )
