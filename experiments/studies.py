"""What the model studies in ``experiments/`` share: the benchmark helpers and one command line.

Example:

>>> import studies
>>> args = studies.parser("demo", "photos").parse_args(["--smoke"])
>>> studies.limit(args), args.model
(6, None)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

import common  # noqa: E402  (benchmarks/common.py: environment, JSON, tables)

#: Items a ``--smoke`` run measures.
SMOKE_LIMIT = 6


def parser(description: str, items: str) -> argparse.ArgumentParser:
    """``--smoke``, ``--out``, ``--limit``, ``--model`` and ``--shared-data``."""
    out = common.base_parser(description)
    out.add_argument("--limit", type=int, default=None, help=f"only the first N {items}")
    out.add_argument("--model", default=None,
                     help="model source as `adiencekit predict --model` takes it (default: the bundled default)")
    out.add_argument("--shared-data", type=Path, default=common.REPO_ROOT.parent / "shared" / "data")
    return out


def limit(args: argparse.Namespace) -> int | None:
    """``--limit``, else :data:`SMOKE_LIMIT` for ``--smoke``, else ``None`` (everything)."""
    return args.limit if args.limit is not None else (SMOKE_LIMIT if args.smoke else None)


def out_path(args: argparse.Namespace, suite: str) -> Path:
    """``--out``, else ``experiments/results/<suite>[-smoke].json``."""
    return args.out or HERE / "results" / f"{suite}{'-smoke' if args.smoke else ''}.json"
