"""Group-balanced sampling (adiencekit.data.balance and build_pipeline(balance=...))."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adiencekit.data.balance import BALANCE_CAP, balanced_sampling
from adiencekit.data.pipeline import build_pipeline
from adiencekit.errors import ConfigError

# 200 faces: 160 of age group 4, 32 of group 3, 8 of group 0 (shares 0.80, 0.16, 0.04).
SIZES = {4: 160, 3: 32, 0: 8}


def _ages() -> np.ndarray:
    return np.concatenate([np.full(n, group) for group, n in SIZES.items()]).astype(np.int32)


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], dict[str, np.ndarray]]:
    """Uniform grey PNG faces whose grey level is their index (exact after decoding), with labels."""
    root = tmp_path_factory.mktemp("balance")
    ages = _ages()
    paths = []
    for index in range(len(ages)):
        path = root / f"{index}.png"
        Image.new("RGB", (20, 20), (index, index, index)).save(path)
        paths.append(path)
    gender = np.where(np.arange(len(ages)) % 3 == 0, -1, np.arange(len(ages)) % 2).astype(np.int32)
    labels = {"gender": gender, "age": ages, "age_years": np.arange(len(ages), dtype=np.float32)}
    return paths, labels


def _epochs(dataset, count: int = 2) -> list[dict[str, np.ndarray]]:
    out = []
    for _ in range(count):
        images, labels = [], collections.defaultdict(list)
        for batch_images, batch_labels in dataset:
            images.append(batch_images.numpy())
            for key, value in batch_labels.items():
                labels[key].append(value.numpy())
        out.append({"index": np.concatenate(images)[:, 0, 0, 0].round().astype(int),
                    **{key: np.concatenate(value) for key, value in labels.items()}})
    return out


def _pipeline(faces, seed: int | None = 0, **kwargs):
    paths, labels = faces
    options = {"training": True, "image_size": 16, "crop_size": 12, "batch_size": 16, "seed": seed, "cache": True,
               "balance": "age_group", **kwargs}
    return build_pipeline(paths, labels, **options)


def test_rates_follow_group_sizes_with_a_cap() -> None:
    sampling = balanced_sampling({"age": _ages()}, "age_group", cap=4.0)
    assert sampling.groups == (0, 3, 4)
    assert [len(m) for m in sampling.members] == [8, 32, 160]
    assert sampling.rates == (4.0, 4.0, 1.0)  # 160/8 = 20 and 160/32 = 5, both capped at 4
    assert sum(sampling.shares) == pytest.approx(1.0)
    weights = np.array([8 * 4, 32 * 4, 160 * 1], float)
    assert sampling.shares == pytest.approx(tuple(weights / weights.sum()))
    uncapped = balanced_sampling({"age": _ages()}, "age_group", cap=100.0)
    assert uncapped.rates == (20.0, 5.0, 1.0) and uncapped.shares == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert balanced_sampling(_ages(), "age_group").rates == tuple(min(BALANCE_CAP, r) for r in (20.0, 5.0, 1.0))


def test_faces_without_an_age_keep_rate_one_and_do_not_set_the_largest_group() -> None:
    ages = np.array([-1] * 50 + [4] * 10 + [2] * 5)
    sampling = balanced_sampling({"age": ages}, "age_group")
    assert sampling.groups == (-1, 2, 4) and sampling.rates == (1.0, 2.0, 1.0)
    assert sampling.expected_draws()[-1] == pytest.approx(65 / (50 + 10 + 10))


@pytest.mark.parametrize(
    ("labels", "balance", "cap", "message"),
    [
        ({"age": [1, 2]}, "race", 4.0, "balance must be None or one of"),
        ({"gender": [0, 1]}, "age_group", 4.0, "needs 'age' labels"),
        ({"age": []}, "age_group", 4.0, "non-empty 1-D array"),
        ({"age": [1, 2]}, "age_group", 0.5, "cap must be a number >= 1"),
    ],
)
def test_bad_arguments_raise_config_errors(labels, balance: str, cap: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        balanced_sampling({k: np.asarray(v, np.int32) for k, v in labels.items()}, balance, cap=cap)


def test_an_epoch_keeps_its_size_and_its_number_of_batches(faces) -> None:
    dataset = _pipeline(faces)
    batches = list(dataset)
    assert len(batches) == -(-200 // 16)
    assert sum(len(images) for images, _ in batches) == 200


def test_rare_groups_are_drawn_at_the_intended_shares(faces) -> None:
    epochs = _epochs(_pipeline(faces), count=5)
    ages = np.concatenate([epoch["age"] for epoch in epochs])
    expected = balanced_sampling(faces[1], "age_group").shares  # groups 0, 3, 4
    observed = [float((ages == group).mean()) for group in (0, 3, 4)]
    assert observed == pytest.approx(expected, abs=0.04)
    natural = [SIZES[group] / 200 for group in (0, 3, 4)]
    assert observed[0] > 1.5 * natural[0] and observed[1] > 1.5 * natural[1] and observed[2] < natural[2] - 0.1
    # Every face of a rare group comes back; faces of the largest group come less than once on average.
    indices = np.concatenate([epoch["index"] for epoch in epochs])
    counts = np.bincount(indices, minlength=200)
    assert counts[192:].min() >= 1 and counts[192:].mean() > 5 * counts[:160].mean() / 2


def test_labels_and_masks_travel_with_their_images(faces) -> None:
    _, labels = faces
    for epoch in _epochs(_pipeline(faces), count=2):
        index = epoch["index"]
        assert (epoch["age_years"] == index).all()
        assert (epoch["age"] == labels["age"][index]).all()
        assert (epoch["gender"] == labels["gender"][index]).all()
        assert (epoch["gender"] == -1).any()


def test_same_seed_same_draw_new_draw_each_epoch(faces) -> None:
    first, second = _epochs(_pipeline(faces, seed=3)), _epochs(_pipeline(faces, seed=3))
    for a, b in zip(first, second):
        assert (a["index"] == b["index"]).all()
    assert not (first[0]["index"] == first[1]["index"]).all()
    other = _epochs(_pipeline(faces, seed=4), count=1)[0]
    assert not (other["index"] == first[0]["index"]).all()


def test_without_cache_it_draws_the_same_way(faces) -> None:
    epoch = _epochs(_pipeline(faces, cache=False), count=1)[0]
    assert len(epoch["index"]) == 200 and (epoch["age"] == faces[1]["age"][epoch["index"]]).all()
    assert (epoch["age"] == 0).mean() > 0.06


def test_balance_needs_a_training_pipeline_with_labels(faces) -> None:
    paths, labels = faces
    with pytest.raises(ValueError, match="training pipeline with labels"):
        build_pipeline(paths, labels, training=False, image_size=16, crop_size=12, balance="age_group")
    with pytest.raises(ValueError, match="training pipeline with labels"):
        build_pipeline(paths, None, training=True, image_size=16, crop_size=12, balance="age_group")
    with pytest.raises(ConfigError, match="balance must be None or one of"):
        build_pipeline(paths, labels, training=True, image_size=16, crop_size=12, balance="gender")


def test_the_grain_pipeline_refuses_balance_in_one_line(faces) -> None:
    from adiencekit.data.grain_pipeline import build_grain_pipeline

    paths, labels = faces
    with pytest.raises(ConfigError, match="format='grain' has no balanced sampling") as error:
        build_grain_pipeline(paths, labels, training=True, image_size=16, crop_size=12, balance="age_group")
    assert "\n" not in str(error.value)
