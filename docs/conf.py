"""Sphinx configuration for the adiencekit documentation."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The guide's pages run in Jupyter kernels (separate processes): they inherit this
# environment, so they import adiencekit from this checkout's src/ as well.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
)
os.environ.setdefault("ADIENCEKIT_REPO_ROOT", str(ROOT))
# Each kernel starts quietly (docs/_kernel_startup.py, run from a throw-away IPython
# profile): no TensorFlow start-up block in the build log, no INFO lines in the pages.
_KERNEL_PROFILE = Path(tempfile.mkdtemp(prefix="adiencekit-docs-ipython-"))
(_KERNEL_PROFILE / "profile_default" / "startup").mkdir(parents=True)
shutil.copy(ROOT / "docs" / "_kernel_startup.py", _KERNEL_PROFILE / "profile_default" / "startup" / "00-quiet.py")
os.environ["IPYTHONDIR"] = str(_KERNEL_PROFILE)
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("MPLBACKEND", "Agg")

import adiencekit  # noqa: E402
from adiencekit.quiet import import_backend  # noqa: E402

import_backend()  # autodoc imports TensorFlow: its start-up block stays out of the build log

project = "adiencekit"
author = "adiencekit developers"
copyright = "2026, adiencekit developers"
release = adiencekit.__version__
version = release

extensions = [
    "myst_nb",  # MyST Markdown (it includes myst_parser) and executed notebook pages
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
exclude_patterns = ["_build", "jupyter_execute", ".jupyter_cache"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# The user guide (docs/guide/) is made of text notebooks (`file_format: mystnb`) whose
# cells run when the site is built; other .md pages are plain MyST. A cell that raises
# fails the build. "cache" re-runs a page only when its code changed (jupyter-cache, next
# to the output folder); CI builds from a clean tree, so every page runs there.
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 240  # seconds per cell
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown a cell displays (tables, cards) is MyST
nb_output_stderr = "remove"  # TensorFlow start-up logs; warnings a page shows it prints itself

autodoc_member_order = "bysource"
# Keras base-class docstrings are not written for Sphinx; document only our own.
autodoc_inherit_docstrings = False
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Inventories are fetched over the network; CI builds offline, so they are only used
# when ADIENCEKIT_DOCS_ONLINE=1 (e.g. on Read the Docs).
intersphinx_mapping = (
    {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "pandas": ("https://pandas.pydata.org/docs", None),
        "tensorflow": (
            "https://www.tensorflow.org/api_docs/python",
            "https://github.com/GPflow/tensorflow-intersphinx/raw/master/tf2_py_objects.inv",
        ),
    }
    if os.environ.get("ADIENCEKIT_DOCS_ONLINE") == "1"
    else {}
)
nitpicky = False

html_theme = "furo"
html_title = f"adiencekit {release}"
html_static_path = ["_static"]
html_css_files = ["guide.css"]
