"""A trainer double for tests and benchmarks of the queue, workers and pages: real events, no TensorFlow.

It keeps the `events.Trainer` contract. Select it with DPVIZ_TRAINER=dpviz.training.fake:train;
DPVIZ_FAKE_STEP_SECONDS slows it down. `record_fake` fills a store with finished runs in milliseconds.
"""

from __future__ import annotations

import math
import os
import time

from dpviz.privacy.samplers import epsilons_after
from dpviz.training.config import run_plan
from dpviz.training.events import EpochMetrics, Finished, Progress


def train(config, kind="private", *, data=None, should_stop=lambda: False, progress_every: int = 1):
    """Made-up accuracy and loss on the real schedule (`run_plan`), real epsilon, a real audit of made-up outputs."""
    delay = float(os.environ.get("DPVIZ_FAKE_STEP_SECONDS", "0.01"))
    start = time.perf_counter()
    plan = run_plan(config)
    last = None
    status = "completed"
    yield Progress(kind, 1, 0, plan[-1][1], loss=2.4)
    for epoch, steps_done, steps_in_epoch in plan:
        for i in range(steps_in_epoch):
            if should_stop():
                status = "cancelled"
                break
            time.sleep(delay)
            step = steps_done - steps_in_epoch + i + 1
            if step == 1 or (i + 1) % progress_every == 0:
                yield Progress(kind, epoch, step, plan[-1][1], loss=2.3 * math.exp(-step / plan[-1][1]) + 0.1)
        if status != "completed":
            break
        accuracy = (0.9 if kind == "baseline" else 0.75) * (1 - math.exp(-epoch))
        eps = None
        if kind == "private":
            eps = epsilons_after(config.privacy, steps_done, config.sampler, config.accountant)
        last = EpochMetrics(
            kind,
            epoch,
            1.5 / epoch,
            accuracy,
            1.6 / epoch,
            accuracy - 0.02,
            eps[0] if eps else None,
            1000.0,
            time.perf_counter() - start,
            steps_done,
            eps[1] if eps else None,
            *((1.6 / epoch, _validation_accuracy(config, kind, accuracy)) if config.validation_size else ()),
        )
        yield last
    audit = _audit(config, kind, last.epsilon if last else None) if status == "completed" and config.audit else None
    yield Finished(
        kind,
        status,
        "CPU (fake trainer)",
        config.sampler,
        config.accountant,
        last.epoch if last else 0,
        last.steps if last else 0,
        None,
        last.to_dict() if last else {},
        audit=audit,
    )


def _validation_accuracy(config, kind, accuracy: float) -> float:
    """Made up, but it depends on the tuned settings (best near lr 0.5, C 1) so that a study has a winner."""
    if kind == "baseline":
        return accuracy - 0.01
    penalty = 0.1 * abs(math.log10(config.learning_rate / 0.5)) + 0.05 * abs(math.log10(config.clip_norm))
    return max(0.05, accuracy - 0.01 - penalty)


def made_up_outputs(n: int, confidence: float, rng):
    """Softmax outputs over 10 classes whose true-class logit is raised by `confidence`, with labels."""
    import numpy as np

    labels = rng.integers(0, 10, n)
    logits = rng.normal(0, 1, (n, 10))
    logits[np.arange(n), labels] += confidence
    p = np.exp(logits)
    return p / p.sum(1, keepdims=True), labels


def _audit(config, kind, epsilon):
    """A real audit of made-up outputs: the baseline is more confident on its members."""
    import numpy as np

    from dpviz.audit import canary_report, run_audit

    rng = np.random.default_rng(config.seed)
    members = made_up_outputs(200, 4.0 if kind == "baseline" else 2.1, rng)
    nonmembers = made_up_outputs(200, 2.0, rng)
    report = run_audit(*members, *nonmembers, delta=config.delta, theoretical_epsilon=epsilon, seed=config.seed)
    if config.canaries:  # the baseline has memorised its canaries; the private model has not
        references = rng.exponential(2.3, 500)
        losses = rng.exponential(0.01 if kind == "baseline" else 2.3, config.canaries)
        report["canaries"] = canary_report(losses, config.canary_copies, references)
    return report


def record_fake(store, config, kind, *, sweep_id=None, group_id=None) -> str:
    """Train `config` with this double in this process and record it in `store`; returns the run id."""
    from dpviz.runs.recorder import Recorder

    os.environ.setdefault("DPVIZ_FAKE_STEP_SECONDS", "0")
    run_id = store.create_run(
        config=config.to_dict(), kind=kind, sweep_id=sweep_id, group_id=group_id, status="running"
    )
    recorder = Recorder(store, {kind: run_id})
    for event in train(config, kind):
        recorder.record(event)
    return run_id


def record_pair(store, config) -> tuple[str, str]:
    """A private run and its baseline, recorded as one group: (private id, baseline id)."""
    private = record_fake(store, config, "private")
    return private, record_fake(store, config, "baseline", group_id=private)
