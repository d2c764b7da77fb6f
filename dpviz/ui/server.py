"""The server's start-up: what every first page needs is imported before the first browser connects,
and the browser is told which of Streamlit's element chunks the first paint needs."""

from __future__ import annotations

import asyncio
import contextlib
import importlib

from starlette.middleware import Middleware

from dpviz.ui.chunk_preload import ChunkPreloadMiddleware

# The home page's first epsilon waits on these (dp-accounting's RDP with scipy.special, about 0.4 s
# here); the server has nothing else to do until the first browser connects.
PRELOAD = ("dpviz.ui.settings", "dpviz.ui.budget_view", "dpviz.ui.runs_state")


def preload() -> None:
    for name in PRELOAD:
        with contextlib.suppress(Exception):  # a failing import is reported where the page needs it
            importlib.import_module(name)


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's start-up hook: preload on a thread, so that the server starts serving at once."""
    asyncio.get_running_loop().run_in_executor(None, preload)
    yield


MIDDLEWARE = [Middleware(ChunkPreloadMiddleware)]
