"""Streamlit's page, served with its first paint's element code already on the way.

Streamlit's frontend loads each element type's code (Slider, Metric, ...) when the first element of
that type renders, and the home page's five types were fetched one after another: 0.45 s between the
first epsilon reaching the browser and its paint (hello world needs two types; with the preload,
0.07-0.26 s). `<link rel="modulepreload">` for those chunks and what they import, added to
index.html as Streamlit's build does for its main bundle, fetches them all while the page starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import streamlit

# What the sidebar and the home page's headline use, in the order they render.
FIRST_PAINT = ("Selectbox", "TextInput", "Slider", "Radio", "Metric")
JS = Path(streamlit.__file__).parent / "static" / "static" / "js"
# The build puts a chunk's static imports first (`import{a as b}from"./x.js";import"./y.js";`): only
# that head is read, since the largest chunks are megabytes.
_LEADING_IMPORT = re.compile(rb'\s*import\s*(?:[^;"]*?from\s*)?"\./([\w.$-]+\.js)";?')


def chunk_closure(names: Iterable[str], js_dir: Path = JS) -> list[str]:
    """The element chunks named (`Metric` -> `Metric.<hash>.js`) and every chunk they import statically.

    Args:
      names: element type names as Streamlit's build names their chunks.
      js_dir: the build's static/js folder.

    Returns:
      File names, each element's chunk before its imports; an element with no chunk is skipped, so a
      Streamlit release that renames one loses only that preload.
    """
    files = {p.name for p in js_dir.glob("*.js")} if js_dir.is_dir() else set()
    pending = [f for name in names for f in sorted(files) if re.fullmatch(rf"{re.escape(name)}\.[\w-]+\.js", f)]
    seen: list[str] = []
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.append(name)
        pending.extend(f for f in _leading_imports((js_dir / name).read_bytes()) if f in files)
    return seen


def _leading_imports(source: bytes) -> list[str]:
    found, pos = [], 0
    while match := _LEADING_IMPORT.match(source, pos):
        found.append(match.group(1).decode())
        pos = match.end()
    return found


def inject(html: bytes, chunks: Iterable[str]) -> bytes:
    """index.html with a modulepreload link for each chunk it does not preload already, before </head>."""
    links = b"".join(
        b'<link rel="modulepreload" crossorigin href="./static/js/%s">' % name.encode()
        for name in chunks
        if b"/static/js/" + name.encode() not in html
    )
    head = html.rfind(b"</head>")
    return html if head < 0 or not links else html[:head] + links + html[head:]


@cache
def first_paint_chunks() -> tuple[str, ...]:
    """The chunks every page preloads; none if Streamlit's build cannot be read (the page still works)."""
    try:
        return tuple(chunk_closure(FIRST_PAINT))
    except OSError:
        return ()


class ChunkPreloadMiddleware:
    """ASGI middleware: every HTML page Streamlit serves (/, /train, ...) gets `first_paint_chunks()` preloaded."""

    def __init__(self, app):
        self.app = app
        first_paint_chunks()  # a few milliseconds, while the server starts

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        held: dict = {}
        body: list[bytes] = []

        async def send_html(message):
            if message["type"] == "http.response.start":
                headers = {k.lower(): v for k, v in message.get("headers", [])}
                if (
                    message["status"] == 200
                    and headers.get(b"content-type", b"").startswith(b"text/html")
                    and b"content-encoding" not in headers
                ):
                    held["start"] = message
                    return
            elif message["type"] == "http.response.body" and "start" in held:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                html = inject(b"".join(body), first_paint_chunks())
                start = held.pop("start")
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                await send({**start, "headers": [*headers, (b"content-length", str(len(html)).encode())]})
                await send({"type": "http.response.body", "body": html})
                return
            await send(message)

        await self.app(scope, receive, send_html)
