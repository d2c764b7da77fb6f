"""Figures an older dpviz stored that are now known to be wrong, corrected once per store.

`fixed_epsilon_2c`: runs trained with fixed-size batches before dpviz gave dp-accounting half the noise
multiplier for replace-one's sensitivity of 2C (`privacy.samplers.fixed_event`) under-state their ε.
Their ε at every epoch, their final ε and their audit's theoretical ε are recomputed from the stored
settings and step counts, as the engine now reports them. A row that cannot be read is left as it is.
Tuning studies of such runs under-state their search's ε too: `corrected_study_cost` recomputes it at
the σ the trials trained with (their σ was calibrated to the target with the under-stated accountant,
so the corrected ε is above the target).
"""

from __future__ import annotations

import json
import math
import sqlite3

from dpviz.privacy.samplers import FIXED_2C

FIXED_EPSILON_2C = FIXED_2C  # the meta key that says the store's runs were corrected


def fixed_epsilon_at(config: dict, steps: int) -> float | None:
    """A fixed-sampler run's ε after `steps` steps, as a run reports it (`samplers.epsilons_after`); None for
    any other run or a config that cannot be read."""
    from dpviz.privacy.samplers import epsilons_after
    from dpviz.training.config import stored_config

    c = stored_config(config)
    if c is None or c.sampler != "fixed" or c.noise_multiplier == 0:
        return None
    eps = epsilons_after(c.privacy, steps, c.sampler, c.accountant)[0]
    return eps if math.isfinite(eps) else None


def needs_fixed_epsilon_2c(db: sqlite3.Connection) -> bool:
    """Whether the store has not been corrected yet (a new store is marked by its first correction, at once)."""
    return db.execute("SELECT 1 FROM meta WHERE key = ?", (FIXED_EPSILON_2C,)).fetchone() is None


def correct_fixed_epsilon_2c(db: sqlite3.Connection) -> int:
    """Recompute the stored ε of fixed-sampler private runs and mark the store; in the caller's transaction.

    Returns:
      The number of runs corrected.
    """
    corrected = 0
    rows = db.execute("SELECT id, config, final FROM runs WHERE kind = 'private' AND config LIKE '%fixed%'")
    for run_id, config_text, final_text in rows.fetchall():
        db.execute("SAVEPOINT one_run")
        try:
            corrected += _correct_run(db, run_id, config_text, final_text)
        except Exception:  # noqa: BLE001 - a run that cannot be corrected stays as stored; the store stays usable
            db.execute("ROLLBACK TO one_run")
        db.execute("RELEASE one_run")
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, '1')", (FIXED_EPSILON_2C,))
    return corrected


def _correct_run(db: sqlite3.Connection, run_id: str, config_text: str, final_text: str | None) -> int:
    config = json.loads(config_text)
    final = json.loads(final_text) if final_text else {}
    if not isinstance(config, dict) or config.get("sampler") != "fixed" or not isinstance(final, dict):
        return 0
    if fixed_epsilon_at(config, 1) is None:
        return 0
    updates = []
    for epoch, steps in db.execute(
        "SELECT epoch, value FROM metrics WHERE run_id = ? AND name = 'steps' AND value IS NOT NULL", (run_id,)
    ).fetchall():
        updates.append((fixed_epsilon_at(config, int(steps)), run_id, epoch))
    db.executemany("UPDATE metrics SET value = ? WHERE run_id = ? AND epoch = ? AND name = 'epsilon'", updates)
    last = final.get("final")
    if isinstance(last, dict) and isinstance(last.get("steps"), int | float):
        eps = fixed_epsilon_at(config, int(last["steps"]))
        last["epsilon"] = eps
        if isinstance(final.get("audit"), dict):
            final["audit"]["theoretical_epsilon"] = eps
        db.execute("UPDATE runs SET final = ? WHERE id = ?", (json.dumps(final), run_id))
    return 1


def corrected_study_cost(config, cost: dict) -> dict | None:
    """A fixed-sampler study's stored cost with its ε recomputed at the σ it trained with, or None when the
    cost needs no correction (another sampler, or accounted with the sensitivity of 2C already).

    Args:
      config: the study's TuneConfig.
      cost: its stored cost (`SearchCost.to_dict()` as an older dpviz wrote it).

    Returns:
      The corrected cost, with `epsilon_as_stored` keeping the under-stated figures. Where dp-accounting
      cannot bound the search at that σ, both ε are inf: no guarantee is claimed.
    """
    if config.sampler != "fixed" or cost.get(FIXED_2C) or "noise_multiplier" not in cost:
        return None
    from dpviz.privacy.tuning import search_cost
    from dpviz.validation import ValidationError

    params = config.privacy.replace(noise_multiplier=float(cost["noise_multiplier"]))
    try:
        fresh = search_cost(params, config.count, "fixed")
        one, total = fresh.epsilon_per_trial, fresh.epsilon_total
    except ValidationError:
        one = total = math.inf
    stored = {key: cost.get(key) for key in ("epsilon_per_trial", "epsilon_total")}
    return {**cost, "epsilon_per_trial": one, "epsilon_total": total, "epsilon_as_stored": stored, FIXED_2C: True}
