"""Home: move the DP-SGD sliders, see epsilon at once."""

import streamlit as st

from dpviz.ui.entry import require_app
from dpviz.ui.settings import parse_delta, privacy_inputs, sync_url
from dpviz.validation import ValidationError

require_app(__file__)
st.title("DP-SGD privacy budget explorer")
values = privacy_inputs(page="budget")
sync_url()

# dp-accounting (with scipy) takes ~0.7 s to import on a fresh server: the sidebar above is sent first.
from dpviz.privacy.budget import explore  # noqa: E402
from dpviz.ui import budget_view  # noqa: E402

try:
    view = explore(
        dataset_size=values["dataset_size"],
        batch_size=values["batch_size"],
        noise_multiplier=values["noise_multiplier"],
        epochs=values["epochs"],
        delta=parse_delta(values["delta"]),
        accountant=values["accountant"],
    )
except ValidationError as err:
    budget_view.show_error(err)
else:
    budget_view.render(view, values)
