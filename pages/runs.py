"""Runs: every stored run, compared and exported."""

import streamlit as st

from dpviz.ui import runs_view
from dpviz.ui.entry import require_app
from dpviz.ui.runs_state import damaged_rows_notice, get_store, guarded
from dpviz.ui.settings import settings, sync_url

require_app(__file__)
st.title("Compare runs")
settings()  # the shared settings stay in this page's URL too, so a link back to Budget or Train keeps them
sync_url()
store = get_store()
guarded(damaged_rows_notice, store)
guarded(runs_view.render, store)
