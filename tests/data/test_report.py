"""Tests for adiencekit.data.report.CleaningReport."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adiencekit.data import report as report_module
from adiencekit.data.folds import read_folds
from adiencekit.data.adience import label_fold_table
from adiencekit.data.report import CleaningReport


def test_docstring_examples_run():
    result = doctest.testmod(report_module)
    assert result.attempted >= 10 and result.failed == 0


def make_report() -> CleaningReport:
    report = CleaningReport(title="t", groups=[0, 1])
    report.add_input(0, 10)
    report.add_input(1, 6)
    report.add_dropped("exact duplicate", 0, 2)
    report.add_dropped("missing image", 1, 3)
    report.add_dropped("missing image", 1)
    report.add_missing("missing age", 0, 4)
    report.add_note("converted: grayscale", 1, 2)
    return report


def test_counts_and_totals():
    report = make_report()
    assert report.input() == 16 and report.input(1) == 6
    assert report.dropped("missing image") == 4 and report.dropped("missing image", 0) == 0
    assert report.dropped_total() == 6 and report.kept(0) == 8 and report.kept(1) == 2 and report.kept() == 10
    assert report.missing("missing age", 0) == 4 and report.notes() == 2
    assert report.dropped_reasons == ["exact duplicate", "missing image"]


def test_as_dict_is_complete_and_adds_up():
    data = make_report().as_dict()
    assert data["groups"] == [0, 1]
    assert data["input"] == {0: 10, 1: 6}
    assert data["dropped"] == {"exact duplicate": {0: 2, 1: 0}, "missing image": {0: 0, 1: 4}}
    assert data["kept"] == {0: 8, 1: 2}
    assert data["missing"] == {"missing age": {0: 4, 1: 0}}
    assert data["notes"] == {"converted: grayscale": {0: 0, 1: 2}}
    assert data["totals"]["input"] == data["totals"]["dropped"] + data["totals"]["kept"] == 16


def test_str_is_a_table_with_every_reason_and_totals():
    text = str(make_report())
    lines = text.splitlines()
    assert lines[0] == "t"
    assert lines[1].split() == ["0", "1", "total"]
    rows = {line.strip().rsplit(None, 3)[0]: line.split()[-3:] for line in lines[2:] if line.split()[-1].isdigit()}
    assert rows["input rows"] == ["10", "6", "16"]
    assert rows["exact duplicate"] == ["2", "0", "2"]
    assert rows["missing image"] == ["0", "4", "4"]
    assert rows["kept rows"] == ["8", "2", "10"]
    assert rows["missing age"] == ["4", "0", "4"]
    assert rows["converted: grayscale"] == ["0", "2", "2"]
    assert "dropped:" in lines and "kept, label missing:" in lines and "notes (kept rows):" in lines


def test_check_detects_counts_that_do_not_add_up():
    report = make_report()
    report.check({0: 8, 1: 2})
    with pytest.raises(AssertionError, match="group 1.*3 rows were kept"):
        report.check({0: 8, 1: 3})


@pytest.mark.parametrize("count", [-1, 1.5, True, "2"])
def test_bad_counts_are_rejected(count):
    with pytest.raises((ValueError, TypeError)):
        CleaningReport().add_dropped("x", 0, count)


def test_empty_reason_is_rejected():
    with pytest.raises(ValueError, match="reason"):
        CleaningReport().add_note("", 0)


def test_merge_adds_every_count():
    merged = CleaningReport(title="m").merge(make_report()).merge(make_report())
    assert merged.input() == 32 and merged.dropped("missing image", 1) == 8
    assert merged.missing() == 8 and merged.notes() == 4 and merged.groups == [0, 1]


@given(st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.integers(0, 50), st.integers(0, 50)), max_size=20))
def test_kept_is_input_minus_dropped(entries):
    report = CleaningReport()
    for group, read, dropped in entries:
        report.add_input(group, read + dropped)
        report.add_dropped("r", group, dropped)
    assert report.kept() == sum(read for _, read, _ in entries)
    assert sum(report.as_dict()["kept"].values()) + report.dropped_total() == report.input()


@pytest.mark.realdata
@pytest.mark.parametrize("release", ["current", "2015"])
@pytest.mark.parametrize("policy", ["drop", "map"])
def test_report_adds_up_on_the_real_fold_files(release, policy, adience_folds_dir, adience_folds_2015_dir):
    folds_dir = adience_folds_dir if release == "current" else adience_folds_2015_dir
    frame, report = label_fold_table(read_folds(folds_dir), policy)
    data = report.as_dict()
    total = 19370 if release == "current" else 19487
    assert data["totals"]["input"] == total
    for fold in range(5):
        dropped = sum(row[fold] for row in data["dropped"].values())
        assert data["input"][fold] == dropped + data["kept"][fold] == dropped + int((frame["fold"] == fold).sum())
    assert report.dropped("exact duplicate") == (0 if release == "current" else 117)
    # Raw age counts of the real files (shared/data/README.md): 748 None, 130 stray ranges,
    # 1099 bare numbers; 1099 "u" + 779 empty genders.
    assert report.missing("missing age") == 748
    assert report.missing("missing gender") == 1099 + 779 == int((frame["gender"] == -1).sum())
    if policy == "drop":
        assert report.missing("stray age (policy 'drop')") == 130 + 1099
        assert int((frame["age"] == -1).sum()) == 748 + 130 + 1099
    else:
        assert report.notes("age mapped: stray range") == 130 and report.notes("age mapped: number") == 1099
        assert int((frame["age"] == -1).sum()) == 748
    assert report.notes("age typo fixed: (25, 23) -> (25, 32)") == (0 if release == "current" else 72)
