"""The shared test helpers catch what they are for."""

from __future__ import annotations

import pytest

from adiencekit.testing import assert_runs_without_tensorflow


def test_runs_without_tensorflow_fails_when_tensorflow_is_imported_or_the_code_fails() -> None:
    assert_runs_without_tensorflow("x = 1")
    with pytest.raises(AssertionError, match="tensorflow"):
        assert_runs_without_tensorflow("import sys; sys.modules['tensorflow'] = sys")  # as if imported
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        assert_runs_without_tensorflow("1 / 0")
