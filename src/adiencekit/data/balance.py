"""Group-balanced sampling of training faces: rare age groups drawn more often.

A training set such as UTKFace with its extra folder is mostly adults of 25-32: a model
trained on it in proportion calls most teenagers 25-32 and learns children from few
faces. :func:`balanced_sampling` reweighs the draw, as *repeat-factor sampling* does
(Gupta et al., LVIS 2019), with a rate per group instead of per class set:

* each face of group ``g`` (``n_g`` faces, the largest group ``n_max``) gets the rate
  ``r_g = min(cap, n_max / n_g)``: a group half the size of the largest is drawn twice as
  often per face, and no face more than ``cap`` times as often as a face of the largest
  group (a tiny group is not repeated until it is memorised);
* faces without a group (a missing age label, ``-1``) keep the rate 1 of their own;
* an epoch keeps its number of faces (the training set's size, so the same number of
  steps): group ``g`` fills the share ``n_g r_g / sum_h n_h r_h`` of it, in expectation.

The input pipeline (:func:`adiencekit.data.pipeline.build_pipeline` with ``balance``)
turns that into one stream per group, each cached, shuffled and repeated, mixed with
``tf.data.Dataset.sample_from_datasets`` at these shares: seeded (the same seed gives the
same draw) with a new draw each epoch. Labels and masks travel with their images
untouched.

Example:

>>> import numpy as np
>>> from adiencekit.data.balance import balanced_sampling
>>> ages = np.array([4] * 80 + [3] * 16 + [0] * 4)   # 80 adults, 16 teens, 4 babies
>>> sampling = balanced_sampling({"age": ages}, "age_group", cap=4.0)
>>> sampling.groups, [round(r, 2) for r in sampling.rates]
((0, 3, 4), [4.0, 4.0, 1.0])
>>> [round(s, 3) for s in sampling.shares]   # was 0.04, 0.16, 0.80
[0.1, 0.4, 0.5]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from adiencekit.errors import ConfigError
from adiencekit.labels import MISSING

__all__ = ["BALANCE_CAP", "BALANCE_MODES", "BalancedSampling", "balanced_sampling", "check_balance"]

#: What a face's group is: ``"age_group"`` (its age class). ``None`` (no balancing) is the default elsewhere.
BALANCE_MODES: tuple[str, ...] = ("age_group",)
#: No face is drawn more than this many times as often as a face of the largest group.
BALANCE_CAP = 4.0

_MODE_LABEL = {"age_group": "age"}


def check_balance(balance: Any) -> str | None:
    """Check a ``balance`` value: ``None`` or one of :data:`BALANCE_MODES`.

    Raises:
        ConfigError: for any other value, naming the allowed ones.

    Example:

    >>> from adiencekit.data.balance import check_balance
    >>> check_balance("age_group"), check_balance(None)
    ('age_group', None)
    >>> check_balance("race")
    Traceback (most recent call last):
    ...
    adiencekit.errors.ConfigError: balance must be None or one of ('age_group',), got 'race'
    """
    if balance is not None and balance not in BALANCE_MODES:
        raise ConfigError(f"balance must be None or one of {BALANCE_MODES}, got {balance!r}")
    return balance


@dataclass(frozen=True)
class BalancedSampling:
    """The draw of a balanced epoch: which faces form each group and how often they come.

    Attributes:
        groups: the group keys in ascending order (``-1``: faces without a group).
        members: for each group, the indices of its faces (ascending).
        rates: for each group, the rate of each of its faces relative to a face of the
            largest group (``min(cap, n_max / n_g)``; 1 for ``-1``).
        shares: for each group, its expected share of an epoch (sums to 1).
    """

    groups: tuple[int, ...]
    members: tuple[np.ndarray, ...]
    rates: tuple[float, ...]
    shares: tuple[float, ...]

    def expected_draws(self) -> dict[int, float]:
        """Expected draws per face and epoch, by group (an epoch draws as many faces as there are).

        Example:

        >>> import numpy as np
        >>> from adiencekit.data.balance import balanced_sampling
        >>> s = balanced_sampling(np.array([0, 1, 1, 1]), "age_group", cap=4.0)
        >>> {g: round(d, 3) for g, d in s.expected_draws().items()}
        {0: 2.0, 1: 0.667}
        """
        total = sum(len(m) for m in self.members)
        return {g: total * share / len(m) for g, m, share in zip(self.groups, self.members, self.shares)}


def balanced_sampling(
    labels: np.ndarray | Mapping[str, np.ndarray],
    balance: str,
    *,
    cap: float = BALANCE_CAP,
) -> BalancedSampling:
    """The groups, rates and epoch shares of a group-balanced draw (see the module docstring).

    Args:
        labels: the training labels: an ``int`` array of age classes, or a dict holding
            ``"age"`` (as the pipeline receives them).
        balance: one of :data:`BALANCE_MODES`.
        cap: the largest rate, at least 1.

    Returns:
        A :class:`BalancedSampling`.

    Raises:
        ConfigError: for an unknown ``balance``, a ``cap`` below 1, or labels without
            the ones ``balance`` groups by.
    """
    check_balance(balance)
    if balance is None:
        raise ConfigError("balanced_sampling needs a balance mode, got None")
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap >= 1:
        raise ConfigError(f"balance cap must be a number >= 1, got {cap!r}")
    column = _MODE_LABEL[balance]
    if isinstance(labels, Mapping):
        if column not in labels:
            raise ConfigError(f"balance={balance!r} needs {column!r} labels; these have {sorted(labels)}")
        keys = np.asarray(labels[column])
    else:
        keys = np.asarray(labels)
    if keys.ndim != 1 or not len(keys):
        raise ConfigError(f"balance={balance!r} needs a non-empty 1-D array of {column} labels, got shape {keys.shape}")
    keys = keys.astype(np.int64)
    groups = tuple(int(g) for g in np.unique(keys))
    members = tuple(np.flatnonzero(keys == g) for g in groups)
    largest = max((len(m) for g, m in zip(groups, members) if g != MISSING), default=1)
    rates = tuple(1.0 if g == MISSING else float(min(cap, largest / len(m))) for g, m in zip(groups, members))
    weights = np.array([len(m) * r for m, r in zip(members, rates)], dtype=np.float64)
    shares = tuple(float(w) for w in weights / weights.sum())
    return BalancedSampling(groups, members, rates, shares)
