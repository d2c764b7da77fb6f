"""A plain `streamlit run app.py` listens on loopback only: the app has no login."""

import tomllib
from pathlib import Path


def test_streamlit_binds_loopback():
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"
