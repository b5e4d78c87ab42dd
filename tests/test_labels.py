"""Tests for adiencekit.labels: age groups, gender/age parsing under both policies."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adiencekit import labels
from adiencekit.labels import (
    AGE_GROUPS,
    GENDERS,
    MISSING,
    NUM_AGE_CLASSES,
    AgeParse,
    age_to_group,
    parse_age,
    parse_gender,
)

CANONICAL = ["(0, 2)", "(4, 6)", "(8, 12)", "(15, 20)", "(25, 32)", "(38, 43)", "(48, 53)", "(60, 100)"]

# Every non-canonical raw age in the two real releases and its group under "map"
# (the table in the module docstring).
MAPPED = {
    "2": "(0, 2)", "3": "(0, 2)", "13": "(8, 12)", "22": "(15, 20)", "23": "(25, 32)",
    "29": "(25, 32)", "32": "(25, 32)", "34": "(25, 32)", "35": "(38, 43)", "36": "(38, 43)",
    "42": "(38, 43)", "45": "(38, 43)", "46": "(48, 53)", "55": "(48, 53)", "56": "(48, 53)",
    "57": "(60, 100)", "58": "(60, 100)",
    "(27, 32)": "(25, 32)", "(38, 42)": "(38, 43)", "(38, 48)": "(38, 43)", "(8, 23)": "(15, 20)",
}


def label_of(index: int) -> str:
    return AGE_GROUPS[index].label


def test_docstring_examples_run():
    result = doctest.testmod(labels)
    assert result.attempted > 10 and result.failed == 0


def test_age_groups_are_the_eight_canonical_groups_in_order():
    assert [g.label for g in AGE_GROUPS] == CANONICAL
    assert [g.index for g in AGE_GROUPS] == list(range(8)) and NUM_AGE_CLASSES == 8
    assert [g.name for g in AGE_GROUPS][:2] == ["0-2", "4-6"] and AGE_GROUPS[-1].name == "60-100"
    assert all(a.high < b.low for a, b in zip(AGE_GROUPS, AGE_GROUPS[1:]))


def test_genders_and_missing():
    assert GENDERS == ("female", "male") and MISSING == -1


@pytest.mark.parametrize(
    "raw, expected",
    [("f", 0), ("m", 1), (" F ", 0), ("M\n", 1), ("female", 0), ("Male", 1),
     ("u", -1), ("U", -1), ("", -1), ("  ", -1), ("None", -1), (None, -1), (float("nan"), -1),
     (np.nan, -1), (pd.NA, -1)],
)
def test_parse_gender(raw, expected):
    assert parse_gender(raw) == expected


@pytest.mark.parametrize("raw", ["x", "fm", "2", 1, "(25, 32)"])
def test_parse_gender_rejects_other_values_naming_them(raw):
    with pytest.raises(ValueError, match="gender"):
        parse_gender(raw)


@pytest.mark.parametrize("policy", ["drop", "map"])
@pytest.mark.parametrize("index, raw", list(enumerate(CANONICAL)))
def test_canonical_groups_parse_under_both_policies(policy, index, raw):
    assert parse_age(raw, policy) == AgeParse(index, None)
    assert parse_age(raw.replace(" ", ""), policy).label == index  # "(0,2)" tolerated


@pytest.mark.parametrize("raw", ["None", "none", "", " ", None, float("nan"), pd.NA])
@pytest.mark.parametrize("policy", ["drop", "map"])
def test_missing_ages_are_missing_not_errors(raw, policy):
    assert parse_age(raw, policy) == AgeParse(MISSING, "missing age")


@pytest.mark.parametrize("raw", sorted(MAPPED))
def test_stray_values_are_dropped_under_drop(raw):
    assert parse_age(raw, "drop") == AgeParse(MISSING, "stray age")


@pytest.mark.parametrize("raw, group", sorted(MAPPED.items()))
def test_stray_values_are_mapped_as_documented(raw, group):
    parsed = parse_age(raw, "map")
    assert label_of(parsed.label) == group
    assert parsed.reason == ("mapped range" if raw.startswith("(") else "mapped number")
    assert f"``{raw!r}``".replace("'", '"') in labels.__doc__  # every value is in the docs table


@pytest.mark.parametrize("policy", ["drop", "map"])
def test_the_2015_typo_is_fixed_under_both_policies(policy):
    assert parse_age("(25, 23)", policy) == AgeParse(4, "typo fixed")


@pytest.mark.parametrize("raw", ["abc", "(5, 3)", "(1, 2, 3)", "-3", "150", "(10, 200)", "25-32", True, [1]])
def test_unknown_ages_raise_naming_the_value(raw):
    with pytest.raises(ValueError, match="age"):
        parse_age(raw, "map")


def test_unknown_policy_is_rejected():
    with pytest.raises(ValueError, match=r"one of \('drop', 'map'\).*'keep'"):
        parse_age("(0, 2)", "keep")


@pytest.mark.parametrize(
    "age, group",
    [(0, "(0, 2)"), (3, "(0, 2)"), (7, "(4, 6)"), (13, "(8, 12)"), (14, "(15, 20)"), (21, "(15, 20)"),
     (22, "(15, 20)"), (23, "(25, 32)"), (24, "(25, 32)"), (33, "(25, 32)"), (34, "(25, 32)"),
     (35, "(38, 43)"), (37, "(38, 43)"), (44, "(38, 43)"), (45, "(38, 43)"), (46, "(48, 53)"),
     (47, "(48, 53)"), (54, "(48, 53)"), (56, "(48, 53)"), (57, "(60, 100)"), (59, "(60, 100)"),
     (100, "(60, 100)"), (116, "(60, 100)"), (2.4, "(0, 2)"), (np.int64(30), "(25, 32)")],
)
def test_age_to_group_gaps_go_to_the_nearest_group(age, group):
    assert label_of(age_to_group(age)) == group


@pytest.mark.parametrize("age", [-1, 131, float("nan"), math.inf, "30", None, True])
def test_age_to_group_rejects_bad_ages(age):
    with pytest.raises(ValueError, match="age"):
        age_to_group(age)


@given(st.integers(min_value=0, max_value=130))
def test_age_to_group_is_containing_or_nearest(age):
    index = age_to_group(age)
    group = AGE_GROUPS[index]
    containing = [g for g in AGE_GROUPS if g.contains(age)]
    if containing:
        assert containing == [group]
    else:
        assert group.distance(age) == min(g.distance(age) for g in AGE_GROUPS)


@given(st.integers(min_value=0, max_value=129))
def test_age_to_group_is_monotonic(age):
    assert age_to_group(age) <= age_to_group(age + 1)


@given(st.integers(min_value=0, max_value=130))
def test_bare_numbers_map_like_exact_ages(age):
    assert parse_age(str(age), "map").label == age_to_group(age)
    assert parse_age(str(age), "drop").label == MISSING


def test_the_task_vocabulary_is_defined_once_here() -> None:
    from adiencekit import labels
    from adiencekit.models import heads

    assert labels.TASKS == ("gender", "age", "multitask") and labels.HEADS == ("gender", "age")
    assert labels.TASK_CLASSES == {"gender": 2, "age": 8} and labels.NUM_FOLDS == 5
    assert labels.CLASS_NAMES["age"] == ("0-2", "4-6", "8-12", "15-20", "25-32", "38-43", "48-53", "60-100")
    assert labels.class_names("gender") == ("female", "male")
    assert labels.task_heads("multitask") == ("gender", "age") and labels.task_heads("age") == ("age",)
    assert heads.TASKS is labels.TASKS and heads.TASK_CLASSES is labels.TASK_CLASSES  # imported, not copied
    with pytest.raises(ValueError, match="task must be one of"):
        labels.task_heads("race")
    with pytest.raises(ValueError, match="head must be one of"):
        labels.class_names("multitask")


# ------------------------------------------------------------------ expected age in years


def test_expected_age_is_the_probability_weighted_representative_age():
    from adiencekit.labels import GROUP_REPRESENTATIVE_AGES, expected_age

    one_hot = np.eye(8)
    assert np.allclose(expected_age(one_hot), GROUP_REPRESENTATIVE_AGES)
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(8), size=5)
    assert np.allclose(expected_age(p), p @ np.array(GROUP_REPRESENTATIVE_AGES))
    assert expected_age(p[0] * 0.99) == pytest.approx(expected_age(p[0]))  # normalised by the sum
    named = dict(zip(labels.AGE_GROUP_NAMES, p[1]))
    assert expected_age(named) == pytest.approx(expected_age(p[1]))
    assert expected_age(one_hot[3], representative_ages=range(8)) == 3.0
    # monotone: moving mass to an older group never lowers the age
    assert all(a < b for a, b in zip(expected_age(one_hot), expected_age(one_hot)[1:]))


@pytest.mark.parametrize("bad", [np.zeros(8), np.ones(7), -np.eye(8)[0], np.full(8, np.nan), np.ones((2, 2, 8)),
                                 {"0-2": 1.0}])
def test_expected_age_rejects_bad_distributions(bad):
    from adiencekit.labels import expected_age

    with pytest.raises(ValueError):
        expected_age(bad)


@pytest.mark.realdata
def test_representative_ages_are_the_training_faces_mean_ages(shared_data):
    from adiencekit.data import UTKFaceDataset
    from adiencekit.labels import GROUP_REPRESENTATIVE_AGES

    roots = [shared_data / "utkface", shared_data / "utkface-extra"]
    if not all((root / "images").is_dir() for root in roots):
        pytest.skip(f"real data not found at {roots}: both UTKFace folders")
    train = UTKFaceDataset(roots, check_images=False).split(
        task="multitask", val_fraction=0.1, test_fraction=0.2, seed=0).train.frame
    assert len(train) == 15050
    means = train.groupby("age")["age_years"].mean().sort_index().to_numpy()
    assert np.allclose(means, GROUP_REPRESENTATIVE_AGES, atol=0.051)
