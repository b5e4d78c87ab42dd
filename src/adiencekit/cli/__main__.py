"""``python -m adiencekit.cli``: the same as the ``adiencekit`` command."""

import sys

from adiencekit.cli import main

sys.exit(main())
