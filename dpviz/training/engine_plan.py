"""How a run's steps fall into epochs (plain Python, shared by the engine's callers and its double)."""

from __future__ import annotations

import math


def run_plan(config) -> list[tuple[int, int, int]]:
    """[(epoch, steps done at its end, steps in it)]: ceil(n/b) steps an epoch, ceil(epochs n / b) in all."""
    n = config.train_size
    per_epoch = math.ceil(n / config.batch_size)
    total = config.privacy.steps
    plan, done, epoch = [], 0, 0
    while done < total:
        epoch += 1
        steps = min(per_epoch, total - done)
        done += steps
        plan.append((epoch, done, steps))
    return plan
