"""When a training run counts as diverged: the rule, in one place.

A run fails (``failed.json``, :class:`~adiencekit.errors.TrainingDivergedError`, exit
status 2 from the CLI) instead of being reported as finished when:

1. **a loss is not finite** (NaN or infinite), after any training batch or epoch;
2. **a loss explodes**: an epoch's training or validation loss exceeds
   :data:`EXPLOSION_FACTOR` times the *uniform-guess loss* of the task, the loss of a
   model that gives every class the same probability (``ln 2`` for gender, ``ln 8``
   for age, their sum for multitask). A healthy run starts near that loss and goes
   down; cross-entropy of a model that has gone wild is orders of magnitude above it
   (``train --learning-rate 10`` reached 2.4e14 in its first epoch);
3. **the final model is worse than knowing nothing**: on the test set every head scores
   at or below the share of its most common class (what predicting that one class for
   every face scores), *and* even the best epoch's validation loss is at least
   :data:`WORSE_THAN_GUESS_FACTOR` times the uniform-guess loss, i.e. the model is
   confidently wrong. Both must hold: a short or weak run that is still near a uniform
   guess (a smoke test of one epoch ends about there) is reported with its scores, not
   failed, and so is a model whose test set happens to be lopsided.

Example:

>>> from adiencekit.training.divergence import explosion_limit, learned_nothing, uniform_loss
>>> round(uniform_loss("gender"), 4), round(uniform_loss("multitask"), 4)
(0.6931, 2.7726)
>>> round(explosion_limit("gender"), 1)
69.3
>>> print(learned_nothing({"gender": (0.41, [[0, 41], [0, 59]])}, best_val_loss=5.0, task="gender"))
... # doctest: +NORMALIZE_WHITESPACE
every head scores at or below predicting one class for every face (gender 0.410 <= 0.590) and
the best validation loss 5 is at least 2 times that of a uniform guess (0.693)
>>> learned_nothing({"gender": (0.80, [[40, 1], [19, 40]])}, best_val_loss=0.5, task="gender") is None
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from adiencekit.labels import TASK_CLASSES, task_heads

__all__ = ["EXPLOSION_FACTOR", "WORSE_THAN_GUESS_FACTOR", "explosion_limit", "learned_nothing", "uniform_loss"]

#: An epoch loss above this many uniform-guess losses counts as an explosion.
EXPLOSION_FACTOR = 100.0

#: A best validation loss this many uniform-guess losses high (or more), with every head
#: at or below chance, counts as a model worse than knowing nothing.
WORSE_THAN_GUESS_FACTOR = 2.0

def uniform_loss(task: str) -> float:
    """Cross-entropy of giving every class the same probability, summed over the task's heads."""
    return float(sum(math.log(TASK_CLASSES[head]) for head in task_heads(task)))


def explosion_limit(task: str) -> float:
    """The epoch loss above which a run of ``task`` counts as exploded (see the module)."""
    return EXPLOSION_FACTOR * uniform_loss(task)


def learned_nothing(
    heads: Mapping[str, tuple[float, Sequence[Sequence[int]]]], best_val_loss: float | None, task: str
) -> str | None:
    """Why the final model counts as worse than knowing nothing (rule 3 of the module), or ``None``.

    Args:
        heads: per head, ``(test exact accuracy, confusion matrix with true classes as rows)``.
        best_val_loss: the validation loss of the kept (best) epoch.
        task: the run's task.

    Returns:
        A reason for ``failed.json``, or ``None`` when the model learned something.
    """
    baseline = uniform_loss(task)
    if best_val_loss is None or not math.isfinite(best_val_loss) or best_val_loss < WORSE_THAN_GUESS_FACTOR * baseline:
        return None
    parts = []
    for head, (exact, confusion) in heads.items():
        counts = [sum(row) for row in confusion]
        majority = max(counts) / sum(counts) if sum(counts) else 0.0
        if exact > majority:
            return None
        parts.append(f"{head} {exact:.3f} <= {majority:.3f}")
    return (
        f"every head scores at or below predicting one class for every face ({', '.join(parts)}) and the best "
        f"validation loss {best_val_loss:.3g} is at least {WORSE_THAN_GUESS_FACTOR:g} times that of a uniform "
        f"guess ({baseline:.3f})"
    )
