"""Preview JPEGs of verified meteors (the old ``bmpi``), for the Verifier and `ams bmpi`.

Stacking the trim and drawing run in the process pool (kernels/preview.py); the JPEGs are written
atomically next to the trim before the meteor JSON that lists them, so a JSON never names a preview
that is not there. A meteor whose trim cannot be read keeps its JSON without ``previews``: the
meteor is the science, the picture is a convenience, and `ams bmpi` can try again.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ams_actors.actors.base import StationContext
from ams_actors.runtime.files import atomic_write_bytes_async
from ams_actors.runtime.pool import run_cpu
from protocols.pipeline_files import preview_names


def preview_job(trim_path: str, xy: list[tuple[float, float]]) -> tuple[bytes, bytes] | str:
    """Runs in a pool worker: (crop JPEG, frame JPEG), or the reason there is none (picklable)."""
    from ams_actors.kernels.preview import render_previews, stack_clip

    try:
        p = render_previews(stack_clip(trim_path), xy)
    except Exception as err:  # a picture never costs a meteor: the reason is logged instead
        return f"{trim_path}: {err}"
    return p.crop, p.frame


async def make_previews(ctx: StationContext, day: str, meteor: dict[str, Any], log: logging.Logger) -> bool:
    """Write the meteor's two JPEGs into its day folder and set ``meteor["previews"]``; False if none."""
    folder = ctx.paths.meteors_dir(day)
    trim = folder / str(meteor["sd_trim"])
    xy = [(float(f["x"]), float(f["y"])) for f in meteor.get("frames", [])]
    got = await run_cpu(ctx.executor, preview_job, str(trim), xy)
    if isinstance(got, str):
        log.warning("no preview for meteor %s: %s", meteor.get("meteor_id"), got)
        return False
    names = preview_names(str(meteor["meteor_id"]))
    for data, name in zip(got, (names["crop"], names["frame"]), strict=True):
        await atomic_write_bytes_async(Path(folder) / name, data)
    meteor["previews"] = names
    return True
