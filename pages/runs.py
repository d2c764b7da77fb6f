"""Runs: every stored run, compared and exported."""

import streamlit as st

from dpviz.ui import runs_view
from dpviz.ui.entry import require_app
from dpviz.ui.runs_state import get_store

require_app(__file__)
st.title("Compare runs")
runs_view.render(get_store())
