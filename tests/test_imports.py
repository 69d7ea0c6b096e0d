"""Every module imports, and the code has no undefined names or unused imports (ruff F rules)."""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import subprocess
from pathlib import Path

import pytest

import cut

REPO = Path(__file__).resolve().parents[1]


def test_every_module_imports():
    names = [m.name for m in pkgutil.walk_packages(cut.__path__, "cut.") if m.name != "cut.__main__"]
    assert len(names) > 30
    for name in names:
        importlib.import_module(name)


def test_no_undefined_names_or_unused_imports():
    ruff = shutil.which("ruff") or (str(Path(__import__("sys").executable).parent / "ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff not installed (it is in the test extras)")
    r = subprocess.run([ruff, "check", "--select", "F", "--output-format", "concise", "cut", "tests", "bench", "examples"],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
