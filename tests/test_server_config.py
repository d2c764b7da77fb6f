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


def test_streamlit_run_serves_app_py_as_an_st_app_with_the_preloading_lifespan():
    """`streamlit run app.py` finds the st.App (by reading the file, as its CLI does) and serves the script
    with it; the script itself, run per session, is the router (AppTest runs it as __main__ above)."""
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(Path(__file__).resolve().parents[1] / "app.py")
    assert found.is_asgi_app and found.app_name == "app"


def test_the_server_preloads_the_home_pages_modules_and_no_tensorflow():
    import subprocess
    import sys

    code = """
import asyncio, sys, time
from dpviz.ui import server
async def start():
    async with server.lifespan(None):
        pass
asyncio.run(start())
deadline = time.time() + 60
while not all(m in sys.modules for m in server.PRELOAD) and time.time() < deadline:
    time.sleep(0.05)
loaded = all(m in sys.modules for m in server.PRELOAD), "dp_accounting.rdp.rdp_privacy_accountant" in sys.modules
print(*loaded, any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "True", "False"], out.stderr[-2000:]
