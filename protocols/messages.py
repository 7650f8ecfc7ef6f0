"""Messages between actors: frozen, slotted dataclasses, one per fact. No dicts on queues.

A message says what happened ("ClipScanned"), not what to do, so a new consumer can subscribe
without touching the producer. Paths are absolute; days are ``YYYY_MM_DD`` (UTC date of the clip).
Everything here is plain data: protocols imports neither asyncio nor numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TASKS = ("bs", "rvd", "rvms", "bmpi", "fix_days", "proc_index", "sync", "correlate", "solve", "publish", "calibrate")


@dataclass(frozen=True, slots=True)
class RunTask:
    """Admin `run TASK [--day D]` or a one-shot CLI verb: do this task's pending work now.

    `reply` (an asyncio.Future set by the actor with a TaskResult) lets the caller wait for the end;
    it is compared by identity only, so the message stays hashable.
    """

    task: str
    day: str | None = None
    reply: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class TaskResult:
    task: str
    actor: str
    done: int
    failed: int = 0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ClipReady:
    """A finished SD minute in SD/ (unchanged for a while, or a later minute exists)."""

    camera_id: str
    path: Path


@dataclass(frozen=True, slots=True)
class ClipScanned:
    """Scanned and stacked; the clip now lives in SD/proc2/DAY/ and its vals file exists."""

    camera_id: str
    clip: str
    day: str
    clip_path: Path
    vals_path: Path


@dataclass(frozen=True, slots=True)
class ClipRejected:
    """Not scanned: daytime, or undecodable (moved to proc2/DAY/bad/ with a .reason file)."""

    camera_id: str
    clip: str
    day: str
    reason: str


@dataclass(frozen=True, slots=True)
class ClipClassified:
    """The Detector wrote exactly one of -detect / -maybe-meteors / -toomany for this clip."""

    camera_id: str
    clip: str
    day: str
    result: str  # "detect" | "maybe-meteors" | "toomany"
    result_path: Path
    objects: int


@dataclass(frozen=True, slots=True)
class MeteorVerified:
    """A verified meteor: its archive JSON exists at `archive_path`."""

    station_id: str
    camera_id: str
    meteor_id: str
    day: str
    archive_path: Path


@dataclass(frozen=True, slots=True)
class MeteorRejected:
    camera_id: str
    clip: str
    day: str
    reason: str


@dataclass(frozen=True, slots=True)
class IndexUpdated:
    """The station's daily meteor index for `day` was rewritten (it changed)."""

    station_id: str
    day: str
    index_path: Path
    meteors: int


@dataclass(frozen=True, slots=True)
class EventsChanged:
    """Events this station takes part in appeared or changed revision (from sync or the correlator)."""

    day: str
    event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EventClaimed:
    """We own the event at `epoch` and wrote its obs.json: the Solver may start."""

    event_id: str
    day: str
    epoch: int
    obs_key: str
    obs_path: Path


@dataclass(frozen=True, slots=True)
class EventSolved:
    """The Solver finished (solved or failed); the EventBroker publishes it if the claim still holds."""

    event_id: str
    day: str
    epoch: int
    solution_path: Path
    status: str


@dataclass(frozen=True, slots=True)
class ClaimLost:
    """The lease for an event was lost or self-fenced: stop work on it, publish nothing."""

    event_id: str
    epoch: int
    reason: str
