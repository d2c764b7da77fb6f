"""How a run's audit reads on the pages: sentences that follow the numbers (plain Python)."""

from __future__ import annotations

from dpviz.audit import mean_exposure

ATTACK_LABELS = {"loss_threshold": "loss threshold (Yeom et al.)", "learned": "learned (logistic regression)"}


def reading(private: dict | None, baseline: dict | None, theoretical_epsilon: float | None) -> str:
    """One sentence that reads a pair's audit."""
    if not private:
        return ""
    adv = lambda audit: max(a["advantage"] for a in audit["attacks"].values())  # noqa: E731
    bound = private["epsilon_lower"]
    theory = f"ε = {theoretical_epsilon:.3g}" if theoretical_epsilon is not None else "no finite ε"
    text = (
        _compare(adv(baseline), adv(private))
        if baseline
        else f"The attacker's advantage against the DP-SGD model is {adv(private):.2f}"
    )
    text += (
        f"; the measured lower bound ε ≥ {bound:.2f} ({private['confidence']:.0%} confidence) "
        f"sits below the theoretical {theory}"
    )
    if theoretical_epsilon is not None and bound > theoretical_epsilon:
        text = (
            f"Warning: the measured lower bound ε ≥ {bound:.2f} exceeds the theoretical ε = {theoretical_epsilon:.3g}. "
            "The guarantee does not hold as configured (check the sampler and the data pipeline)"
        )
    return text + "."


def _compare(baseline: float, private: float) -> str:
    """The verb follows the two numbers as printed: 'falls' only when the printed value falls."""
    b, p = round(baseline, 2), round(private, 2)
    if p < b:
        return (
            f"The attacker's advantage falls from {b:.2f} against the non-private baseline to {p:.2f} "
            "against the DP-SGD model"
        )
    if p > b:
        return (
            f"The attacker's advantage is {p:.2f} against the DP-SGD model and {b:.2f} against the non-private "
            "baseline: no lower here, since both are within the attack's noise at this size"
            if p - b <= 0.05
            else f"The attacker's advantage rises from {b:.2f} against the non-private baseline to {p:.2f} against "
            "the DP-SGD model"
        )
    return f"The attacker's advantage is {p:.2f} against both the non-private baseline and the DP-SGD model"


def canary_reading(private: dict | None, baseline: dict | None) -> str:
    """One sentence on the canaries: what the baseline memorised and what DP-SGD let through."""
    means = {
        name: mean_exposure(audit["canaries"])
        for name, audit in (("baseline", baseline), ("DP-SGD model", private))
        if audit and audit.get("canaries")
    }
    if not means:
        return ""
    parts = []
    for copies in next(iter(means.values())):
        figures = " vs ".join(f"{m[copies]:.1f} bits in the {name}" for name, m in means.items() if copies in m)
        parts.append(f"{'inserted once' if copies == 1 else f'inserted {copies}×'}, {figures}")
    return "Canary exposure, " + "; ".join(parts) + "."


def canary_explanation(report: dict) -> str:
    """How to read exposure, for the caption under the figures."""
    return (
        f"Each canary is a random-label example; its loss is ranked among {report['references']} examples drawn "
        f"the same way and never trained on. About 1 bit: no more likely than an unseen example; "
        f"{report['max_exposure']:.1f} bits: below every reference. DP-SGD's ε is per example: a canary inserted "
        "k times is a group of k, protected only at about k·ε."
    )
