"""Sphinx configuration for the adiencekit documentation."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import adiencekit  # noqa: E402

project = "adiencekit"
author = "adiencekit developers"
copyright = "2026, adiencekit developers"
release = adiencekit.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

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
