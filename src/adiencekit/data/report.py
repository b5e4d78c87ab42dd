"""The cleaning report: every row dropped, or kept with a missing label, counted by reason.

A :class:`CleaningReport` keeps, for each group of rows (an Adience fold, or ``"all"``
for a dataset without folds):

* ``input`` -- rows read;
* ``dropped`` -- rows removed, by reason (each dropped row has exactly one reason, the
  first check it failed);
* ``missing`` -- rows kept but lacking one label (``"missing age"``, ``"stray age"``
  under the ``"drop"`` policy, ``"missing gender"``); a row may count under two;
* ``notes`` -- rows kept with a remark (an age mapped under the ``"map"`` policy, a
  typo fixed, an image that the pipeline converts: ``"converted: grayscale"``, ...).

* ``details`` -- for some reasons, the items concerned (e.g. the user ids dropped as
  ``"user in several folds"``, the file names of conflicting ``labels.csv`` rows).

``kept = input - sum(dropped)`` for every group; :meth:`CleaningReport.check` verifies it
against the number of rows actually kept.

Example:

>>> from adiencekit.data.report import CleaningReport
>>> report = CleaningReport(title="demo")
>>> report.add_input(0, 10); report.add_input(1, 5)
>>> report.add_dropped("exact duplicate", 0, 2)
>>> report.add_missing("missing gender", 1)
>>> report.kept(0), report.kept(), report.dropped_total()
(8, 13, 2)
>>> report.as_dict()["dropped"]
{'exact duplicate': {0: 2, 1: 0}}
>>> print(report)  # doctest: +NORMALIZE_WHITESPACE
demo
                   0   1  total
input rows        10   5     15
dropped:
  exact duplicate  2   0      2
kept rows          8   5     13
kept, label missing:
  missing gender   0   1      1
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

__all__ = ["CleaningReport", "count_noun"]

Group = Hashable


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """``count`` followed by the noun in the right number: ``"1 user"``, ``"19 images"``.

    Example:

    >>> from adiencekit.data.report import count_noun
    >>> count_noun(1, "user"), count_noun(19, "image"), count_noun(0, "person", "people")
    ('1 user', '19 images', '0 people')
    """
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


class CleaningReport:
    """Counts of rows read, dropped, kept with a missing label, and noted, per group.

    Args:
        title: first line of the printed table.
        groups: the groups in display order (more are added as counts arrive).

    Example:

    >>> from adiencekit.data.report import CleaningReport
    >>> report = CleaningReport(groups=["all"])
    >>> report.add_input("all", 3)
    >>> report.add_dropped("missing image", "all")
    >>> report.add_note("converted: grayscale", "all")
    >>> report.as_dict()["kept"], report.as_dict()["notes"]
    ({'all': 2}, {'converted: grayscale': {'all': 1}})
    """

    def __init__(self, title: str = "cleaning report", groups: Iterable[Group] = ()) -> None:
        self.title = title
        self._groups: list[Group] = []
        self._input: dict[Group, int] = {}
        self._dropped: dict[str, dict[Group, int]] = {}
        self._missing: dict[str, dict[Group, int]] = {}
        self._notes: dict[str, dict[Group, int]] = {}
        self._details: dict[str, list[str]] = {}
        for group in groups:
            self._add_group(group)

    # -- recording ---------------------------------------------------------------------
    def _add_group(self, group: Group) -> None:
        if group not in self._input:
            self._groups.append(group)
            self._input[group] = 0

    @staticmethod
    def _check_count(count: int) -> int:
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"count must be a non-negative integer, got {count!r}")
        return int(count)

    def _add(self, table: dict[str, dict[Group, int]], reason: str, group: Group, count: int) -> None:
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"reason must be a non-empty string, got {reason!r}")
        count = self._check_count(count)
        self._add_group(group)
        row = table.setdefault(reason, {})
        row[group] = row.get(group, 0) + count

    def add_input(self, group: Group, count: int = 1) -> None:
        """Record ``count`` rows read in ``group``."""
        self._add_group(group)
        self._input[group] += self._check_count(count)

    def add_dropped(self, reason: str, group: Group, count: int = 1) -> None:
        """Record ``count`` rows of ``group`` removed for ``reason``."""
        self._add(self._dropped, reason, group, count)

    def add_missing(self, reason: str, group: Group, count: int = 1) -> None:
        """Record ``count`` kept rows of ``group`` lacking a label, for ``reason``."""
        self._add(self._missing, reason, group, count)

    def add_note(self, reason: str, group: Group, count: int = 1) -> None:
        """Record ``count`` kept rows of ``group`` with a remark such as a conversion."""
        self._add(self._notes, reason, group, count)

    def add_details(self, reason: str, items: Iterable[Any]) -> None:
        """List the items (user ids, file names) behind ``reason``, in addition to its counts.

        Example:

        >>> from adiencekit.data.report import CleaningReport
        >>> report = CleaningReport(groups=[0])
        >>> report.add_details("user in several folds", ["u7", "u2", "u7"])
        >>> report.details("user in several folds")
        ['u2', 'u7']
        """
        if not isinstance(reason, str) or not reason:
            raise ValueError(f"reason must be a non-empty string, got {reason!r}")
        listed = self._details.setdefault(reason, [])
        for item in map(str, items):
            if item not in listed:
                listed.append(item)
        listed.sort()

    # -- reading -----------------------------------------------------------------------
    def details(self, reason: str) -> list[str]:
        """The items listed for ``reason`` (empty when none were listed)."""
        return list(self._details.get(reason, []))

    @property
    def groups(self) -> list[Group]:
        """The groups (folds), in display order."""
        return list(self._groups)

    def input(self, group: Group | None = None) -> int:
        """Rows read in ``group`` (all groups when ``None``)."""
        return sum(self._input.values()) if group is None else self._input.get(group, 0)

    def dropped(self, reason: str | None = None, group: Group | None = None) -> int:
        """Rows dropped for ``reason`` (all reasons when ``None``) in ``group`` (all when ``None``)."""
        return self._sum(self._dropped, reason, group)

    def missing(self, reason: str | None = None, group: Group | None = None) -> int:
        """Kept rows lacking a label for ``reason`` in ``group`` (``None`` = all)."""
        return self._sum(self._missing, reason, group)

    def notes(self, reason: str | None = None, group: Group | None = None) -> int:
        """Kept rows noted for ``reason`` in ``group`` (``None`` = all)."""
        return self._sum(self._notes, reason, group)

    @staticmethod
    def _sum(table: dict[str, dict[Group, int]], reason: str | None, group: Group | None) -> int:
        rows = table.values() if reason is None else [table.get(reason, {})]
        return sum(sum(row.values()) if group is None else row.get(group, 0) for row in rows)

    def dropped_total(self, group: Group | None = None) -> int:
        """Rows dropped for any reason in ``group`` (all groups when ``None``)."""
        return self.dropped(None, group)

    def kept(self, group: Group | None = None) -> int:
        """Rows kept: ``input - dropped`` for ``group`` (all groups when ``None``)."""
        return self.input(group) - self.dropped_total(group)

    @property
    def dropped_reasons(self) -> list[str]:
        """Reasons with at least one dropped row, in the order first recorded."""
        return [reason for reason, row in self._dropped.items() if sum(row.values())]

    def check(self, kept_per_group: dict[Group, int]) -> None:
        """Verify that the counts add up: ``input == dropped + kept`` in every group.

        Args:
            kept_per_group: the number of rows actually kept, per group.

        Raises:
            AssertionError: naming the first group whose counts do not add up.
        """
        for group in set(self._groups) | set(kept_per_group):
            actual = int(kept_per_group.get(group, 0))
            if self.kept(group) != actual:
                raise AssertionError(
                    f"cleaning report does not add up for group {group!r}: input {self.input(group)} - "
                    f"dropped {self.dropped_total(group)} = {self.kept(group)}, but {actual} rows were kept"
                )

    def merge(self, other: CleaningReport) -> CleaningReport:
        """Add every count of ``other`` into this report (in place) and return it."""
        for group in other._groups:
            self.add_input(group, other._input[group])
        for source, add in (
            (other._dropped, self.add_dropped),
            (other._missing, self.add_missing),
            (other._notes, self.add_note),
        ):
            for reason, row in source.items():
                for group, count in row.items():
                    add(reason, group, count)
        for reason, items in other._details.items():
            self.add_details(reason, items)
        return self

    def _table(self, table: dict[str, dict[Group, int]]) -> dict[str, dict[Group, int]]:
        return {reason: {g: row.get(g, 0) for g in self._groups} for reason, row in table.items()}

    def as_dict(self) -> dict[str, Any]:
        """All counts as plain dicts (groups as keys), plus the totals.

        Returns:
            ``{"title", "groups", "input", "dropped", "kept", "missing", "notes", "details",
            "totals"}``; ``dropped``/``missing``/``notes`` map reason -> group -> count,
            ``details`` maps reason -> listed items, and ``totals["dropped_by_reason"]``
            gives each reason's total (e.g. ``"user in several folds"``) for run metrics.
        """
        return {
            "title": self.title,
            "groups": list(self._groups),
            "input": {g: self._input[g] for g in self._groups},
            "dropped": self._table(self._dropped),
            "kept": {g: self.kept(g) for g in self._groups},
            "missing": self._table(self._missing),
            "notes": self._table(self._notes),
            "details": {reason: list(items) for reason, items in self._details.items() if items},
            "totals": {
                "input": self.input(),
                "dropped": self.dropped_total(),
                "dropped_by_reason": {reason: sum(row.values()) for reason, row in self._dropped.items()},
                "kept": self.kept(),
                "missing": {reason: sum(row.values()) for reason, row in self._missing.items()},
                "notes": {reason: sum(row.values()) for reason, row in self._notes.items()},
            },
        }

    def __str__(self) -> str:
        groups = self._groups
        def rows(table: dict[str, dict[Group, int]]) -> list[tuple[str, list[int]]]:
            return [("  " + reason, [row.get(g, 0) for g in groups]) for reason, row in table.items()]

        lines_spec: list[tuple[str, list[int] | None]] = [("input rows", [self._input[g] for g in groups])]
        if self._dropped:
            lines_spec.append(("dropped:", None))
            lines_spec.extend(rows(self._dropped))
        lines_spec.append(("kept rows", [self.kept(g) for g in groups]))
        if self._missing:
            lines_spec.append(("kept, label missing:", None))
            lines_spec.extend(rows(self._missing))
        if self._notes:
            lines_spec.append(("notes (kept rows):", None))
            lines_spec.extend(rows(self._notes))
        width = max(len(name) for name, _ in lines_spec)
        headers = [str(g) for g in groups] + ["total"]
        widths = [
            max([len(h)] + [len(str(v)) for _, vals in lines_spec if vals is not None for v in [*vals, sum(vals)]])
            for h in headers
        ]
        out = [self.title, " " * width + "  " + "  ".join(h.rjust(w) for h, w in zip(headers, widths))]
        for name, vals in lines_spec:
            if vals is None:
                out.append(name)
            else:
                cells = [*vals, sum(vals)]
                out.append(name.ljust(width) + "  " + "  ".join(str(v).rjust(w) for v, w in zip(cells, widths)))
        for reason, items in self._details.items():
            if items:
                shown = ", ".join(items[:20]) + (f", ... ({len(items) - 20} more)" if len(items) > 20 else "")
                out.append(f"{reason}: {shown}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return (
            f"CleaningReport(title={self.title!r}, input={self.input()}, dropped={self.dropped_total()}, "
            f"kept={self.kept()})"
        )
