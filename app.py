"""dpviz entry point: `streamlit run app.py`. Routes to the pages; TensorFlow never loads here."""

import streamlit as st

st.set_page_config(page_title="dpviz · DP-SGD privacy explorer", page_icon="🔒", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/budget.py", title="Privacy budget", icon=":material/lock:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    ]
)
navigation.run()
