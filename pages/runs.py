import streamlit as st

st.title("Runs")
st.info("Training runs arrive with the training engine.")
