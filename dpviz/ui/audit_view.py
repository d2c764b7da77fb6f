"""A pair's membership-inference audit: ROC curves, the figures, and one sentence that reads them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dpviz.compare import figures
from dpviz.privacy.attack_bounds import attack_bounds, excess_points
from dpviz.training.config import stored_config
from dpviz.ui.audit_text import ATTACK_LABELS, canary_explanation, canary_reading, reading
from dpviz.ui.common import MISSING


def audit_table(audits: dict[str, dict]) -> pd.DataFrame:
    rows = []
    for label, audit in audits.items():
        for name, a in audit["attacks"].items():
            rows.append(
                {
                    "model": label,
                    "attack": ATTACK_LABELS.get(name, name),
                    "AUC": a["auc"],
                    "advantage": a["advantage"],
                    "TPR @ FPR 0.1%": a["tpr_at_fpr"]["0.001"],
                    "TPR @ FPR 1%": a["tpr_at_fpr"]["0.01"],
                    f"ε lower bound ({audit['confidence']:.0%})": a["epsilon_lower"],
                    "theoretical ε": audit.get("theoretical_epsilon"),
                    "examples": a["evaluated"],
                }
            )
    return pd.DataFrame(rows)


def canary_table(audits: dict[str, dict]) -> pd.DataFrame:
    """One row per canary: its copies and its exposure (bits) in each model."""
    columns = {label: audit["canaries"]["canaries"] for label, audit in audits.items() if audit.get("canaries")}
    if not columns:
        return pd.DataFrame()
    first = next(iter(columns.values()))
    return pd.DataFrame(
        [
            {
                "canary": i + 1,
                "copies": canary["copies"],
                **{f"exposure, {label} (bits)": canaries[i]["exposure"] for label, canaries in columns.items()},
            }
            for i, canary in enumerate(first)
        ]
    )


def _versus_bound(audit: dict | None, bound) -> str:
    """Whether the measured ROC points stay under the bound: said as it is, not assumed."""
    if not audit:
        return ""
    above = sum(
        excess_points(
            a["roc_fpr"], a["roc_tpr"], members=audit["members"], nonmembers=audit["nonmembers"], bounds=bound
        )
        for a in audit["attacks"].values()
    )
    if not above:
        return "The measured attacks on the DP-SGD model stay below it, within their 95% sampling error."
    return (
        f"VIOLATION: {above} measured ROC point(s) lie above it beyond their 95% sampling error: the run may "
        "leak more than its guarantee claims (check the sampler and the data pipeline)."
    )


def _bound(private):
    """(the attack bound of the private run's own settings: its real n, steps and sampler; that sampler)."""
    config = stored_config(private.config) if private is not None else None
    if config is None:
        return None, None
    return attack_bounds(config.privacy, sampler=config.sampler), config.sampler


def render(private, baseline, *, key: str) -> None:
    """`private`/`baseline`: Run records (baseline may be None); draws nothing without an audit."""
    audits = {}
    if private is not None and (private.final or {}).get("audit"):
        audits["DP-SGD"] = private.final["audit"]
    if baseline is not None and (baseline.final or {}).get("audit"):
        audits["non-private baseline"] = baseline.final["audit"]
    if not audits:
        st.caption("No membership-inference audit stored for this run (it runs after a completed training).")
        return
    theory = audits.get("DP-SGD", {}).get("theoretical_epsilon")
    sentence = reading(audits.get("DP-SGD"), audits.get("non-private baseline"), theory)
    if sentence:
        (st.warning if sentence.startswith("Warning") else st.info)(sentence)
    left, right = st.columns([3, 2])
    bound, sampler = _bound(private)
    left.plotly_chart(figures.roc_figure(audits, bound), key=f"roc_{key}")
    if bound is not None:
        left.caption(
            f"Red: the most any attack can reach under this run's guarantee ({bound.profile.upper()} privacy profile"
            f"{', no amplification: shuffled batches' if sampler == 'shuffle' else ''}); "
            f"TPR ≤ {bound.tpr_at[0.01]:.1%} at FPR 1%. " + _versus_bound(audits.get("DP-SGD"), bound)
        )
    first = next(iter(audits.values()))
    right.markdown(
        f"**{first['members']:,} members** (training examples) against **{first['nonmembers']:,} non-members** "
        "(held-out examples never trained on). The loss-threshold attack guesses *member* when the loss is low; "
        "the learned attack fits a logistic regression to loss and confidence features on half of the examples "
        "and is scored on the other half. The ε lower bound is what the attack's best (TPR, FPR) point, chosen on "
        "one half and measured on the other with Clopper-Pearson intervals, proves about any (ε, δ) guarantee: "
        "it must stay below the theoretical ε."
    )
    st.dataframe(
        audit_table(audits),
        placeholder=MISSING,
        hide_index=True,
        width="stretch",
        column_config={
            "AUC": st.column_config.NumberColumn(format="%.3f"),
            "advantage": st.column_config.NumberColumn(format="%.3f"),
            "TPR @ FPR 0.1%": st.column_config.NumberColumn(format="%.4f"),
            "TPR @ FPR 1%": st.column_config.NumberColumn(format="%.4f"),
            "theoretical ε": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    canaries = canary_table(audits)
    if not canaries.empty:
        st.markdown(f"**{canary_reading(audits.get('DP-SGD'), audits.get('non-private baseline'))}**")
        st.dataframe(
            canaries,
            placeholder=MISSING,
            hide_index=True,
            width="stretch",
            column_config={
                name: st.column_config.NumberColumn(format="%.1f")
                for name in canaries.columns
                if name.startswith("exposure")
            },
        )
        st.caption(canary_explanation(next(a["canaries"] for a in audits.values() if a.get("canaries"))))
