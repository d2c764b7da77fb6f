"""dpviz: explore the privacy-utility trade-off of DP-SGD.

The package root stays light: it imports neither streamlit nor tensorflow.
"""

__version__ = "0.1.0"
