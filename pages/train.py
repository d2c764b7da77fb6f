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
store = get_store()
single, sweep = st.tabs(["Single run", "Sweep"])
with single:
    if st.button("Train private + baseline", type="primary", key="t_launch"):
        train_view.launch(store, privacy, training)
with sweep:
    axes = train_view.sweep_inputs()
    if st.button("Queue sweep", type="primary", key="t_sweep_launch"):
        train_view.launch_sweep(store, privacy, training, axes)
group = train_view.choose_group(store)
if group and group.startswith("sweep-"):
    train_view.sweep_panel(store, group)
elif group:
    train_view.live_panel(store, group, training["target"])
