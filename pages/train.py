"""Train: a DP-SGD run and its non-private baseline (or a sweep of them), live."""

import streamlit as st

from dpviz.ui import train_view
from dpviz.ui.entry import require_app
from dpviz.ui.runs_state import get_store
from dpviz.ui.settings import privacy_inputs

require_app(__file__)
st.title("Train DP-SGD against its baseline")
privacy = privacy_inputs(page="train", dataset=False)
training = train_view.training_inputs()
checked = train_view.check(privacy, training)
train_view.show_invalid(checked)
store = get_store()
single, sweep = st.tabs(["Single run", "Sweep"])
invalid = checked.config is None
with single:
    if st.button("Train private + baseline", type="primary", key="t_launch", disabled=invalid) and not invalid:
        train_view.launch(store, checked.config)
with sweep:
    axes = train_view.sweep_inputs()
    if st.button("Queue sweep", type="primary", key="t_sweep_launch", disabled=invalid) and not invalid:
        train_view.launch_sweep(store, checked.config, axes)
group = train_view.choose_group(store)
if group and group.startswith("sweep-"):
    train_view.sweep_panel(store, group)
elif group:
    train_view.live_panel(store, group, checked.target)
