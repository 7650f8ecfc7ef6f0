"""``archive/<RUN>/manifest.json``: what a run has finished, so a restart with the same run id does only
the rest. Written by the client alone, after each completed day (a day is complete when its
correlation and every one of its solves returned)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from protocols.errors import InputError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class Manifest:
    run_id: str
    solver: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # daily index key -> ETag it was read at
    days: dict[str, dict[str, int]] = field(default_factory=dict)  # completed day -> counts
    failures: list[dict[str, str]] = field(default_factory=list)  # {day, event_id?, reason}

    def counts(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for c in self.days.values():
            for k, v in c.items():
                total[k] = total.get(k, 0) + v
        return total

    def encode(self) -> bytes:
        doc = {"run_id": self.run_id, "solver": self.solver, "inputs": dict(sorted(self.inputs.items())),
               "days": dict(sorted(self.days.items())), "counts": self.counts(), "failures": self.failures}
        return json.dumps(doc, indent=1, sort_keys=True).encode()


def decode_manifest(data: bytes, key: str, run_id: str) -> Manifest:
    """Validate a stored manifest (it is read from the bucket like anything else)."""
    try:
        doc: Any = json.loads(data)
        if not isinstance(doc, dict) or doc.get("run_id") != run_id:
            raise ValueError(f"run_id is not {run_id!r}")
        days = doc.get("days", {})
        inputs = doc.get("inputs", {})
        failures = doc.get("failures", [])
        if not (isinstance(days, dict) and all(isinstance(v, dict) for v in days.values())
                and isinstance(inputs, dict) and isinstance(failures, list)):
            raise ValueError("days, inputs or failures has the wrong type")
        return Manifest(run_id, dict(doc.get("solver") or {}), {str(k): str(v) for k, v in inputs.items()},
                        {str(k): {str(a): int(b) for a, b in v.items()} for k, v in days.items()},
                        [dict(f) for f in failures if isinstance(f, dict)])
    except (ValueError, TypeError) as err:
        raise InputError(key, None, f"not a manifest of run {run_id}: {err}") from None
