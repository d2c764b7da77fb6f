"""A plain `streamlit run app.py` listens on loopback only: the app has no login."""

import tomllib
from pathlib import Path


def test_streamlit_binds_loopback():
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "127.0.0.1"


def test_only_loopback_addresses_count_as_private():
    from dpviz.ui.entry import listens_beyond_this_machine

    assert not any(listens_beyond_this_machine(a) for a in ("127.0.0.1", "127.0.1.1", "localhost", "::1"))
    assert all(listens_beyond_this_machine(a) for a in ("", None, "0.0.0.0", "192.168.1.5", "::"))


def test_the_sidebar_warns_when_the_server_is_reachable_from_other_machines(monkeypatch):
    import streamlit
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    assert not any("listens on" in w.value for w in at.sidebar.warning)  # the project's config: loopback
    real = streamlit.get_option
    monkeypatch.setattr(streamlit, "get_option", lambda key: "0.0.0.0" if key == "server.address" else real(key))
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.run()
    assert any("anyone who can reach it" in w.value for w in at.sidebar.warning)


def test_no_traceback_reaches_the_browser():
    config = tomllib.loads((Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
