"""Start-up of every Jupyter kernel that runs a guide page while the docs build.

``docs/conf.py`` copies this file into a fresh IPython profile (``IPYTHONDIR``), so each
kernel runs it before the page's first cell: TensorFlow is imported with its C++
start-up block (``absl::InitializeLog``, ``oneDNN``, ``cuda drivers``) kept out of the
build log and the pages, as the ``adiencekit`` command does without ``--verbose``. In an
interactive session TensorFlow's logger writes INFO lines to stdout (so into a page:
``INFO:tensorflow:Assets written to: <a temporary folder>`` from a SavedModel or TFLite
export); it is created here and set to errors only.
"""

import logging
import sys

from adiencekit.quiet import import_backend, quiet_environment

quiet_environment()
import_backend()
if "tensorflow" in sys.modules:
    sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
