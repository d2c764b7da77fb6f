"""Train: a DP-SGD run and its non-private baseline, live."""

import streamlit as st

from dpviz.ui import train_view
from dpviz.ui.runs_state import get_store
from dpviz.ui.settings import privacy_inputs

st.title("Train DP-SGD against its baseline")
privacy = privacy_inputs(page="train", dataset=False)
training = train_view.training_inputs()
store = get_store()
if st.button("Train private + baseline", type="primary", key="t_launch"):
    train_view.launch(store, privacy, training)
group = train_view.choose_group(store)
if group:
    train_view.live_panel(store, group, training["target"])
