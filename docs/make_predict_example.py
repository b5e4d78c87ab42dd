"""Make docs/_static/predict_example.png: a composed UTKFace group photo, annotated.

    PYTHONPATH=src python docs/make_predict_example.py [UTKFACE_ROOT] [PHOTO_OUT]

The faces are taken from the bundled model's held-out *test* split of UTKFace (the raw
root's ``split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0)``: the
model never saw them), spread over ages and both genders, and pasted on a plain gradient
canvas with benchmarks/group_photos.py; the bundled default model labels them. Prints
the table ``adiencekit predict`` would print; PHOTO_OUT, when given, receives the photo
without annotations.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from adiencekit.inference import Predictor, annotate_image, read_image
from adiencekit.cli.predict import format_table
from adiencekit.labels import GENDERS
from adiencekit.data import UTKFaceDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from group_photos import compose_photo  # noqa: E402  (a benchmark helper)

OUT = Path(__file__).resolve().parent / "_static" / "predict_example.png"


def main(root: str | None = None, photo_out: str | None = None) -> None:
    root = root or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "utkface")
    test = UTKFaceDataset(root).split(task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0).test
    frame = test.frame.reset_index(drop=True)
    picks = []
    # (youngest, oldest, gender index: 0 female, 1 male)
    for low, high, gender in ((4, 8, 0), (20, 30, 1), (26, 34, 0), (45, 55, 1), (65, 80, 0)):
        rows = frame[(frame["age_years"] >= low) & (frame["age_years"] <= high) & (frame["gender"] == gender)]
        picks.append(str(rows["path"].iloc[len(rows) // 2]))
    faces = [read_image(p) for p in picks]
    photo, _ = compose_photo(faces, canvas=(1000, 620), sizes=(150, 220), background="gradient", seed=7)
    if photo_out:
        Image.fromarray(photo).save(photo_out, quality=95)
    result = Predictor().predict(photo)
    result.path = "group.jpg"
    print(format_table([result]))
    chosen = frame.set_index("path").loc[picks]
    print("true (age, gender) left to right as pasted:",
          [(int(a), GENDERS[int(g)]) for a, g in zip(chosen["age_years"], chosen["gender"])])
    picture = annotate_image(photo, result.faces).resize((800, 496), Image.Resampling.LANCZOS)
    picture.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
