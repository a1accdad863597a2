"""NER inputs (txt, html, jsonl, folders, URLs on a local server) and outputs (json, jsonl, csv, conll, html)."""

from __future__ import annotations

import csv
import functools
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ganymede.apps.ner.conll import read_conll
from ganymede.apps.ner.io import (
    Document,
    InputProblem,
    format_for,
    iter_documents,
    label_counts,
    render,
    to_conll,
)
from ganymede.apps.ner.labels import Entity
from ganymede.core.errors import GanymedeError

ARTICLE_HTML = """<!doctype html><html><head><title>Markets</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article><h1>Volvo opens a plant in Ghent</h1>
<p>Volvo Cars said on Monday it would open a new battery plant in Ghent, Belgium, creating 1,200 jobs by 2027.
The Swedish carmaker, owned by China's Geely, will invest two billion euros in the site, chief executive
Jim Rowan told reporters at the company's headquarters in Gothenburg.</p>
<p>The Belgian government welcomed the decision. Analysts at Morgan Stanley said the plant would help Volvo meet
its target of selling only electric cars by the end of the decade.</p>
</article>
<footer>Copyright 2026 Example News. Cookie settings. Subscribe to our newsletter.</footer>
</body></html>"""


def make_doc(text: str = "Ann Lee, of IBM, met Bob in Paris, France.") -> Document:
    entities = []
    for name, label in (("Ann Lee", "PER"), ("IBM", "ORG"), ("Bob", "PER"), ("Paris", "LOC"), ("France", "LOC")):
        start = text.index(name)
        entities.append(Entity(name, label, start, start + len(name), "news"))
    return Document("doc-1", text, "test", entities)


@pytest.fixture
def local_server(tmp_path: Path) -> Iterator[str]:
    """A static HTTP server on 127.0.0.1 serving tmp_path/site."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "article.html").write_text(ARTICLE_HTML, encoding="utf-8")
    (site / "plain.txt").write_text("Reuters reported from Nairobi.", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_text_and_html_files(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Oslo is cold.", encoding="utf-8")
    (tmp_path / "b.html").write_text(ARTICLE_HTML, encoding="utf-8")
    items = list(iter_documents([str(tmp_path / "a.txt"), str(tmp_path / "b.html")]))
    assert [type(i) for i in items] == [Document, Document]
    assert items[0].text == "Oslo is cold."
    article = items[1].text
    assert "battery plant in Ghent" in article and "Morgan Stanley" in article
    assert "Cookie settings" not in article and "Sport" not in article  # boilerplate removed


def test_jsonl_reports_bad_lines_and_keeps_going(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        '{"id": "a", "text": "Oslo is cold."}\n'
        "not json\n"
        "\n"
        '{"id": "b", "body": "no text field"}\n'
        '{"text": "Rome is warm."}\n'
        '{"id": "c", "text": "   "}\n',
        encoding="utf-8",
    )
    items = list(iter_documents([str(path)]))
    docs = [i for i in items if isinstance(i, Document)]
    problems = [i for i in items if isinstance(i, InputProblem)]
    assert [d.id for d in docs] == ["a", "news.jsonl:5"]
    assert [p.source for p in problems] == [f"{path}, line 2", f"{path}, line 4", f"{path}, line 6"]
    assert "not valid JSON" in problems[0].reason and "'text'" in problems[1].reason


def test_folder_missing_unsupported_and_undecodable(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "one.txt").write_text("Ann went to Rome.", encoding="utf-8")
    (folder / "sub" / "two.txt").write_text("Bob went to Oslo.", encoding="utf-8")
    (folder / "bad.txt").write_bytes(b"\xff\xfe\x00bad")
    (folder / "skip.bin").write_bytes(b"\x00")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    items = list(iter_documents([str(folder), str(tmp_path / "missing.txt"), str(tmp_path / "image.png")]))
    docs = [i.text for i in items if isinstance(i, Document)]
    problems = {i.source: i.reason for i in items if isinstance(i, InputProblem)}
    assert docs == ["Ann went to Rome.", "Bob went to Oslo."]
    assert "not UTF-8" in problems[str(folder / "bad.txt")]
    assert "no such file" in problems[str(tmp_path / "missing.txt")]
    assert "unsupported file type .png" in problems[str(tmp_path / "image.png")]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert isinstance(next(iter_documents([str(empty)])), InputProblem)


def test_urls_from_a_local_server(local_server: str) -> None:
    items = list(
        iter_documents([f"{local_server}/article.html", f"{local_server}/plain.txt", f"{local_server}/gone.html"])
    )
    assert isinstance(items[0], Document) and "Volvo Cars said on Monday" in items[0].text
    assert "Cookie settings" not in items[0].text
    assert isinstance(items[1], Document) and items[1].text == "Reuters reported from Nairobi."
    assert isinstance(items[2], InputProblem) and "HTTP 404" in items[2].reason


def test_unreachable_url_is_a_problem_not_a_crash() -> None:
    [item] = iter_documents(["http://127.0.0.1:9/nothing"])
    assert isinstance(item, InputProblem) and "cannot fetch" in item.reason


def test_json_and_jsonl_outputs_round_trip() -> None:
    doc = make_doc()
    [record] = json.loads(render([doc], "json"))
    lines = render([doc, doc], "jsonl").splitlines()
    assert len(lines) == 2 and json.loads(lines[0]) == record
    for e in record["entities"]:
        assert record["text"][e["start"] : e["end"]] == e["text"]
    assert set(record["entities"][0]) == {"text", "label", "start", "end", "engine"}


def test_csv_output() -> None:
    rows = list(csv.DictReader(io.StringIO(render([make_doc()], "csv"))))
    assert [r["text"] for r in rows] == ["Ann Lee", "IBM", "Bob", "Paris", "France"]
    assert rows[0] == {"doc_id": "doc-1", "text": "Ann Lee", "label": "PER", "start": "0", "end": "7", "engine": "news"}


def test_conll_output_reads_back(tmp_path: Path) -> None:
    text = "Ann Lee, of IBM, met Bob in Paris, France.\nIt rained."
    path = tmp_path / "out.conll"
    path.write_text(to_conll([make_doc(text)]), encoding="utf-8")
    sentences = read_conll(path)
    assert len(sentences) == 2
    tagged = {(w, t) for w, t in zip(sentences[0].words, sentences[0].tags, strict=True) if t != "O"}
    assert tagged == {
        ("Ann", "B-PER"),
        ("Lee", "I-PER"),
        ("IBM", "B-ORG"),
        ("Bob", "B-PER"),
        ("Paris", "B-LOC"),
        ("France", "B-LOC"),
    }
    assert sentences[1].tags == ["O", "O", "O"]


def test_html_output_highlights_entities() -> None:
    page = render([make_doc()], "html")
    assert page.lstrip().lower().startswith("<!doctype html") or "<html" in page.lower()
    assert page.count("<mark") == 5
    assert "Paris" in page and "PER" in page


def test_format_for() -> None:
    assert format_for("out.csv", None) == "csv"
    assert format_for("out.HTM", None) == "html"
    assert format_for("out.jsonl", "json") == "json"
    assert format_for(None, None) == "jsonl"
    with pytest.raises(GanymedeError, match="output format"):
        format_for("out.xlsx", None)


def test_label_counts() -> None:
    assert label_counts([make_doc()]) == {"LOC": 2, "PER": 2, "ORG": 1}
