import streamlit as st

st.title("Train")
st.info("Training runs arrive with the training engine.")
