"""The docs cannot drift: their commands parse, their Python runs, their claims hold.

* Every ``adiencekit ...`` command shown in README.md and docs/**/*.md (the user guide
  included) parses with the real argument parser (a renamed option fails here, not for a
  reader).
* Every user-guide page is in the toctree, and the executed ones are valid MyST-NB text
  notebooks (front matter, kernel, code cells that compile). CI's docs step executes them.
* Every Python block of README.md, docs/index.md and docs/quickstart.md compiles; the quickstart's blocks run,
  in order, in a fresh folder (slow: they train a small model).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from adiencekit.cli import UsageError, build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)]
GUIDE = sorted((DOCS / "guide").glob("*.md"))
#: Pages whose ``python`` blocks are real code (architecture.md sketches signatures).
CODE_PAGES = [ROOT / "README.md", ROOT / "docs" / "index.md", ROOT / "docs" / "quickstart.md"]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)
CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.M | re.S)
FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def _commands(page: Path) -> list[list[str]]:
    commands = []
    for block in _blocks(page, "bash"):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part)
                if words[:1] == ["adiencekit"]:
                    commands.append(words[1:])
    return commands


def _ids(page: Path) -> str:
    return str(page.relative_to(DOCS)) if DOCS in page.parents else page.name


def test_the_pages_show_commands_and_code() -> None:
    assert _commands(ROOT / "README.md") and _commands(ROOT / "docs" / "quickstart.md")
    assert len(_blocks(ROOT / "docs" / "quickstart.md", "python")) >= 3


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_command_shown_parses(page: Path) -> None:
    parser = build_parser()
    for argv in _commands(page):
        try:
            parser.parse_args(argv)
        except UsageError as error:
            pytest.fail(f"{page.name}: `adiencekit {shlex.join(argv)}` does not parse: {error}")
        except SystemExit as exit_:  # --help / --version shown on a page
            assert exit_.code == 0


@pytest.mark.parametrize("page", CODE_PAGES, ids=lambda page: page.name)
def test_every_python_block_compiles(page: Path) -> None:
    for index, block in enumerate(_blocks(page, "python")):
        compile(block, f"{page.name} python block {index + 1}", "exec")


def test_index_claims_only_tested_backends() -> None:
    text = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "PyTorch" not in text and "torch" not in text.lower()


@pytest.mark.slow
def test_quickstart_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart's Python, block by block in one namespace, as a reader would paste it.

    A block that loads a model "elsewhere" (``keras.saving.load_model``) runs in a fresh
    interpreter, where nothing but ``import adiencekit`` can have registered the classes.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADIENCEKIT_HOME", str(tmp_path / "home"))
    namespace: dict[str, object] = {"__name__": "__quickstart__"}
    elsewhere = []
    for index, block in enumerate(_blocks(ROOT / "docs" / "quickstart.md", "python")):
        if "keras.saving.load_model" in block:
            elsewhere.append(block)
            continue
        exec(compile(block, f"quickstart.md python block {index + 1}", "exec"), namespace)
    assert (tmp_path / "runs" / "quick-multitask" / "best.keras").is_file()
    assert elsewhere, "the quickstart shows how to load a run's model elsewhere"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    for block in elsewhere:
        done = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "['age', 'gender']" in done.stdout


def test_the_guide_is_in_the_toctree() -> None:
    """Each docs/guide page is listed in index.md's "User guide" toctree, and only those exist."""
    assert len(GUIDE) >= 7
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    trees = re.findall(r"^```\{toctree\}\n(.*?)^```", index, re.M | re.S)
    guide_tree = next(tree for tree in trees if ":caption: User guide" in tree)
    listed = [line.strip() for line in guide_tree.splitlines() if line.strip() and not line.startswith(":")]
    assert sorted(listed) == sorted(f"guide/{page.stem}" for page in GUIDE)


def _front_matter(page: Path) -> dict[str, object]:
    yaml = pytest.importorskip("yaml")
    match = FRONT_MATTER.match(page.read_text(encoding="utf-8"))
    return yaml.safe_load(match.group(1)) if match else {}


@pytest.mark.parametrize("page", GUIDE, ids=_ids)
def test_guide_notebooks_are_valid_myst_nb(page: Path) -> None:
    """A page with code cells is a MyST-NB text notebook: front matter, a kernel, cells that compile."""
    text = page.read_text(encoding="utf-8")
    cells = CODE_CELL.findall(text)
    meta = _front_matter(page)
    if not cells:
        assert not meta, f"{page.name} has notebook front matter but no code cell"
        return
    assert meta.get("file_format") == "mystnb", f"{page.name}: front matter needs `file_format: mystnb`"
    assert meta.get("kernelspec", {}).get("name") == "python3"
    for index, cell in enumerate(cells):
        source = "\n".join(line for line in cell.splitlines() if not line.startswith(":"))  # cell options
        compile(source, f"{page.name} code cell {index + 1}", "exec")
    pytest.importorskip("myst_nb")
    from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

    assert is_myst_markdown_notebook(text)
    notebook = read_myst_markdown_notebook(text)
    assert sum(cell.cell_type == "code" for cell in notebook.cells) == len(cells)


def test_docs_kernels_start_without_tensorflow_noise(tmp_path: Path) -> None:
    """What each guide page's kernel runs first: no C++ start-up block, no INFO lines (issue 26)."""
    code = (
        "import sys; sys.ps1 = '>>> '\n"  # interactive, as in a kernel: TensorFlow then logs INFO to stdout
        f"import runpy; runpy.run_path({str(DOCS / '_kernel_startup.py')!r})\n"
        "import tensorflow as tf\n"
        "tf.get_logger().info('Assets written to: /tmp/x/assets')\n"
        "from absl import logging; logging.info('INFO from absl')\n"
        "print('page output')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "page output\n"
    for noise in ("absl::InitializeLog", "oneDNN", "cuda", "Assets written", "INFO from absl"):
        assert noise not in done.stderr, done.stderr
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert '"_kernel_startup.py"' in conf and 'os.environ["IPYTHONDIR"]' in conf
