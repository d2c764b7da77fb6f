"""Home: move the DP-SGD sliders, see epsilon at once."""

import streamlit as st

from dpviz.ui.entry import require_app
from dpviz.ui.settings import sidebar, sync_url

require_app(__file__)
st.title("DP-SGD privacy budget explorer")
values = sidebar(page="budget")
sync_url()

# dp-accounting (with scipy) takes ~0.7 s to import on a fresh server: the sidebar above is sent first.
from dpviz.ui import budget_view  # noqa: E402

budget_view.page(values)
