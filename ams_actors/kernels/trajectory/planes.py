"""Intersecting planes (Ceplecha 1987): the closed-form first guess and the geometry quality measure.

Each station's lines of sight span a plane through the station; two planes meet in the trajectory.
The angle between the planes (the convergence angle) says how well a pair fixes the line: near 0°
the planes are nearly parallel and the intersection is ill-conditioned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ams_actors.kernels.trajectory.tracks import SolveFailed, Tracks

Float = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Line:
    """A directed 3D line: ``point`` (m) and unit ``direction`` (the way the meteor moves)."""

    point: Float
    direction: Float


@dataclass(frozen=True, slots=True)
class PlanesResult:
    line: Line
    pair: tuple[int, int]  # camera indices of the best pair
    convergence_deg: float  # best pair's convergence angle
    pair_angles: dict[tuple[int, int], float]


def plane_normal(los: Float) -> Float:
    """Unit normal of the plane through the origin that best contains the directions ``los``."""
    # Smallest right singular vector: the direction the lines of sight have least of.
    _, _, vt = np.linalg.svd(los, full_matrices=False)
    return vt[-1]


def intersect(n_a: Float, p_a: Float, n_b: Float, p_b: Float) -> Line:
    """Line common to planes (n_a, through p_a) and (n_b, through p_b)."""
    d = np.cross(n_a, n_b)
    d /= np.linalg.norm(d)
    mid = 0.5 * (p_a + p_b)
    a = np.stack([n_a, n_b, d])
    point = np.linalg.solve(a, np.array([n_a @ p_a, n_b @ p_b, d @ mid]))
    return Line(point, d)


def orient(line: Line, tracks: Tracks) -> Line:
    """Point the direction the way the meteor moved (length along the line grows with time)."""
    s = project_lengths(line, tracks.pos, tracks.los)
    votes = 0
    for c in range(tracks.n_cams):
        sel = tracks.cam == c
        if sel.sum() >= 2:  # each camera votes by its points; a wild camera cannot outvote by magnitude
            votes += int(np.sign(np.polyfit(tracks.t[sel], s[sel], 1)[0])) * int(sel.sum())
    return line if votes >= 0 else Line(line.point, -line.direction)


def project_lengths(line: Line, pos: Float, los: Float) -> Float:
    """Distance along the line of the point closest to each line of sight."""
    w0 = line.point - pos
    b = los @ line.direction
    e = np.sum(los * w0, axis=1)
    dd = w0 @ line.direction
    denom = np.maximum(1.0 - b * b, 1e-12)
    return (b * e - dd) / denom


def intersecting_planes(tracks: Tracks) -> PlanesResult:
    """All camera pairs; the convergence angle reported is the largest pair's."""
    normals = []
    centres = []
    for c in range(tracks.n_cams):
        sel = tracks.cam == c
        normals.append(plane_normal(tracks.los[sel]))
        centres.append(tracks.pos[sel].mean(axis=0))
    angles: dict[tuple[int, int], float] = {}
    for i in range(tracks.n_cams):
        for j in range(i + 1, tracks.n_cams):
            if np.linalg.norm(centres[i] - centres[j]) < 50.0:
                continue  # one viewpoint: planes coincide whatever the meteor did
            cos_q = abs(float(normals[i] @ normals[j]))
            angles[(i, j)] = float(np.degrees(np.arccos(min(cos_q, 1.0))))
    if not angles:
        raise SolveFailed("no pair of stations at different places")
    q_best = max(angles.values())
    if q_best < 1.0:
        raise SolveFailed(
            f"convergence angle {q_best:.2f} deg is under 1 deg: the stations see the meteor edge-on", q_best
        )
    # Among the well-converging pairs, start from the line the *other* stations agree with best:
    # the widest pair alone can include a station that saw something else.
    best: tuple[float, tuple[int, int], Line] | None = None
    for (i, j), q in angles.items():
        if q < 0.5 * q_best:
            continue
        line = intersect(normals[i], centres[i], normals[j], centres[j])
        cost = _robust_cost(line, tracks)
        if best is None or cost < best[0]:
            best = (cost, (i, j), line)
    assert best is not None
    _, pair, line = best
    return PlanesResult(orient(line, tracks), pair, q_best, angles)


def _robust_cost(line: Line, tracks: Tracks) -> float:
    """Median over cameras of each camera's median |cross-track angle| from ``line``."""
    w0 = line.point - tracks.pos
    c = np.cross(w0, line.direction)
    ang = np.abs(np.sum(tracks.los * c, axis=1)) / np.maximum(np.linalg.norm(c, axis=1), 1e-9)
    return float(np.median([np.median(ang[tracks.cam == k]) for k in range(tracks.n_cams)]))
