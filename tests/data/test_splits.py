"""Tests for adiencekit.data.splits: Subset, Split, user-wise validation carving."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adiencekit.data import splits as splits_module
from adiencekit.data.adience import label_fold_table
from adiencekit.data.folds import read_folds
from adiencekit.data.splits import (
    Split,
    Subset,
    carve_groups,
    labelled_mask,
    random_image_split,
    subject_exclusive_split,
)


def make_frame(users_per_fold: int = 6, images: int = 7, seed: int = 0, missing: float = 0.2) -> pd.DataFrame:
    """Rows of users_per_fold * 5 users, each user in one fold with `images`+-3 photos."""
    rng = np.random.default_rng(seed)
    rows = []
    for fold in range(5):
        for u in range(users_per_fold):
            for i in range(images + int(rng.integers(-3, 4))):
                rows.append({
                    "user_id": f"user{fold}_{u}",
                    "fold": fold,
                    "gender": int(rng.integers(2)) if rng.random() > missing else -1,
                    "age": int(rng.integers(8)) if rng.random() > missing else -1,
                    "path": f"/faces/user{fold}_{u}/{i}.jpg",
                })
    return pd.DataFrame(rows)


def users(subset: Subset) -> set[str]:
    return set(subset.frame["user_id"])


def test_docstring_examples_run():
    result = doctest.testmod(splits_module)
    assert result.attempted >= 10 and result.failed == 0


@pytest.mark.parametrize("task", ["gender", "age", "multitask"])
@pytest.mark.parametrize("test_fold", range(5))
def test_subject_exclusive_split_partitions_the_usable_rows(task, test_fold):
    frame = make_frame()
    split = subject_exclusive_split(frame, test_fold, task, val_fraction=0.2, seed=3)
    assert split.test_fold == test_fold and split.task == task and split.protocol == "subject-exclusive"
    assert set(split.test.frame["fold"]) == {test_fold}
    assert test_fold not in set(split.train.frame["fold"]) | set(split.val.frame["fold"])
    assert not users(split.train) & users(split.val)
    assert not (users(split.train) | users(split.val)) & users(split.test)
    usable = int(labelled_mask(frame, task).sum())
    assert len(split.train) + len(split.val) + len(split.test) == usable
    assert sum(split.unlabelled.values()) == len(frame) - usable
    assert split.unlabelled["test"] == int((~labelled_mask(frame[frame.fold == test_fold], task)).sum())


def test_single_task_drops_missing_labels_and_multitask_keeps_partial_rows():
    frame = make_frame(missing=0.3)
    gender = subject_exclusive_split(frame, 0, "gender")
    assert all((s.labels >= 0).all() for s in gender)
    multi = subject_exclusive_split(frame, 0, "multitask")
    labels = multi.train.labels
    assert set(labels) == {"gender", "age"} and labels["gender"].dtype == np.int32 == labels["age"].dtype
    assert (labels["gender"] == -1).any() and (labels["age"] == -1).any()
    assert ((labels["gender"] >= 0) | (labels["age"] >= 0)).all()
    assert len(multi.train) + len(multi.val) > len(gender.train) + len(gender.val)


def test_validation_is_whole_users_near_the_fraction_and_deterministic():
    frame = make_frame(users_per_fold=20, images=10, missing=0)
    a = subject_exclusive_split(frame, 2, "gender", val_fraction=0.1, seed=7)
    b = subject_exclusive_split(frame, 2, "gender", val_fraction=0.1, seed=7)
    c = subject_exclusive_split(frame, 2, "gender", val_fraction=0.1, seed=8)
    assert a.val.paths == b.val.paths and a.train.paths == b.train.paths
    assert a.val.paths != c.val.paths
    pool = len(a.train) + len(a.val)
    assert abs(len(a.val) / pool - 0.1) < 0.05
    for user in users(a.val):  # whole users
        assert (frame["user_id"] == user).sum() == (a.val.frame["user_id"] == user).sum()


def test_tiny_fraction_still_takes_one_user_and_zero_takes_none():
    frame = make_frame()
    split = subject_exclusive_split(frame, 0, "age", val_fraction=1e-6)
    assert split.val.num_users == 1
    empty = subject_exclusive_split(frame, 0, "age", val_fraction=0)
    assert len(empty.val) == 0 and empty.val.class_counts() == dict.fromkeys(empty.val.class_counts(), 0)


@settings(max_examples=40, deadline=None)
@given(
    test_fold=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
    val_fraction=st.floats(0.0, 0.9),
    task=st.sampled_from(["gender", "age", "multitask"]),
    frame_seed=st.integers(0, 1000),
)
def test_property_splits_never_share_a_user(test_fold, seed, val_fraction, task, frame_seed):
    frame = make_frame(users_per_fold=4, images=5, seed=frame_seed)
    split = subject_exclusive_split(frame, test_fold, task, val_fraction=val_fraction, seed=seed)
    parts = [users(s) for s in split]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    if val_fraction > 0:
        assert len(parts[1]) >= 1 and len(parts[0]) >= 1


@pytest.fixture(scope="module")
def real_frame(adience_folds_dir):
    frame, _ = label_fold_table(read_folds(adience_folds_dir), "drop")
    return frame


@pytest.mark.realdata
@settings(max_examples=25, deadline=None)
@given(test_fold=st.integers(0, 4), seed=st.integers(0, 2**32 - 1), task=st.sampled_from(["gender", "age", "multitask"]))
def test_property_real_folds_are_subject_exclusive_for_every_fold_and_seed(real_frame, test_fold, seed, task):
    split = subject_exclusive_split(real_frame, test_fold, task, val_fraction=0.1, seed=seed)
    train, val, test = (users(s) for s in split)
    assert not train & val and not (train | val) & test
    assert len(train | val | test) <= 168 and len(val) >= 1
    pool = len(split.train) + len(split.val)
    assert 0.05 < len(split.val) / pool < 0.15  # whole users, aiming at 10%


def test_carve_groups_needs_two_groups():
    with pytest.raises(ValueError, match="1 distinct user_id.*at least 2"):
        carve_groups(pd.DataFrame({"user_id": ["a", "a"]}), 0.5, 0)
    kept, carved = carve_groups(pd.DataFrame({"user_id": ["a", "a"]}), 0.0, 0)
    assert len(kept) == 2 and len(carved) == 0


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2, "0.1", True])
def test_bad_val_fraction(fraction):
    with pytest.raises(ValueError, match=r"val_fraction must be a number in \[0, 1\)"):
        subject_exclusive_split(make_frame(), 0, "gender", val_fraction=fraction)


@pytest.mark.parametrize("fold", [5, -1, "0", 1.0, True])
def test_bad_test_fold(fold):
    with pytest.raises(ValueError, match=r"test_fold must be one of the folds \[0, 1, 2, 3, 4\]"):
        subject_exclusive_split(make_frame(), fold, "gender")


def test_bad_task():
    with pytest.raises(ValueError, match=r"task must be one of \('gender', 'age', 'multitask'\), got 'sex'"):
        subject_exclusive_split(make_frame(), 0, "sex")


def test_random_image_split_sizes_determinism_and_leak():
    frame = make_frame(missing=0)
    a = random_image_split(frame, "gender", 0.1, 0.2, seed=1)
    b = random_image_split(frame, "gender", 0.1, 0.2, seed=1)
    assert a.test_fold is None and a.protocol == "random by image"
    assert [s.paths for s in a] == [s.paths for s in b]
    assert len(a.test) == round(0.2 * len(frame)) and len(a.val) == round(0.1 * len(frame))
    assert not set(a.train.paths) & set(a.test.paths)
    assert users(a.train) & users(a.test)  # the leak the Adience protocol avoids
    with pytest.raises(ValueError, match="below 1"):
        random_image_split(frame, "gender", 0.5, 0.5)


def test_subset_rejects_unlabelled_rows_bad_labels_and_missing_columns():
    frame = pd.DataFrame({"path": ["a", "b"], "gender": [0, -1], "age": [1, 2]})
    with pytest.raises(ValueError, match="1 of 2 rows of subset 'train' lack a gender label"):
        Subset("train", frame, "gender")
    Subset("train", frame, "age")
    with pytest.raises(ValueError, match=r"age labels must be -1 or 0..7, got \[9\]"):
        Subset("test", frame.assign(age=[1, 9]), "age")
    with pytest.raises(ValueError, match=r"lacks the columns \['path'\]"):
        Subset("test", frame.drop(columns="path"), "age")
    with pytest.raises(ValueError, match="name"):
        Subset("", frame, "age")


def test_subset_labels_paths_and_class_counts():
    frame = pd.DataFrame({"path": ["a", "b", "c"], "gender": [0, 1, 1], "age": [7, 0, 0], "user_id": ["x", "y", "y"]})
    subset = Subset("val", frame, "gender")
    assert len(subset) == 3 and subset.paths == ["a", "b", "c"] and subset.num_users == 2
    assert subset.labels.dtype == np.int32 and subset.labels.tolist() == [0, 1, 1]
    assert subset.class_counts() == {"female": 1, "male": 2}
    age_counts = Subset("val", frame, "age").class_counts()
    assert age_counts["0-2"] == 2 and age_counts["60-100"] == 1 and len(age_counts) == 8
    assert "images=3" in repr(subset)


def test_empty_subset_pipeline_is_an_error():
    subset = Subset("val", pd.DataFrame({"path": [], "gender": [], "age": []}), "gender")
    with pytest.raises(ValueError, match="subset 'val' is empty"):
        subset.pipeline()


def test_split_summary_and_unpacking():
    split = subject_exclusive_split(make_frame(), 1, "age", 0.1, 0)
    train, val, test = split
    assert isinstance(split, Split) and train is split.train and test is split.test
    text = split.summary()
    assert "task 'age'" in text and "test fold 1" in text
    assert f"images {len(val):>6}" in text and str(split) == text
