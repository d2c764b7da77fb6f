"""A study: an Optuna study whose trials are dpviz runs, and the record of what it cost.

Accounted search ("random", the default): σ is calibrated once so that the best of K trials meets the
target ε (dp-accounting's RepeatAndSelect, `privacy/tuning`); K is drawn from exactly the distribution
accounted; every trial's settings are drawn independently (Optuna's RandomSampler), so nothing adapts.
Exploration ("tpe"): Optuna's TPE with median pruning adapts to results, which this accounting does not
cover; it runs the mean number of trials at the same σ and claims no total ε.

Studies live in Optuna's own storage (`studies.sqlite3` beside the run store); each trial names its
run ids, and each run names its study (the run's `sweep_id`). They survive restarts.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dpviz.privacy.tuning import SearchCost, calibrate_search
from dpviz.runs.corrections import corrected_study_cost
from dpviz.runs.store import SqliteRunStore
from dpviz.training.config import schedule_key
from dpviz.tuning.config import TuneConfig
from dpviz.validation import ValidationError

STUDY_FILE = "studies.sqlite3"
POLL_SECONDS = 0.2
TUNED = ("learning_rate", "clip_norm", "momentum")
FINAL = ("completed", "cancelled", "failed", "interrupted")


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage(home) -> object:
    """Optuna's RDB storage in the dpviz home (created 0700 with the run store)."""
    import fcntl

    store = SqliteRunStore(home)
    store.ensure_created()
    # Opening creates Optuna's tables on first use; two processes doing it at once (the Tune page polling while
    # the first study's driver starts) collide on alembic's version row, so openings take turns.
    with open(Path(store.home) / "studies.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _optuna().storages.RDBStorage(
            f"sqlite:///{Path(store.home) / STUDY_FILE}", engine_kwargs={"connect_args": {"timeout": 30}}
        )


def plan(config: TuneConfig) -> SearchCost:
    """The σ every trial trains with, and what one trial and the whole search cost.

    Raises:
      ValidationError: (field "target_epsilon") when no σ meets the target.
    """
    return calibrate_search(config.privacy, config.count, target_epsilon=config.target_epsilon, sampler=config.sampler)


def _distributions(config: TuneConfig) -> dict:
    optuna = _optuna()
    dist = optuna.distributions
    out = {}
    for name, (low, high) in (("learning_rate", config.learning_rate_range), ("clip_norm", config.clip_norm_range)):
        out[name] = dist.FloatDistribution(low, high, log=low < high)
    if config.optimizer == "sgd" and config.momentum_range is not None:
        low, high = config.momentum_range
        out["momentum"] = dist.FloatDistribution(low, high)
    return out


def _sampler_and_pruner(config: TuneConfig):
    optuna = _optuna()
    if config.accounted:
        return optuna.samplers.RandomSampler(seed=config.seed), optuna.pruners.NopPruner()
    startup = max(2, min(5, round(config.trials_mean) // 3))
    return (
        optuna.samplers.TPESampler(seed=config.seed, n_startup_trials=startup),
        optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=1),
    )


@dataclass
class TrialRow:
    """One trial as the CLI prints it and the page lists it."""

    number: int
    state: str  # running | complete | pruned | fail
    run_status: str | None
    params: dict
    run_id: str | None
    baseline_id: str | None
    validation_accuracy: float | None
    test_accuracy: float | None
    baseline_test_accuracy: float | None = None
    epsilon: float | None = None

    def to_dict(self) -> dict:
        return {
            "trial": self.number,
            "state": self.state,
            "status": self.run_status,
            "run_id": self.run_id,
            "baseline_id": self.baseline_id,
            **{name: self.params.get(name) for name in TUNED},
            "validation_accuracy": self.validation_accuracy,
            "test_accuracy": self.test_accuracy,
            "baseline_test_accuracy": self.baseline_test_accuracy,
            "epsilon_per_trial": self.epsilon,
        }


@dataclass
class StudyRecord:
    """A study as stored: its settings, cost, status and trials (read by pages and `tune` alike)."""

    id: str
    config: TuneConfig
    cost: dict
    status: str
    backend: str
    trials_drawn: int | None
    trials: list[TrialRow]
    started_at: float | None = None
    finished_at: float | None = None
    error: str | None = None
    pid: int | None = None
    test_size: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def accounted(self) -> bool:
        return self.config.accounted

    @property
    def finished(self) -> list[TrialRow]:
        return [t for t in self.trials if t.state != "running"]

    @property
    def best(self) -> TrialRow | None:
        """The trial with the highest validation accuracy (the first of equals)."""
        scored = [t for t in self.trials if t.state == "complete" and t.validation_accuracy is not None]
        return max(scored, key=lambda t: (t.validation_accuracy, -t.number)) if scored else None

    @property
    def epsilon_total(self) -> float | None:
        """The whole search's ε, claimed only for an accounted search that ran every trial it drew."""
        if not self.accounted or self.status != "completed":
            return None
        total = self.cost.get("epsilon_total")
        return total if isinstance(total, int | float) and math.isfinite(total) else None

    @property
    def wall_seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    def summary(self) -> dict:
        best = self.best
        cost = self.cost
        return {
            "study": self.id,
            "name": self.config.name,
            "status": self.status,
            "search": self.config.search,
            "trials_run": len(self.finished),
            "trials_drawn": self.trials_drawn,
            "trials_mean": self.config.trials_mean,
            "trials_shape": cost.get("trials_shape"),
            "trials_distribution": cost.get("trials_distribution"),
            "noise_multiplier": cost.get("noise_multiplier"),
            "sampling_probability": cost.get("sampling_probability"),
            "steps": cost.get("steps"),
            "delta": cost.get("delta"),
            "epsilon_total": self.epsilon_total,
            "epsilon_per_trial": cost.get("epsilon_per_trial"),
            "sampler": self.config.sampler,
            "neighboring_relation": cost.get("neighboring_relation"),
            "backend": self.backend,
            "train_size": self.config.train_size,
            "validation_size": self.config.validation_size,
            "test_size": self.test_size,
            "wall_seconds": self.wall_seconds,
            "best": None
            if best is None
            else {
                "trial": best.number,
                "run_id": best.run_id,
                **{name: best.params.get(name) for name in TUNED},
                "validation_accuracy": best.validation_accuracy,
                "test_accuracy": best.test_accuracy,
            },
            "note": claim(self),
        }


def claim(record: StudyRecord) -> str:
    """What the study's ε covers, in one sentence."""
    cost = record.cost
    if not record.accounted:
        return (
            "Exploration (TPE with pruning) adapts each trial to earlier results: the Papernot-Steinke accounting "
            "does not cover it, so no ε is claimed for the search; each trial alone has "
            f"ε = {cost.get('epsilon_per_trial', float('nan')):.3g}."
        )
    if record.status == "completed" and record.epsilon_total is None:
        return "dp-accounting bounds this search by no finite ε, so no ε is claimed for it." + correction_note(record)
    if record.status == "completed":
        drawn = record.trials_drawn
        return (
            f"The whole search (best of {drawn} trial{'s' if drawn != 1 else ''}, a number drawn from the "
            f"{cost.get('trials_distribution')} distribution with mean {record.config.trials_mean:g}) is "
            f"(ε = {cost.get('epsilon_total', float('nan')):.3g}, δ = {cost.get('delta'):g})-DP for the "
            f"{record.config.train_size:,} training examples (dp-accounting RDP, RepeatAndSelect). The "
            f"{record.config.validation_size:,} validation examples that chose the best trial are not covered."
            + correction_note(record)
        )
    return (
        f"The study is {record.status}: the search's guarantee holds only for a search that runs every trial it "
        "drew, so no ε is claimed for it; each trial alone has "
        f"ε = {cost.get('epsilon_per_trial', float('nan')):.3g}."
    )


def correction_note(record: StudyRecord) -> str:
    """For a fixed-sampler study an older dpviz stored: that its ε was corrected, and from what."""
    stored = record.cost.get("epsilon_as_stored")
    if not isinstance(stored, dict):
        return ""
    was, now, target = stored.get("epsilon_total"), record.cost.get("epsilon_total"), record.config.target_epsilon
    if not isinstance(was, int | float):
        return ""
    if not (isinstance(now, int | float) and math.isfinite(now)):
        now_text = "at that σ dp-accounting gives no finite bound"
    else:
        now_text = "the ε given here is that σ's" + (f", above the target of {target:g}" if now > target else "")
    return (
        " Corrected: an older dpviz under-stated the fixed-size sampler's ε (replace-one moves the clipped sum by "
        f"2C) and stated {was:.3g} for this search, whose σ = {record.cost.get('noise_multiplier'):g} was "
        f"calibrated with it; {now_text}."
    )


def _trial_rows(study, store: SqliteRunStore, numbers=None) -> list[TrialRow]:
    """The study's trials (only those numbered `numbers`, if given) with their runs' figures."""
    optuna = _optuna()
    states = {
        optuna.trial.TrialState.RUNNING: "running",
        optuna.trial.TrialState.WAITING: "running",
        optuna.trial.TrialState.COMPLETE: "complete",
        optuna.trial.TrialState.PRUNED: "pruned",
        optuna.trial.TrialState.FAIL: "fail",
    }
    rows = []
    for trial in study.get_trials(deepcopy=False):
        if numbers is not None and trial.number not in numbers:
            continue
        attrs = trial.user_attrs
        run = store.get(attrs["run_id"]) if attrs.get("run_id") else None
        baseline = store.get(attrs["baseline_id"]) if attrs.get("baseline_id") else None
        final = (run.final.get("final") or {}) if run else {}
        rows.append(
            TrialRow(
                number=trial.number,
                state=states.get(trial.state, "fail"),
                run_status=run.status if run else None,
                params=dict(trial.params),
                run_id=attrs.get("run_id"),
                baseline_id=attrs.get("baseline_id"),
                validation_accuracy=trial.value if trial.value is not None else attrs.get("validation_accuracy"),
                test_accuracy=attrs.get("test_accuracy", final.get("test_accuracy")),
                baseline_test_accuracy=(baseline.final.get("final") or {}).get("test_accuracy") if baseline else None,
                epsilon=attrs.get("epsilon"),
            )
        )
    return rows


def _record(study, store: SqliteRunStore) -> StudyRecord:
    from dpviz.datasets import DATASETS
    from dpviz.runs.launcher import pid_alive

    attrs = study.user_attrs
    config = TuneConfig.from_dict(attrs["config"])
    cost = attrs.get("cost", {})
    corrected = corrected_study_cost(config, cost)
    if corrected is not None:  # an older dpviz under-stated a fixed-sampler search's ε: correct it, once
        cost = corrected
        with contextlib.suppress(Exception):  # a read-only storage: corrected again at the next read
            study.set_user_attr("cost", cost)
    status = attrs.get("status", "running")
    if status == "running" and not pid_alive(attrs.get("pid")):
        status = "interrupted"
    return StudyRecord(
        id=study.study_name,
        config=config,
        cost=cost,
        status=status,
        backend=attrs.get("backend", "local"),
        trials_drawn=attrs.get("trials_drawn"),
        trials=_trial_rows(study, store),
        started_at=attrs.get("started_at"),
        finished_at=attrs.get("finished_at"),
        error=attrs.get("error"),
        pid=attrs.get("pid"),
        test_size=DATASETS[config.dataset].test_size,
    )


def load(home, study_id: str) -> StudyRecord:
    """The stored study `study_id` (a unique prefix will do).

    Raises:
      ValidationError: (field "study") when no study, or several, match.
    """
    optuna = _optuna()
    from dpviz.runs.store import match_ids

    st = storage(home)
    names = sorted(s.study_name for s in optuna.study.get_all_study_summaries(st, include_best_trial=False))
    name = match_ids([n for n in names if n.startswith(study_id)], study_id, field="study")
    return _record(optuna.load_study(study_name=name, storage=st), SqliteRunStore(home))


def list_studies(home) -> list[StudyRecord]:
    """Every stored study, newest first."""
    optuna = _optuna()
    if not (Path(SqliteRunStore(home).home) / STUDY_FILE).exists():
        return []
    st, store = storage(home), SqliteRunStore(home)
    records = []
    for summary in optuna.study.get_all_study_summaries(st, include_best_trial=False):
        if "config" in summary.user_attrs:
            try:
                records.append(_record(optuna.load_study(study_name=summary.study_name, storage=st), store))
            except (ValidationError, KeyError, TypeError):
                continue  # a study another tool wrote into this storage
    return sorted(records, key=lambda r: r.started_at or 0, reverse=True)


def request_cancel(home, study_id: str) -> None:
    """Ask the study's driver to stop: it cancels the trials still training and marks the study cancelled."""
    optuna = _optuna()
    study = optuna.load_study(study_name=load(home, study_id).id, storage=storage(home))
    study.set_user_attr("cancel_requested", True)


def optuna_study(home, study_id: str):
    """The Optuna study itself, for Optuna's plots."""
    optuna = _optuna()
    return optuna.load_study(study_name=load(home, study_id).id, storage=storage(home))


def new_study_id() -> str:
    return "study-" + uuid.uuid4().hex[:8]


def run_study(
    config: TuneConfig,
    *,
    home=None,
    backend: str = "local",
    ray_address: str | None = None,
    study_id: str | None = None,
    on_trial: Callable[[TrialRow], None] | None = None,
    on_start: Callable[[StudyRecord], None] | None = None,
) -> StudyRecord:
    """Run a whole study and return its record (also stored).

    Args:
      config: the validated study settings.
      home: the dpviz home (run store and Optuna storage).
      backend: "local" (worker processes) or "ray".
      ray_address: a Ray cluster's address; None starts a local instance.
      study_id: the id to store it under (default: a new one).
      on_trial: called with each trial as it finishes.
      on_start: called once the study is stored, before anything trains.

    Returns:
      The finished study's StudyRecord.

    Raises:
      ValidationError: for a target no σ meets, an unknown backend or a Ray cluster that cannot be reached.
    """
    from dpviz.tuning.backends import create_backend

    optuna = _optuna()
    cost = plan(config)
    store = SqliteRunStore(home)
    store.ensure_created()
    study_id = study_id or new_study_id()
    rng = np.random.default_rng(config.seed)
    drawn = config.count.sample(rng) if config.accounted else config.planned_trials
    sampler, pruner = _sampler_and_pruner(config)
    runner = create_backend(backend, store, address=ray_address)
    study = optuna.create_study(
        storage=storage(home), study_name=study_id, direction="maximize", sampler=sampler, pruner=pruner
    )
    for key, value in {
        "config": config.to_dict(),
        "cost": cost.to_dict(),
        "trials_drawn": drawn,
        "status": "running",
        "backend": backend,
        "pid": os.getpid(),
        "started_at": time.time(),
    }.items():
        study.set_user_attr(key, value)
    if on_start:
        on_start(_record(study, store))
    distributions = _distributions(config)
    sigma = cost.params.noise_multiplier
    pending: dict[int, tuple] = {}  # trial number -> (trial, private id, baseline id, epochs reported)
    baselines: dict[tuple, str] = {}
    asked = 0
    status, error = "completed", None
    parallel = max(1, runner.slots())
    last_cancel_check = 0.0
    try:
        while asked < drawn or pending:
            now = time.monotonic()
            if now - last_cancel_check >= 0.5:
                last_cancel_check = now
                if optuna.load_study(study_name=study_id, storage=study._storage).user_attrs.get("cancel_requested"):
                    status = "cancelled"
                    break
            # random: independent draws, queued a little ahead; tpe: asks only when a slot frees (it adapts)
            room = (2 * parallel if config.accounted else parallel) - len(pending)
            while asked < drawn and room > 0:
                trial = study.ask(distributions)
                train = config.trial_config(
                    noise_multiplier=sigma,
                    learning_rate=trial.params["learning_rate"],
                    clip_norm=trial.params["clip_norm"],
                    momentum=trial.params.get("momentum", 0.0),
                    number=trial.number,
                )
                key = schedule_key(train.to_dict())
                kinds = ("private", "baseline") if config.baselines and key not in baselines else ("private",)
                ids = runner.submit(train, kinds=kinds, sweep_id=study_id)
                if "baseline" in ids:
                    baselines[key] = ids["baseline"]
                trial.set_user_attr("run_id", ids["private"])
                if config.baselines:
                    trial.set_user_attr("baseline_id", baselines[key])
                pending[trial.number] = (trial, ids["private"], 0)
                asked += 1
                room -= 1
            runner.poll()
            for number, (trial, run_id, reported) in list(pending.items()):
                run = store.get(run_id)
                if run is None:
                    continue
                if not config.accounted:
                    values = [v for _, v in store.metrics(run_id).get("validation_accuracy", []) if v is not None]
                    for epoch, value in enumerate(values[reported:], start=reported + 1):
                        trial.report(value, epoch)
                    pending[number] = (trial, run_id, len(values))
                    if run.active and values and trial.should_prune():
                        runner.cancel([run_id])
                        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                        del pending[number]
                        _announce(on_trial, study, store, number)
                        continue
                if run.active:
                    continue
                final = run.final.get("final") or {}
                trial.set_user_attr("test_accuracy", final.get("test_accuracy"))
                trial.set_user_attr("epsilon", final.get("epsilon"))
                trial.set_user_attr("run_status", run.status)
                value = final.get("validation_accuracy")
                if run.status in ("completed", "diverged"):
                    # a diverged trial is an outcome of the search like any other: it scores what it reached
                    study.tell(trial, value if value is not None else 0.0)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                del pending[number]
                _announce(on_trial, study, store, number)
            if pending:
                time.sleep(POLL_SECONDS)
        # the baselines are part of the study's record: the last ones may still be training (on Ray they
        # would be cancelled with the cluster connection), so wait for them unless the study was cancelled
        while status == "completed" and any(_active(store, run_id) for run_id in baselines.values()):
            runner.poll()
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        status, error = "cancelled", "interrupted from the keyboard"
    except Exception as err:
        status, error = "failed", f"{type(err).__name__}: {err}"
        raise
    finally:
        if pending:
            runner.cancel([run_id for _, run_id, _ in pending.values()])
            for trial, _, _ in pending.values():
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
        runner.close()
        study.set_user_attr("status", status)
        study.set_user_attr("finished_at", time.time())
        if error:
            study.set_user_attr("error", error)
    return _record(study, store)


def _active(store: SqliteRunStore, run_id: str) -> bool:
    run = store.get(run_id)
    return run is not None and run.active


def _announce(on_trial, study, store, number: int) -> None:
    if on_trial is None:
        return
    for row in _trial_rows(study, store, numbers={number}):
        on_trial(row)


def study_statement(record: StudyRecord) -> dict | None:
    """The privacy statement of a whole accounted search (dpviz.privacy.statement's format), or None when the
    study claims no total ε (exploration, cancelled, interrupted, or nothing drawn yet)."""
    from dpviz.privacy.attack_bounds import search_attack_bounds
    from dpviz.privacy.statement import _version, bounds_entry, statement

    total = record.epsilon_total
    if total is None:
        return None
    config, cost = record.config, record.cost
    params = config.privacy.replace(noise_multiplier=cost["noise_multiplier"])
    best = record.best
    data = statement(params, sampler=config.sampler, accountant="rdp")
    data["subject"] = f"stored study {record.id}" + (f" ({config.name})" if config.name else "")
    data["guarantee"].update(
        epsilon=total,
        accountant="rdp",
        accountant_description="dp-accounting RDP, RepeatAndSelectDpEvent (Papernot & Steinke 2022)",
        note=f"the whole search: the best of {record.trials_drawn} trial(s), a number drawn from the "
        f"{cost['trials_distribution']} distribution with mean {config.trials_mean:g}; one trial alone has "
        f"ε = {cost['epsilon_per_trial']:.4g}." + correction_note(record),
    )
    data["covers"] = "every trial's final model and updates, and the choice of the best trial among them"
    data["does_not_cover"] = [
        f"the {config.validation_size:,} validation examples held out of the training data to choose the best "
        "trial (not trained on; their use in the choice is not accounted)",
        "the non-private baselines trained beside the trials",
        "the choice of the search space (ranges, model, schedule) and data-dependent preprocessing done before dpviz",
    ]
    bounds = search_attack_bounds(params, config.count, sampler=config.sampler)
    data["attack_bounds"] = bounds_entry(bounds)
    if bounds is not None:
        data["attack_bounds"]["reading"] += " This holds for the whole search (RepeatAndSelect's RDP profile)."
    else:
        data["attack_bounds_note"] = "dp-accounting bounds this search by no finite ε, so nothing is ruled out"
    data["randomness"] = (
        "each trial's noise and batch sampling were drawn from the operating system's entropy; the study seed "
        f"({config.seed if config.seed is not None else 'none'}) drew the number of trials and their settings"
    )
    data["tuning"] = (
        f"accounted: settings drawn independently (random search) for learning rate {config.learning_rate_range}, "
        f"clip norm {config.clip_norm_range}"
        + (f", momentum {config.momentum_range}" if config.momentum_range is not None else "")
    )
    data["run"] = {
        "study": record.id,
        "status": record.status,
        "dataset": config.dataset,
        "model": config.model,
        "trials_drawn": record.trials_drawn,
        "training_examples": config.train_size,
        "validation_examples": config.validation_size,
        "test_examples": record.test_size,
        "best_trial": None if best is None else best.number,
        "best_run": None if best is None else best.run_id,
        "best_validation_accuracy": None if best is None else best.validation_accuracy,
        "best_test_accuracy": None if best is None else best.test_accuracy,
    }
    data["software"]["optuna"] = _version("optuna")
    return data
