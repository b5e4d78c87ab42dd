"""TrainConfig(augment="photo"): PhotoAugmentation then PhotoDegradation on the training batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adiencekit.training import load_split


def test_photo_augment_maps_both_layers_over_training_batches_only(tmp_path: Path) -> None:
    from adiencekit.layers import PhotoAugmentation, PhotoDegradation
    from adiencekit.training.fit import _strong_augmentation

    from ._helpers import fast_config, make_small_tree

    config = fast_config(make_small_tree(tmp_path / "data"), task="multitask", augment="photo", seed=4)
    split = load_split(config)
    plain = split.train.pipeline(training=False, image_size=40, crop_size=32, batch_size=8, seed=0)
    (before, labels_before), (after, labels_after) = next(iter(plain)), next(iter(_strong_augmentation(plain, config)))
    strong = next(iter(_strong_augmentation(plain, config.replace(augment="strong"))))[0].numpy()
    expected = PhotoDegradation(seed=5)(PhotoAugmentation(seed=4)(before, training=True), training=True)
    np.testing.assert_allclose(after.numpy(), np.asarray(expected), atol=1e-3)
    assert not np.allclose(after.numpy(), strong)  # the degradation is on top of "strong"
    assert all(np.array_equal(labels_before[k].numpy(), labels_after[k].numpy()) for k in labels_before)


def test_photo_is_a_command_line_choice_and_only_the_v2_recipes_use_it() -> None:
    from adiencekit.cli._parser import build_parser
    from adiencekit.training.recipes import get_recipe, list_recipes

    assert build_parser().parse_args(["train", "--augment", "photo"]).augment == "photo"
    assert [name for name in list_recipes() if get_recipe(name).augment == "photo"] == ["utkface_v2", "utkface_v2_balanced"]
