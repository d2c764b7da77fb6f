"""A privacy statement a reviewer can file: the guarantee of one setting or one stored run, every
assumption it rests on, and what it rules out, as JSON and as Markdown (the same facts in both)."""

from __future__ import annotations

import datetime as dt
import json
import math
from importlib import metadata

from dpviz.privacy.accountant import compute_epsilon
from dpviz.privacy.attack_bounds import attack_bounds
from dpviz.privacy.labels import ACCOUNTANT_LABELS, format_epsilon
from dpviz.privacy.params import PrivacyParams
from dpviz.privacy.samplers import guarantee
from dpviz.validation import require_choice

FORMATS = ("md", "json")
SAMPLER_TEXT = {
    "poisson": "Poisson subsampling: at every step each example joins the batch independently with probability q",
    "fixed": "fixed-size batches: at every step b distinct examples are drawn uniformly without replacement",
    "shuffle": "shuffled epochs: each epoch is a random permutation cut into batches (each example once per epoch)",
}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def bounds_entry(bounds) -> dict | None:
    """A statement's `attack_bounds` entry from `AttackBounds` (None stays None)."""
    if bounds is None:
        return None
    return {
        "tpr_at_fpr": {f"{f:g}": t for f, t in bounds.tpr_at.items()},
        "advantage": bounds.advantage,
        "profile": bounds.profile,
        "reading": bounds.sentence(),
    }


def statement(
    params: PrivacyParams,
    *,
    sampler: str = "poisson",
    accountant: str = "rdp",
    clip_norm: float | None = None,
    run: dict | None = None,
) -> dict:
    """The statement's facts for `params` trained with `sampler`.

    Args:
      params: validated settings (n counts every training row, canary copies included).
      sampler: one of `labels.SAMPLERS`; the guarantee reported is that sampler's own.
      accountant: the accountant asked for (fixed-size sampling is accounted by RDP whatever it is).
      clip_norm: C, when known (it scales the noise, not epsilon).
      run: for a stored run: its id, kind, status, dataset, model, seed, steps run, final epsilon and accuracy.

    Returns:
      A JSON-ready dict; `to_markdown` renders it.

    Raises:
      ValidationError: for an unknown sampler or accountant.
    """
    report = compute_epsilon(params, accountant)
    g = guarantee(params, sampler, accountant, report=report)
    bounds = attack_bounds(params, sampler=sampler)
    seeded = run is not None and run.get("reproducible")
    data = {
        "subject": f"stored run {run['id']}" if run else "planned settings (nothing trained)",
        "guarantee": {
            "epsilon": g.epsilon if math.isfinite(g.epsilon) else None,
            "delta": params.delta,
            "unit": "one training example (example-level DP)",
            "neighboring_relation": g.neighboring_relation,
            "sampler": sampler,
            "sampler_description": SAMPLER_TEXT[sampler],
            "accountant": g.accountant,
            "accountant_description": ACCOUNTANT_LABELS.get(g.accountant, g.accountant),
            "note": g.note or None,
        },
        "mechanism": {
            "dataset_size": params.dataset_size,
            "batch_size": params.batch_size,
            "sampling_probability": report.sampling_probability,
            "steps": report.steps,
            "epochs": params.epochs,
            "noise_multiplier": params.noise_multiplier,
            "clip_norm": clip_norm,
            "noise_std": None if clip_norm is None else params.noise_multiplier * clip_norm,
            "clipping": "each example's gradient clipped to norm C, then summed; Gaussian noise N(0, (σC)²) added",
        },
        "covers": "the final model and every intermediate update",
        "does_not_cover": [
            "the choice of hyperparameters (each trial of a search spends privacy too)",
            "the non-private baseline trained beside the run, and the membership-inference audit's own use of "
            "the training data",
            "data-dependent preprocessing done before dpviz",
        ],
        "attack_bounds": bounds_entry(bounds),
        "randomness": (
            f"the noise and the batch sampling were seeded (seed {run['seed']}): the run is reproducible, and so "
            "offers no protection against anyone who knows the seed; the baseline uses the same seeded batches"
            if seeded
            else (
                f"the noise and the batch sampling were drawn from the operating system's entropy; the seed "
                f"({run['seed']}) set only the initial weights and the non-private baseline's batches"
                if run is not None
                else "for training, seed the noise and sampling from the operating system's entropy, or keep the "
                "seed secret: reproducible noise protects nothing against whoever knows the seed"
            )
        ),
        "tuning": "not part of a tuning study: the hyperparameters' own privacy cost is not included",
        "run": run,
        "software": {
            "dpviz": _version("dpviz"),
            "dp-accounting": _version("dp-accounting"),
            "tensorflow": _version("tensorflow") if run else None,
        },
        "issued": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if params.noise_multiplier == 0:
        data["guarantee"]["note"] = "no noise: there is no privacy guarantee (epsilon is infinite)"
    return data


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=False)


def to_markdown(data: dict) -> str:
    """The same facts as the JSON, for a person."""
    g, m = data["guarantee"], data["mechanism"]
    eps = format_epsilon(g["epsilon"])
    lines = [
        "# Privacy statement (dpviz)",
        "",
        f"**Subject:** {data['subject']}. **Issued:** {data['issued']}.",
        "",
        "## Guarantee",
        "",
        f"Training is **({eps}, {g['delta']:g})-differentially private** for {g['unit']}, under "
        f"**{g['neighboring_relation']}** neighbouring datasets.",
        "",
        f"- Sampler: {g['sampler_description']} (`{g['sampler']}`).",
        f"- Accountant: {g['accountant_description']}." + (f" Note: {g['note']}." if g["note"] else ""),
        f"- Covers: {data['covers']}.",
        *(f"- Does not cover: {item}." for item in data["does_not_cover"]),
        "",
        "## Mechanism",
        "",
        f"- n = {m['dataset_size']:,} training rows, expected batch size b = {m['batch_size']:,}, "
        f"q = {m['sampling_probability']:.4g}, {m['steps']:,} steps ({m['epochs']:g} epochs).",
        f"- Noise multiplier σ = {m['noise_multiplier']:g}"
        + (f", clip norm C = {m['clip_norm']:g}, noise std σC = {m['noise_std']:.4g}" if m["clip_norm"] else "")
        + f"; {m['clipping']}.",
        f"- Randomness: {data['randomness']}.",
        f"- Tuning: {data['tuning']}.",
    ]
    bounds = data["attack_bounds"]
    if bounds:
        rates = ", ".join(f"TPR ≤ {t:.2%} at FPR {float(f):.1%}" for f, t in bounds["tpr_at_fpr"].items())
        lines += [
            "",
            "## What it rules out",
            "",
            bounds["reading"],
            "",
            f"- {rates}.",
            f"- Advantage (TPR − FPR) ≤ {bounds['advantage']:.2%}, read from the {bounds['profile'].upper()} "
            "privacy profile δ(ε) as hypothesis tests (Kairouz et al. 2015).",
        ]
    elif data.get("attack_bounds_note"):
        lines += ["", f"Attack bounds: {data['attack_bounds_note']}."]
    run = data["run"]
    if run:
        lines += ["", "## Run", ""]
        lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in run.items() if value is not None]
    software = ", ".join(f"{k} {v}" for k, v in data["software"].items() if v)
    lines += ["", f"Software: {software}.", ""]
    return "\n".join(lines)


def render(data: dict, fmt: str) -> str:
    require_choice("format", fmt, FORMATS)
    return to_json(data) if fmt == "json" else to_markdown(data)


def run_statement(run) -> dict | None:
    """The statement of a stored private run (None for a baseline or unreadable settings)."""
    from dpviz.training.config import stored_config

    config = stored_config(run.config)
    if config is None or run.kind != "private":
        return None
    final = (run.final or {}).get("final", {}) or {}
    details = {
        "id": run.id,
        "status": run.status,
        "dataset": config.dataset,
        "model": config.model,
        "canaries": config.canaries,
        "seed": config.seed,
        "reproducible": config.reproducible,
        "learning_rate": config.learning_rate,
        "optimizer": config.optimizer,
        "steps_run": final.get("steps"),
        "reported_epsilon": final.get("epsilon"),
        "test_accuracy": final.get("test_accuracy"),
        "device": run.device,
    }
    audit = (run.final or {}).get("audit")
    if audit:
        details["empirical_audit"] = (
            f"membership-inference lower bound epsilon >= {audit['epsilon_lower']:.3g} at "
            f"{audit['confidence']:.0%} confidence ({audit['members']} members vs {audit['nonmembers']} non-members); "
            "a weak attack's lower bound: it can show a leak, never certify the guarantee"
        )
    params = config.privacy
    if run.status != "completed" and final.get("steps"):  # stopped early: the steps it actually took
        params = params.replace(epochs=final["steps"] * config.batch_size / config.train_size)
    return statement(
        params, sampler=config.sampler, accountant=config.accountant, clip_norm=config.clip_norm, run=details
    )
