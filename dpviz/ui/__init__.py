"""Streamlit helpers shared by the pages; the only part of dpviz that imports streamlit."""
