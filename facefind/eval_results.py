"""Where the latest `facefind eval` run is kept for the console's /status: a copy of its report
and plots in the data folder (FACEFIND_DATA_DIR/eval/latest), whatever --out it was given."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LATEST = Path("eval") / "latest"
REPORT = "report.json"


@dataclass(frozen=True)
class LatestEval:
    """The latest run's report (report.json's content) and the names of its plots."""

    folder: Path
    report: dict[str, Any]
    plots: tuple[str, ...]
    made_at: datetime

    def plot(self, name: str) -> Path | None:
        """A plot of this run by its name; None for any name the report does not list."""
        return self.folder / name if name in self.plots else None


def save_latest(data_dir: Path, out: Path, plots: list[str]) -> Path:
    """Copy a finished run's report and plots from `out` into the data folder, replacing the
    previous run's as a whole (a reader sees one run or the other, never a mix)."""
    target = data_dir / LATEST
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".latest-", dir=target.parent))
    for name in (REPORT, *plots):
        shutil.copy2(out / name, staging / name)
    previous = target.with_name(".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)
    return target


def read_latest(data_dir: Path) -> LatestEval | None:
    """The latest run kept in the data folder; None when there is none (or it is unreadable)."""
    folder = data_dir / LATEST
    try:
        report = json.loads((folder / REPORT).read_text(encoding="utf-8"))
        made_at = datetime.fromtimestamp((folder / REPORT).stat().st_mtime, UTC)
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict):
        return None
    plots = tuple(
        p
        for p in report.get("plots", [])
        if isinstance(p, str) and "/" not in p and p.endswith(".png") and (folder / p).is_file()
    )
    return LatestEval(folder, report, plots, made_at)
