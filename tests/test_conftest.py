"""The test-suite's own rules (tests/conftest.py): slow tests left out, optional packages skipped.

Each case runs pytest in a subprocess on a throw-away test file next to a copy of the
project's conftest, so what a user sees is what is checked.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import pytest

def test_fast():
    pass

@pytest.mark.slow
def test_slow():
    pass

@pytest.mark.requires("adiencekit_no_such_package")
def test_optional():
    pass
'''


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    shutil.copy(CONFTEST, tmp_path / "tests" / "conftest.py")
    (tmp_path / "tests" / "test_rules.py").write_text(TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n    requires: optional packages\n")
    return tmp_path


def _pytest(project: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout


def test_default_run_leaves_slow_out_and_says_how_to_run_it(project: Path) -> None:
    out = _pytest(project, "tests")
    assert "1 passed, 1 skipped, 1 deselected" in out
    assert "1 slow tests left out of this run; run them with `python -m pytest -m slow`" in out
    assert ("needs the optional package adiencekit_no_such_package (pip install adiencekit_no_such_package)"
            in out)


def test_slow_runs_with_m_slow_with_run_slow_or_by_node_id(project: Path) -> None:
    assert "1 passed, 2 deselected" in _pytest(project, "-m", "slow", "tests")
    assert "2 passed, 1 skipped" in _pytest(project, "--run-slow", "tests")
    assert "1 passed" in _pytest(project, "tests/test_rules.py::test_slow")
