"""The import rules of docs/architecture.md hold: recognition and gallery import no service and no
front end, the service layer no front end but from its CLI, and no package has import cycles
between its rooms (import-linter, configured in pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGES = ("facefind", "bot", "console", "gallery", "recognition")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the packages under `root`, with root's pyproject.toml."""
    env = dict(os.environ, PYTHONPATH=str(root))
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_rule_of_the_layers_is_kept(repo_root: Path) -> None:
    run = lint_imports(repo_root)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_an_upward_import_and_a_cycle_break_the_rules(repo_root: Path, tmp_path: Path) -> None:
    """The same rules on a copy with one import too many in each of two places: both are named."""
    for name in (*PACKAGES, "pyproject.toml"):
        source = repo_root / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    with (tmp_path / "gallery" / "records.py").open("a") as fh:
        fh.write("\nimport facefind.errors  # the gallery reaching up into the service\n")
    with (tmp_path / "facefind" / "enroll" / "photo.py").open("a") as fh:
        fh.write("\nimport facefind.service  # enroll -> service -> enroll\n")
    run = lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    out = " ".join(run.stdout.split())  # the report wraps long contract names
    assert "recognition and gallery import no service and no front end" in out
    assert "gallery.records -> facefind.errors" in out
    assert "No cycles are allowed in facefind." in out
    assert ".enroll -> .service" in out or ".service -> .enroll" in out
