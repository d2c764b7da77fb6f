"""The first paint's element chunks are preloaded by every HTML page the server sends."""

import asyncio
import re
import urllib.request
from pathlib import Path

import pytest

from dpviz.ui import chunk_preload
from dpviz.ui.chunk_preload import FIRST_PAINT, ChunkPreloadMiddleware, chunk_closure, inject
from tests.conftest import streamlit_app

HTML = b'<html><head><script type="module" src="./static/js/index.abc.js"></script></head><body></body></html>'


def build(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_closure_follows_static_imports_once_and_not_dynamic_ones(tmp_path):
    js = build(
        tmp_path,
        {
            "Metric.AbC_1-x.js": (
                'import{a as b}from"./utils.1.js";import"./side.2.js";const l=()=>import("./Lazy.3.js");'
            ),
            "utils.1.js": 'import{c}from"./side.2.js";import{d}from"./Metric.AbC_1-x.js";export const a=1;',
            "side.2.js": "export const c=1;",
            "Lazy.3.js": "export default 1;",
            "MetricGroup.4.js": "export default 1;",
            "Slider.5.js": 'var x=1;import{a}from"./late.6.js";',
            "late.6.js": "",
        },
    )
    assert chunk_closure(["Metric"], js) == ["Metric.AbC_1-x.js", "utils.1.js", "side.2.js"]
    assert chunk_closure(["Slider"], js) == ["Slider.5.js"]  # only the leading import block is read
    assert chunk_closure(["Missing", "Metric"], js)[0] == "Metric.AbC_1-x.js"  # a renamed element costs only itself
    assert chunk_closure(["Metric"], tmp_path / "absent") == []


def test_the_installed_streamlit_has_every_first_paint_chunk():
    """Fails when a Streamlit release renames an element's chunk: then update FIRST_PAINT."""
    chunks = chunk_closure(FIRST_PAINT)
    for name in FIRST_PAINT:
        assert any(re.fullmatch(rf"{name}\.[\w-]+\.js", c) for c in chunks), name
    assert len(chunks) > len(FIRST_PAINT)  # and what they import


def test_an_unreadable_build_preloads_nothing_and_the_server_still_starts(monkeypatch):
    def unreadable(names):
        raise PermissionError("static/js")

    monkeypatch.setattr(chunk_preload, "chunk_closure", unreadable)
    chunk_preload.first_paint_chunks.cache_clear()
    try:
        ChunkPreloadMiddleware(streaming_app(b"text/html", [HTML]))
        assert chunk_preload.first_paint_chunks() == ()
    finally:
        chunk_preload.first_paint_chunks.cache_clear()


def test_inject_adds_only_missing_links_before_head_end():
    out = inject(HTML, ["Metric.x.js", "index.abc.js"])
    assert out.count(b"modulepreload") == 1
    assert out.index(b'href="./static/js/Metric.x.js"') < out.index(b"</head>")
    assert inject(b"<html><body>no head</body></html>", ["Metric.x.js"]) == b"<html><body>no head</body></html>"
    assert inject(HTML, []) == HTML


def serve(app, path="/", method="GET"):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app({"type": "http", "method": method, "path": path, "headers": []}, receive, send))
    start = sent[0]
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def streaming_app(content_type: bytes, parts: list[bytes], status=200):
    async def app(scope, receive, send):
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(sum(map(len, parts))).encode())],
            }
        )
        for i, part in enumerate(parts):
            await send({"type": "http.response.body", "body": part, "more_body": i < len(parts) - 1})

    return app


def test_middleware_rewrites_html_in_one_piece_with_its_length(monkeypatch):
    monkeypatch.setattr(chunk_preload, "first_paint_chunks", lambda: ("Metric.x.js",))
    app = ChunkPreloadMiddleware(streaming_app(b"text/html; charset=utf-8", [HTML[:30], HTML[30:]]))
    status, headers, body = serve(app)
    assert status == 200 and b'href="./static/js/Metric.x.js"' in body
    assert int(headers[b"content-length"]) == len(body)


@pytest.mark.parametrize(
    "content_type,status,method",
    [(b"application/javascript", 200, "GET"), (b"text/html", 304, "GET"), (b"text/html", 200, "HEAD")],
)
def test_middleware_passes_everything_else_through(monkeypatch, content_type, status, method):
    monkeypatch.setattr(chunk_preload, "first_paint_chunks", lambda: ("Metric.x.js",))
    app = ChunkPreloadMiddleware(streaming_app(content_type, [HTML], status=status))
    headers = {b"content-type": content_type, b"content-length": b"%d" % len(HTML)}
    assert serve(app, method=method) == (status, headers, HTML)


def test_streamlit_run_app_py_serves_every_page_with_the_chunks_preloaded(tmp_path):
    with streamlit_app(tmp_path, {"DPVIZ_WARM_DELAY_SECONDS": "600"}) as url:
        for path in ("/", "/train"):
            page = urllib.request.urlopen(url + path, timeout=5).read()
            linked = set(re.findall(rb'(?:href|src)="\./static/js/([^"]+)"', page))  # preloaded or the entry
            assert {c.encode() for c in chunk_preload.first_paint_chunks()} <= linked
            assert re.search(rb'rel="modulepreload" crossorigin href="\./static/js/Metric\.', page)
        metric = next(c for c in chunk_preload.first_paint_chunks() if c.startswith("Metric."))
        with urllib.request.urlopen(f"{url}/static/js/{metric}", timeout=5) as response:
            assert response.status == 200 and b"import" in response.read(200)
