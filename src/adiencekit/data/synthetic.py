"""A small synthetic data set in the Adience format: the embedded default of the CLI, docs and tests.

:func:`make_synthetic_adience` writes the five fold files (the real tab-separated header,
ages such as ``"(25, 32)"``, genders ``"f"``/``"m"``), subject-exclusive by ``user_id``,
and one JPEG per row under ``aligned/<user_id>/landmark_aligned_face.<face_id>.<original_image>``
(or ``faces/<user_id>/coarse_tilt_aligned_face....`` with ``faces="faces"``).

Each user (a "Flickr album") holds a few persons with a fixed gender and age group; each
row is one photo of one person. The drawn face depends *learnably* on both labels, with
cues large enough to survive 0.89 random crops, flips, small rotations and downscaling
to 64x64 pixels:

- gender: long hair falling down both sides of the face to the shoulders and red lips
  (female) against a short hair cap and, from the ``(15, 20)`` group on, a beard (male);
- age group: the face gets narrower, the eyes smaller, forehead wrinkles appear and
  darken and the hair turns grey with age; children have pink cheeks. Every cue follows
  a noisy "age coordinate", so neighbouring groups are confused more often than distant
  ones, as with real faces.

Skin tone, hair colour, background clutter, face position, scale and tilt, lighting and
noise vary per person or per photo. A few rows carry the label irregularities of the real
release (``None`` ages, ``u`` and empty genders, the stray range ``(27, 32)``, bare
numbers inside a group) so the cleaning report has something to count. The output is
deterministic: the same arguments write the same bytes.

Example:

>>> import tempfile
>>> from adiencekit.data.synthetic import make_synthetic_adience
>>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=1, images_per_user=4)
>>> sorted(p.name for p in root.glob("fold_*_data.txt"))[:2]
['fold_0_data.txt', 'fold_1_data.txt']
>>> len(list(root.glob("aligned/*/landmark_aligned_face.*.jpg")))
20
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from adiencekit.data.folds import FACE_LAYOUTS, FOLD_COLUMNS
from adiencekit.labels import AGE_GROUPS

__all__ = [
    "SYNTHETIC_VERSION",
    "default_synthetic_root",
    "ensure_synthetic_adience",
    "make_synthetic_adience",
]

#: Bumped whenever the generator's output changes; names the default cache folder.
SYNTHETIC_VERSION = "synthetic-v2"

_NUM_FOLDS = 5
# Raw labels written in place of a clean one for a few rows: (kind, column, value, fraction).
_IRREGULAR = (
    ("none_age", "age", "None", 0.02),
    ("unknown_gender", "gender", "u", 0.02),
    ("empty_gender", "gender", "", 0.01),
    ("stray_range", "age", "(27, 32)", 0.01),
    ("bare_number", "age", None, 0.01),
)
# Bare numbers that lie inside a canonical group -> that group's index.
_BARE_NUMBERS = {"2": 0, "29": 4, "32": 4, "42": 5}
_SKIN_TONES = ((255, 224, 196), (241, 194, 160), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 58, 32))
_HAIR_COLOURS = ((30, 22, 18), (74, 48, 30), (120, 80, 40), (178, 132, 70), (160, 60, 30), (15, 15, 15))


@dataclass(frozen=True)
class _Person:
    user: str
    face_id: int
    gender: int  # 0 female, 1 male
    age_group: int
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]


# ---------------------------------------------------------------------------- drawing
def _mix(colour: tuple[int, ...], other: tuple[int, ...], amount: float) -> tuple[int, int, int]:
    amount = min(max(amount, 0.0), 1.0)
    return tuple(int(round(c + (o - c) * amount)) for c, o in zip(colour[:3], other[:3]))  # type: ignore[return-value]


def _shade(colour: tuple[int, ...], factor: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, round(c * factor)))) for c in colour[:3])  # type: ignore[return-value]


def _draw_face(person: _Person, size: int, rng: np.random.Generator) -> Image.Image:
    """Render one photo of ``person`` as a ``size x size`` RGB image."""
    background = tuple(int(v) for v in rng.integers(40, 220, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image, "RGBA")
    s = float(size)
    for _ in range(int(rng.integers(2, 6))):  # background clutter
        colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (int(rng.integers(90, 200)),)
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * s
        w, h = rng.uniform(0.15, 0.6, 2) * s
        box = (x0, y0, x0 + w, y0 + h)
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)

    # Age coordinate: the group index plus per-photo noise, driving every age cue.
    age = person.age_group + rng.normal(0.0, 0.3)
    a = min(max(age / 7.0, 0.0), 1.0)
    female = person.gender == 0
    grey = min(max((age - 3.6) / 3.4, 0.0), 0.95)
    hair = _mix(person.hair, (215, 215, 215), grey)
    skin = _shade(person.skin, rng.uniform(0.9, 1.1))

    cx = s * (0.5 + rng.uniform(-0.04, 0.04))
    cy = s * (0.48 + rng.uniform(-0.04, 0.04))
    face_h = s * 0.5 * rng.uniform(0.92, 1.08)
    face_w = face_h * (1.05 - 0.35 * a + rng.normal(0, 0.02))
    left, right = cx - face_w / 2, cx + face_w / 2
    top, bottom = cy - face_h / 2, cy + face_h / 2

    shirt = tuple(int(v) for v in rng.integers(0, 256, 3))
    draw.ellipse((cx - 0.55 * s, bottom + 0.02 * s, cx + 0.55 * s, bottom + 0.75 * s), fill=shirt)
    if female:  # long hair behind the head, down to the shoulders on both sides
        pad = face_w * 0.28
        draw.rounded_rectangle(
            (left - pad, top - 0.1 * face_h, right + pad, min(s * 1.02, bottom + 0.45 * face_h)),
            radius=face_w * 0.45,
            fill=hair,
        )
    else:  # short cap of hair on the top of the head
        draw.ellipse((left - 0.06 * face_w, top - 0.12 * face_h, right + 0.06 * face_w, cy + 0.15 * face_h), fill=hair)
    draw.rectangle((cx - face_w * 0.2, cy, cx + face_w * 0.2, bottom + 0.12 * face_h), fill=_shade(skin, 0.9))
    draw.ellipse((left, top, right, bottom), fill=skin)
    if female:  # fringe
        draw.chord((left, top - 0.02 * face_h, right, cy + 0.1 * face_h), 190, 350, fill=hair)
    else:
        draw.chord((left, top - 0.04 * face_h, right, cy), 195, 345, fill=hair)

    line = max(1, int(round(s * 0.018)))
    # Wrinkles: forehead lines appear from the (15, 20) group on and darken with age.
    wrinkles = int(np.clip(round(age - 2.2), 0, 5))
    darkness = int(90 + 150 * a)
    for k in range(wrinkles):
        y = top + face_h * (0.17 + 0.05 * k)
        draw.arc(
            (cx - face_w * 0.32, y - 0.05 * face_h, cx + face_w * 0.32, y + 0.1 * face_h),
            200,
            340,
            fill=(60, 35, 25, darkness),
            width=line,
        )
    eye_y = cy - 0.05 * face_h
    eye_r = face_w * (0.15 - 0.09 * a)
    for side in (-1, 1):
        ex = cx + side * face_w * 0.22
        draw.ellipse((ex - eye_r * 1.3, eye_y - eye_r, ex + eye_r * 1.3, eye_y + eye_r), fill=(245, 245, 245))
        draw.ellipse((ex - eye_r * 0.6, eye_y - eye_r * 0.6, ex + eye_r * 0.6, eye_y + eye_r * 0.6), fill=(40, 30, 25))
        brow_y = eye_y - eye_r - 0.05 * face_h
        draw.line((ex - eye_r * 1.5, brow_y, ex + eye_r * 1.5, brow_y), fill=_shade(hair, 0.8), width=line * 2)
        if age > 4.5:  # crow's feet
            for dy in (-0.5, 0.0, 0.5):
                x0 = ex + side * eye_r * 1.5
                end = (x0 + side * eye_r * 1.2, eye_y + dy * eye_r)
                draw.line((x0, eye_y, *end), fill=(70, 40, 30, darkness), width=line)
        if age < 2.6:  # pink cheeks of children
            blush = int(170 * (1 - age / 2.6))
            cheek_x = cx + side * face_w * 0.27
            draw.ellipse(
                (cheek_x - face_w * 0.1, cy + 0.1 * face_h, cheek_x + face_w * 0.1, cy + 0.25 * face_h),
                fill=(240, 90, 110, blush),
            )
    draw.line((cx, cy - 0.02 * face_h, cx - 0.03 * face_w, cy + 0.14 * face_h), fill=_shade(skin, 0.7), width=line)
    mouth_w = face_w * (0.16 + 0.12 * a)
    mouth_y = cy + 0.27 * face_h
    if not female and age > 2.6:  # beard: stubble at (15, 20), full beard later
        alpha = int(min(1.0, (age - 2.6) / 1.4) * 200 + 40)
        draw.chord((left, top + 0.25 * face_h, right, bottom + 0.02 * face_h), 10, 170, fill=hair + (alpha,))
    if female and age > 2.6:
        lips = (cx - mouth_w / 2, mouth_y - 0.03 * face_h, cx + mouth_w / 2, mouth_y + 0.03 * face_h)
        draw.ellipse(lips, fill=(200, 30, 60))
    else:
        draw.line((cx - mouth_w / 2, mouth_y, cx + mouth_w / 2, mouth_y), fill=(120, 50, 50), width=line)

    tilt = float(rng.uniform(-8, 8))
    image = image.rotate(tilt, resample=Image.NEAREST, fillcolor=background)  # 5x faster
    gain = float(rng.uniform(0.8, 1.15))  # lighting
    image = image.point([min(255, int(v * gain + 0.5)) for v in range(256)] * 3)
    pixels = np.asarray(image, dtype=np.int16) + rng.integers(-7, 8, (size, size, 1), dtype=np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# ---------------------------------------------------------------------------- layout
def _check_args(users_per_fold: int, images_per_user: int, image_sizes: tuple[int, ...], faces: str) -> None:
    for name, value in (("users_per_fold", users_per_fold), ("images_per_user", images_per_user)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not image_sizes or any(isinstance(v, bool) or not isinstance(v, int) or v < 32 for v in image_sizes):
        raise ValueError(f"image_sizes must be a non-empty tuple of ints >= 32, got {image_sizes!r}")
    if faces not in FACE_LAYOUTS:
        raise ValueError(f"faces must be one of {tuple(FACE_LAYOUTS)}, got {faces!r}")


def _make_people(users_per_fold: int, images_per_user: int, rng: np.random.Generator) -> list[list[_Person]]:
    """Users per fold, each a list of persons; genders and age groups are balanced overall."""
    persons_per_user = max(1, min(4, images_per_user // 8))
    combos = [(g, a) for g in (0, 1) for a in range(len(AGE_GROUPS))]
    total = _NUM_FOLDS * users_per_fold * persons_per_user
    labels = [combos[i % len(combos)] for i in range(total)]
    order = rng.permutation(total)
    used_ids: set[str] = set()
    users: list[list[_Person]] = []
    for index in range(_NUM_FOLDS * users_per_fold):
        while True:
            user = f"{rng.integers(10_000_000, 99_999_999)}@N{rng.integers(0, 100):02d}"
            if user not in used_ids:
                used_ids.add(user)
                break
        persons = []
        for face_id in range(1, persons_per_user + 1):
            gender, age_group = labels[order[index * persons_per_user + face_id - 1]]
            skin = _SKIN_TONES[int(rng.integers(len(_SKIN_TONES)))]
            hair = _HAIR_COLOURS[int(rng.integers(len(_HAIR_COLOURS)))]
            persons.append(_Person(user, face_id, gender, age_group, skin, hair))
        users.append(persons)
    return users


def _irregular_rows(persons: list[_Person], rng: np.random.Generator) -> dict[int, tuple[str, str]]:
    """Row index -> (column, raw value) for the few rows whose label is written irregularly.

    Stray ages are only given to rows whose person is in the group that contains them,
    so the drawn face still matches whatever a cleaning policy maps them to.
    """
    bare_by_group: dict[int, list[str]] = {}
    for number, group in _BARE_NUMBERS.items():
        bare_by_group.setdefault(group, []).append(number)
    chosen: dict[int, tuple[str, str]] = {}
    for kind, column, value, fraction in _IRREGULAR:
        if kind == "stray_range":
            eligible = [i for i, p in enumerate(persons) if p.age_group == 4]
        elif kind == "bare_number":
            eligible = [i for i, p in enumerate(persons) if p.age_group in bare_by_group]
        else:
            eligible = list(range(len(persons)))
        eligible = [i for i in eligible if i not in chosen]
        count = min(len(eligible), max(1, round(fraction * len(persons))))
        for row in sorted(int(i) for i in rng.choice(eligible, size=count, replace=False)):
            if kind == "bare_number":
                numbers = bare_by_group[persons[row].age_group]
                chosen[row] = (column, numbers[int(rng.integers(len(numbers)))])
            else:
                chosen[row] = (column, str(value))
    return chosen


def _write_tree(
    root: Path,
    users_per_fold: int,
    images_per_user: int,
    image_sizes: tuple[int, ...],
    seed: int,
    faces: str,
) -> None:
    rng = np.random.default_rng([seed, 0])
    users = _make_people(users_per_fold, images_per_user, rng)
    row_persons = [persons[i % len(persons)] for persons in users for i in range(images_per_user)]
    irregular = _irregular_rows(row_persons, rng)
    prefix = FACE_LAYOUTS[faces][1]
    for fold in range(_NUM_FOLDS):
        lines = ["\t".join(FOLD_COLUMNS)]
        for user_index in range(fold * users_per_fold, (fold + 1) * users_per_fold):
            folder = root / faces / users[user_index][0].user
            folder.mkdir(parents=True, exist_ok=True)
            for image_index in range(images_per_user):
                row = user_index * images_per_user + image_index
                person = row_persons[row]
                photo_rng = np.random.default_rng([seed, 1, user_index, image_index])
                size = int(image_sizes[int(photo_rng.integers(len(image_sizes)))])
                flickr_id = int(photo_rng.integers(10**9, 10**10 - 1))
                original = f"{flickr_id}_{int(photo_rng.integers(16**9, 16**10 - 1)):010x}_o.jpg"
                labels = {"age": AGE_GROUPS[person.age_group].label, "gender": "fm"[person.gender]}
                if row in irregular:
                    column, value = irregular[row]
                    labels[column] = value
                image = _draw_face(person, size, photo_rng)
                (folder / f"{prefix}.{person.face_id}.{original}").write_bytes(_jpeg_bytes(image))
                x, y = (int(v) for v in photo_rng.integers(0, 1500, 2))
                side = int(photo_rng.integers(150, 900))
                extra = (
                    x,
                    y,
                    side,
                    side,
                    int(photo_rng.integers(-180, 181)),
                    int(photo_rng.integers(-45, 46)),
                    int(photo_rng.integers(0, 200)),
                )
                fields = [person.user, original, str(person.face_id), labels["age"], labels["gender"]]
                lines.append("\t".join(fields + [str(v) for v in extra]))
        # The real release has no newline after the last row.
        (root / f"fold_{fold}_data.txt").write_text("\n".join(lines), encoding="utf-8")


def make_synthetic_adience(
    root: str | os.PathLike[str],
    *,
    users_per_fold: int = 8,
    images_per_user: int = 40,
    image_sizes: tuple[int, ...] = (200, 320, 480),
    seed: int = 0,
    faces: str = "aligned",
    overwrite: bool = False,
) -> Path:
    """Write a synthetic Adience-format data set (fold files and JPEG faces).

    Args:
        root: output folder; created if needed.
        users_per_fold: users (albums) per fold; each user appears in exactly one fold.
        images_per_user: photos per user (rows in the fold file).
        image_sizes: square JPEG sides to draw, picked at random per photo.
        seed: random seed; the same arguments write byte-identical files.
        faces: ``"aligned"`` (``aligned/<user>/landmark_aligned_face...``) or ``"faces"``
            (``faces/<user>/coarse_tilt_aligned_face...``).
        overwrite: replace the fold files and image folder when ``root`` already holds
            them; otherwise that raises :class:`FileExistsError`.

    Returns:
        ``root`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: on invalid arguments.
        FileExistsError: when ``root`` already holds a data set and ``overwrite`` is False.

    Example:

    >>> import tempfile
    >>> from adiencekit.data.synthetic import make_synthetic_adience
    >>> root = make_synthetic_adience(tempfile.mkdtemp(), users_per_fold=1, images_per_user=2)
    >>> (root / "fold_0_data.txt").read_text().splitlines()[0].split("\\t")[:5]
    ['user_id', 'original_image', 'face_id', 'age', 'gender']
    """
    image_sizes = tuple(image_sizes)
    _check_args(users_per_fold, images_per_user, image_sizes, faces)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    root = Path(root).expanduser()
    existing = [root / f"fold_{k}_data.txt" for k in range(_NUM_FOLDS)] + [root / name for name in FACE_LAYOUTS]
    present = [path for path in existing if path.exists()]
    if present:
        if not overwrite:
            raise FileExistsError(
                f"{root} already holds a data set ({', '.join(p.name for p in present)}); "
                "pass overwrite=True to replace it"
            )
        for path in present:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    root.mkdir(parents=True, exist_ok=True)
    _write_tree(root, users_per_fold, images_per_user, image_sizes, int(seed), faces)
    return root


def default_synthetic_root() -> Path:
    """Where the default synthetic data set lives.

    ``$ADIENCEKIT_HOME/synthetic-v2`` when the environment variable is set, else
    ``~/.cache/adiencekit/synthetic-v2``.

    Example:

    >>> from adiencekit.data.synthetic import default_synthetic_root
    >>> default_synthetic_root().name
    'synthetic-v2'
    """
    home = os.environ.get("ADIENCEKIT_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".cache" / "adiencekit"
    return base / SYNTHETIC_VERSION


def _is_complete(root: Path) -> bool:
    return all((root / f"fold_{k}_data.txt").is_file() for k in range(_NUM_FOLDS)) and any(
        (root / name).is_dir() for name in FACE_LAYOUTS
    )


def ensure_synthetic_adience(root: str | os.PathLike[str] | None = None) -> Path:
    """Return a default synthetic data set, building it on first use.

    The tree is written into a temporary sibling folder and renamed into place, so an
    interrupted build never leaves a half-written data set behind and concurrent callers
    end up sharing one complete copy.

    Args:
        root: where it lives; defaults to :func:`default_synthetic_root`.

    Returns:
        The folder holding ``fold_{0..4}_data.txt`` and ``aligned/``.

    Raises:
        DatasetNotFoundError: when the set is absent and cannot be written there (a
            read-only or full disk); the message names the folder and ``ADIENCEKIT_HOME``.
        FileExistsError: when ``root`` holds something else.

    Example:

    >>> import os, tempfile
    >>> from adiencekit.data.synthetic import ensure_synthetic_adience
    >>> root = ensure_synthetic_adience(os.path.join(tempfile.mkdtemp(), "synthetic"))
    >>> ensure_synthetic_adience(root) == root, len(list(root.glob("aligned/*")))
    (True, 40)
    """
    root = Path(root).expanduser() if root is not None else default_synthetic_root()
    if _is_complete(root):
        return root
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists but does not hold a complete synthetic data set; remove it and try again"
        )
    staging: Path | None = None
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
        make_synthetic_adience(staging)
        if root.exists():
            root.rmdir()  # an empty folder left by someone else
        try:
            staging.rename(root)
        except OSError:
            if not _is_complete(root):  # lost a race to a broken writer
                raise
    except OSError as error:
        from adiencekit.errors import DatasetNotFoundError

        raise DatasetNotFoundError(
            f"cannot build the synthetic data set in {root}: {error.strerror or error}; set the environment "
            "variable ADIENCEKIT_HOME to a writable folder with ~10 MB free"
        ) from error
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return root

