"""When a run has diverged: its loss is not finite, or its test loss explodes and stays exploded.

The rule (plain Python, so it is tested in milliseconds and documented in one place): a run diverges
when a loss is not finite, or, for a run without noise (a baseline, or DP-SGD at sigma 0), when its
test loss is above FACTOR times the untrained model's at PATIENCE evaluations in a row, or at the
final one. An untrained 10-class model starts near ln 10 = 2.3, so the bound is about 46; the issue's
lr 100 / momentum 0.99 pair reaches 150-200x (376, 454).

A noised run is not held to the loss bound: DP noise alone makes the weights random-walk and the test
loss grow (measured here: the digits MLP at sigma 8 reaches 229 after 80 epochs, near-chance
accuracy). That is a run the noise overwhelmed, reported as completed with its accuracy and audit,
not an optimisation that diverged; its baseline, trained on the same schedule, shows the latter.
"""

from __future__ import annotations

import math

FACTOR = 20.0
PATIENCE = 2


class DivergenceWatch:
    """Fed each epoch's test loss; says why the run diverged, or None."""

    def __init__(self, start_loss: float, *, noised: bool = False, factor: float = FACTOR, patience: int = PATIENCE):
        self.start_loss, self.noised, self.factor, self.patience = start_loss, noised, factor, patience
        self.high: list[int] = []  # the latest run of epochs whose test loss was above the bound

    @property
    def bound(self) -> float:
        return self.factor * self.start_loss

    def check(self, epoch: int, test_loss: float, *, final: bool = False) -> str | None:
        if not math.isfinite(test_loss):
            return f"test loss became {test_loss} at epoch {epoch}"
        if self.noised:
            return None
        self.high = [*self.high, epoch] if test_loss > self.bound else []
        if self.high and (len(self.high) >= self.patience or final):
            epochs = f"epoch {epoch}" if len(self.high) == 1 else f"epochs {self.high[0]}-{epoch}"
            return (
                f"test loss {test_loss:.4g} was above {self.factor:g}x its starting value "
                f"({self.start_loss:.3g}) at {epochs}: the run exploded"
            )
        return None
