"""Per-point result storage that makes sweeps resumable.

Each finished point is one JSON file, ``<out>/points/<point id>.json``, written atomically
the moment the point finishes.  An interrupted sweep therefore loses at most the points
that were running, and a resumed sweep skips every point that has a file.  A point whose
evaluation raised is stored too, with its error, so a crash is recorded rather than lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolchain.dse.spec import Point, Sweep


@dataclass(frozen=True)
class PointResult:
    point_id: str
    params: Mapping[str, Any]
    status: str  # "ok" or "error"
    metrics: Mapping[str, Any]
    error: str | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.point_id, "params": dict(self.params), "status": self.status,
            "metrics": dict(self.metrics), "error": self.error, "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PointResult:
        return cls(data["id"], data["params"], data["status"], data.get("metrics", {}),
                   data.get("error"), float(data.get("seconds", 0.0)))


class ResultStore:
    """A directory of point results plus the sweep that produced them."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.points_dir = self.root / "points"

    def open(self, sweep: Sweep) -> None:
        """Create the store, or check that an existing one belongs to the same sweep."""
        self.points_dir.mkdir(parents=True, exist_ok=True)
        spec_path = self.root / "sweep.json"
        if spec_path.exists():
            old = json.loads(spec_path.read_text())
            if old.get("name") != sweep.name or old.get("evaluate") != sweep.evaluate:
                raise ValueError(
                    f"{self.root} holds results of sweep '{old.get('name')}' "
                    f"({old.get('evaluate')}); use another --out directory for '{sweep.name}'"
                )
        _atomic_write(spec_path, json.dumps(sweep.to_dict(), indent=1))

    def done(self, *, retry_failed: bool = False) -> set[str]:
        ids = set()
        for r in self.results():
            if r.status == "ok" or not retry_failed:
                ids.add(r.point_id)
        return ids

    def pending(self, sweep: Sweep, *, retry_failed: bool = False) -> list[Point]:
        done = self.done(retry_failed=retry_failed)
        return [p for p in sweep.points() if p.id not in done]

    def write(self, result: PointResult) -> None:
        _atomic_write(self.points_dir / f"{result.point_id}.json",
                      json.dumps(result.to_json(), indent=1, default=_jsonable))

    def results(self) -> Iterator[PointResult]:
        if not self.points_dir.exists():
            return
        for path in sorted(self.points_dir.glob("*.json")):
            try:
                yield PointResult.from_json(json.loads(path.read_text()))
            except (json.JSONDecodeError, KeyError) as e:
                raise ValueError(
                    f"{path}: damaged point result ({e}); delete it to redo the point"
                ) from None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _jsonable(value: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        raise TypeError(f"cannot store {type(value).__name__}") from None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store a metric of type {type(value).__name__}")
