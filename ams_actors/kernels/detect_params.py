"""The values-detect kernel's tuning (its own module so the tracking and the rules share it without a cycle)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DetectParams:
    min_frames: int = 5  # detections in the object
    max_gap: int = 3  # frames without a detection bridged inside one object
    min_fill: float = 0.5  # detections / frame span
    static_hits: int = 6  # a 2-px position hot in this many frames ...
    static_window_s: float = 10.0  # ... within this many seconds of a peak's frame is a static source then
    min_disp_px: float = 4.0  # total motion below this: static
    # a parked light: all but ≤ parked_outliers detections, and ≥ parked_min, within parked_px of their median
    # position, moving less than parked_ratio × what the object's speed says over their frames (a star at the
    # threshold after a keyframe, joined to a noise peak or two: the outliers alone make it "move")
    parked_px: float = 2.0
    parked_outliers: int = 2
    parked_min: int = 4
    parked_ratio: float = 0.25
    max_rms_px: float = 1.6  # perpendicular RMS from the fitted line
    max_backsteps: float = 0.2  # fraction of steps against the direction of motion
    min_speed_deg_s: float = 1.5
    max_speed_deg_s: float = 90.0
    max_duration_s: float = 5.0
    max_objects: int = 15  # more moving objects (≥ min_frames points) than this: toomany
    crowded_frame_frac: float = 0.3  # frames whose peak count hit the scan's cap: toomany if more
    first_gate_px: float = 30.0  # how far a second detection may be from a first (fast meteors: ≥ 25 px/frame)
    link_gate_px: float = 4.0  # later links: this across the motion, this + link_gate_speed × speed × gap along ...
    link_gate_speed: float = 0.5  # ... the scan's peak wanders along a motion-blurred streak by up to half a step
    link_gate_across_speed: float = 0.0  # across, not with the speed (= link_gate_speed: the old circular gate)
    merge_px: float = 4.0  # peaks of one frame closer than this are one split blob
    extend_px: float = 2.5  # a peak this close to a track's fitted line beyond its ends joins it
    join_gap: int = 6  # track pieces ≤ this many frames apart on one line at one speed are one object
    join_speed_ratio: float = 0.3  # ... their speeds within this fraction of each other
    # a peak on its scan cell's border is the spill of a brighter light across it (detect_bloom.py) when that light
    # blooms (this far over its background: near the 8-bit clip on a night sky) and is within the bloom's reach
    spill_min_val: float = 100.0
    spill_reach_px: float = 24.0
    spill_below: float = 0.9  # ... and the peak this fraction of its value or less (as bright: one clipped plateau)
    plateau_px: float = 10.0  # such lights' peaks closer than this are one clipped plateau (a fast bolide's blur)
    # the pixel lengths above are for this pixel scale (SD 640 px over 90°); finer pixels scale them up, so
    # a rule means the same angle at 640×360 and 1920×1080 (never down: the scan's 2×2 bins set a floor)
    ref_pixel_scale_deg: float = 90.0 / 640.0
    min_peak_over: float = 2.0  # brightest detection must exceed the threshold by this (DN) ...
    min_peak_ratio: float = 1.3  # ... and be at least this × the threshold: chains of noise sit at it
