"""dpviz entry point: `streamlit run app.py`. Routes to the pages; TensorFlow never loads here."""

import streamlit as st

if __name__ != "__main__":  # imported by `streamlit run app.py`, which serves this script with this ASGI app
    from dpviz.ui.server import MIDDLEWARE, lifespan

    app = st.App(__file__, lifespan=lifespan, middleware=MIDDLEWARE)
else:  # a run of the script, per session and rerun
    from dpviz.ui.entry import exposure_notice, resume_deep_link
    from dpviz.ui.runs_state import warm_workers

    st.set_page_config(page_title="dpviz · DP-SGD privacy explorer", page_icon="🔒", layout="wide")

    PAGES = {
        "budget.py": st.Page("pages/budget.py", title="Privacy budget", icon=":material/lock:", default=True),
        "train.py": st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
        "tune.py": st.Page("pages/tune.py", title="Tune", icon=":material/tune:", url_path="tune"),
        "runs.py": st.Page("pages/runs.py", title="Runs", icon=":material/insights:", url_path="runs"),
    }
    navigation = st.navigation(list(PAGES.values()))
    exposure_notice()
    warm_workers()  # TensorFlow loads in worker processes, in the background, never here
    resume_deep_link(PAGES)
    navigation.run()
