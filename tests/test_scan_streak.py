"""The scan's streak stage on hand-made binned difference frames: what skipping a steady light's blocks keeps."""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import connected_components

from ams_actors.kernels.scan_streak import STEADY_PX, StreakGate, _components, clear_steady, frame_streaks, width_factor

LOW, THRESH, B = 5, 9, 2  # low threshold, point threshold (DN) and binning, as a quiet clip has them


def _frame(light: bool, streak: bool) -> np.ndarray:
    """A 320×180 binned difference frame: a steady light's blob at binned (100, 54) and/or a faint 16-px streak two
    empty rows below it (y 58, x 92-107: apart from the blob for the grouping's 2.3 px link), whose 4×4 blocks in
    x 96-103 are the ones the light's reach covers."""
    d = np.zeros((180, 320), np.uint8)
    if light:
        d[53:56, 99:102] = 15
        d[54, 100] = 40
    if streak:
        d[58, 92:108] = 9  # every pixel under the point threshold; the line's sum over √16 is 36
    return d


def _sd(binned: float) -> float:
    return (binned + 0.5) * B - 0.5


LIGHT_SD = [_sd(100), _sd(54), 40.0]


def test_a_streak_beside_a_steady_light_is_kept_with_its_blocks_cleared() -> None:
    gate = StreakGate(180, 320)
    assert gate.passes(_frame(True, True), LOW)
    before = gate.small.copy()
    ref = frame_streaks(before.copy(), gate.low, _frame(True, True), THRESH, B, min_px=4)
    assert len(ref) == 1 and abs(ref[0][0] - _sd(99.5)) < 0.01 and abs(ref[0][1] - _sd(58)) < 0.01, ref
    # the light was a point peak two frames before too: steady; its blocks, two of them on the streak, are cleared
    assert clear_steady(gate.small, [LIGHT_SD], [[LIGHT_SD[0] + 1.0, LIGHT_SD[1], 38.0]], B)
    cleared = (before >= StreakGate.GATE) & (gate.small == 0)
    assert cleared[13, 24] and cleared[13, 25] and cleared[14, 24] and cleared[14, 25], np.argwhere(cleared)
    assert gate.small[14, 23] >= StreakGate.GATE and gate.small[14, 26] >= StreakGate.GATE
    # the streak's other blocks keep it whole: the same peak as with nothing cleared
    assert frame_streaks(gate.small, gate.low, _frame(True, True), THRESH, B, min_px=4) == ref


def test_a_steady_light_alone_skips_the_grouping_and_a_mover_does_not() -> None:
    gate = StreakGate(180, 320)
    assert gate.passes(_frame(True, False), LOW)
    small = gate.small.copy()
    assert not clear_steady(gate.small, [LIGHT_SD], [LIGHT_SD], B)  # nothing left to group
    # a point peak 16 px away two frames before (a meteor: its streak's length or more per frame) is not steady
    gate.small[...] = small
    assert clear_steady(gate.small, [LIGHT_SD], [[LIGHT_SD[0] - 16.0, LIGHT_SD[1], 40.0]], B)
    assert np.array_equal(gate.small, small)


def test_steady_means_the_same_angle_at_1920_px() -> None:
    """A plane's light (≤ ~1.5 px/frame at 640 px, plus the binned peak's ±1 px) stands ≤ 4 px from its peak two
    frames before at 640 px wide, under ``STEADY_PX``; through the same 90° lens at 1920 px that is 12 px. The scan
    scales ``STEADY_PX`` by ``width_factor`` (3 there), so the light is steady at 1920 px as at 640; a 704×576 SD
    frame keeps the 640-px lengths (its vals stay as they were)."""
    assert [width_factor(w) for w in (640, 704, 1280, 1920)] == [1, 1, 2, 3]
    gate = StreakGate(180, 320)
    assert gate.passes(_frame(True, False), LOW)
    before = [[LIGHT_SD[0] - 12.0, LIGHT_SD[1], 40.0]]
    assert clear_steady(gate.small, [LIGHT_SD], before, B)  # 640 px's 5 px: not steady, nothing cleared
    assert not clear_steady(gate.small, [LIGHT_SD], before, B, steady_px=STEADY_PX * width_factor(1920))


def test_components_are_the_connected_groups_named_by_their_lowest_point() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        xy = rng.integers(0, int(rng.integers(4, 30)), (n, 2))
        dx, dy = xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]
        adj = dx * dx + dy * dy <= 2.3 * 2.3
        _, ref = connected_components(adj, directed=False)
        lowest: dict[int, int] = {}
        expected = [lowest.setdefault(int(r), i) for i, r in enumerate(ref)]
        assert _components(adj).tolist() == expected
