"""Deep links on a fresh server: route them through app.py's navigation.

Streamlit serves its first session in the legacy `pages/` directory mode until some script run
calls `st.navigation`. A first-ever request for `/runs` therefore runs `pages/runs.py` on its own:
narrow layout, file-name sidebar, no shared settings. Pages call `require_app` to hop through
`app.py` (which switches the server to `st.navigation` for good) and land on the page asked for.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "app.py"
PENDING = "_dpviz_deep_link"
VISITED = "_dpviz_app_ran"


def _legacy_mode() -> bool:
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return False
    return bool(getattr(PagesManager, "uses_pages_directory", False))


def require_app(page_file: str) -> None:
    if _legacy_mode() and not st.session_state.get(VISITED) and APP.exists():
        st.session_state[PENDING] = (Path(page_file).name, st.query_params.to_dict())
        st.switch_page(str(APP))


def resume_deep_link(pages: dict) -> None:
    """In app.py: after a hop from `require_app`, open the page that was asked for."""
    st.session_state[VISITED] = True  # this session has been through app.py: never hop again
    target, query = st.session_state.pop(PENDING, (None, {}))
    if target in pages:
        st.switch_page(pages[target], query_params=query)


LOOPBACK = ("127.", "localhost", "::1", "[::1]")


def listens_beyond_this_machine(address: str | None) -> bool:
    """Whether a server bound to `address` can be reached from other machines (empty: every interface)."""
    return not address or not str(address).startswith(LOOPBACK)


def exposure_notice() -> None:
    """In app.py: say so in the sidebar when other machines can reach this server (it has no login)."""
    address = st.get_option("server.address")
    if listens_beyond_this_machine(address):
        st.sidebar.warning(
            f"This server listens on {address or 'every network interface'}: anyone who can reach it can read, "
            "delete and queue runs (there is no login). See 'Sharing a server' in the README.",
            icon=":material/public:",
        )
