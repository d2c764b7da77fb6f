"""Train: a DP-SGD run and its non-private baseline (or a sweep of them), live."""

import streamlit as st

from dpviz.ui import train_view
from dpviz.ui.entry import require_app
from dpviz.ui.runs_state import get_store, guarded
from dpviz.ui.settings import sidebar, sync_url, training_inputs

require_app(__file__)
st.title("Train DP-SGD against its baseline")
sidebar(page="train")
values = training_inputs()
sync_url()
checked = train_view.check(values)
train_view.show_invalid(checked)
# Drawn in this order, computed in another: a click on Train queues its run before the plan and the
# target solver (seconds with PLD) are computed, and the live panel is sent before the solver runs.
plan, helper = st.container(), st.container()
store = get_store()
guarded(train_view.launchers, store, checked)
with plan:
    view = train_view.before_launch(checked)
guarded(train_view.runs_panel, store, checked)
with helper:
    train_view.target_helper(view)
