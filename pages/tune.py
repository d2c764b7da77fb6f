"""Tune: the best settings at a privacy budget, with the search's own cost accounted."""

import streamlit as st

from dpviz.ui import tune_view
from dpviz.ui.entry import require_app
from dpviz.ui.runs_state import get_store, guarded
from dpviz.ui.settings import sidebar, sync_url

require_app(__file__)
tune_view.after_apply()
st.title("Tune under a privacy budget")
sidebar(page="tune")
values = tune_view.inputs()
sync_url()
config, cost, error = tune_view.check(values)
tune_view.plan_panel(config, cost, error)
store = get_store()
guarded(tune_view.launcher, store, config, values)
guarded(tune_view.study_panel, store)
