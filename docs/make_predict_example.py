"""Make docs/_static/predict_example.png: a composed UTKFace group photo, annotated.

    PYTHONPATH=src python docs/make_predict_example.py RUN_FOLDER [PHOTO_OUT]

RUN_FOLDER is a multitask run trained on UTKFace, e.g.
``adiencekit train --data utkface:../shared/data/utkface --recipe quick --task multitask
--epochs 25 --out runs/utk``. The faces are taken from that run's own *test* split (the
model never saw them), spread over ages and both genders, and pasted on a plain gradient canvas
with adiencekit.inference.compose. Prints the table ``adiencekit predict`` would print;
PHOTO_OUT, when given, receives the photo without annotations.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

from adiencekit.inference import Predictor, annotate_image, read_image
from adiencekit.inference.commands import format_table
from adiencekit.inference.compose import compose_photo
from adiencekit.labels import GENDERS
from adiencekit.training.config import TrainConfig
from adiencekit.training.fit import load_split

OUT = Path(__file__).resolve().parent / "_static" / "predict_example.png"


def main(run: str, photo_out: str | None = None) -> None:
    config = TrainConfig.from_json(Path(run) / "config.json")
    test = load_split(config).test
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
    result = Predictor(run).predict(photo)
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
