"""Document index: parsers, incremental re-indexing by file hash, hybrid retrieval. A hashing embedder stands in
for MiniLM so these stay fast; the real embedder is exercised by the integration tests."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from ganymede.apps.assistant.index import (
    DocumentIndex,
    fts_query,
    index_path,
    read_document,
    reciprocal_rank_fusion,
    split_text,
)
from ganymede.core.errors import GanymedeError, InputFileError


def hashing_embed(texts: list[str]) -> np.ndarray:
    """Bag of words hashed into 64 dimensions, L2-normalised: similar words -> similar vectors."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"\w+", text.lower()):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "reactor.txt").write_text("The Zorblax reactor runs at 451 kelvin. It was built by Mara Lindqvist.")
    (folder / "guide.md").write_text("# Office\n\nLunch is served at noon in the atrium.\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "people.csv").write_text("name,city\nalice,Oslo\nbob,Lima\n")
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    return folder


@pytest.fixture
def index(tmp_path: Path) -> DocumentIndex:
    return DocumentIndex(tmp_path / "index.db", embed=hashing_embed)


def test_parsers_keep_text_and_drop_markup(tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    html.write_text("<html><head><style>p{}</style></head><body><script>evil()</script><p>Tea at <b>4pm</b></p></body>")
    assert "Tea at" in read_document(html) and "evil" not in read_document(html)
    table = tmp_path / "t.csv"
    table.write_text("name,age\nalice,31\n")
    assert read_document(table) == "name: alice; age: 31"
    data = tmp_path / "d.json"
    data.write_text('{"project": {"name": "Ganymede", "tags": ["a", "b"]}}')
    assert read_document(data).splitlines() == ["project.name: Ganymede", "project.tags[0]: a", "project.tags[1]: b"]


def test_docx_and_pdf_parsers(tmp_path: Path) -> None:
    import docx
    from pypdf import PdfWriter

    document = docx.Document()
    document.add_paragraph("The budget is 12000 euros.")
    document.save(tmp_path / "b.docx")
    assert "12000 euros" in read_document(tmp_path / "b.docx")
    writer = PdfWriter()
    writer.add_blank_page(72, 72)
    writer.write(tmp_path / "blank.pdf")
    assert read_document(tmp_path / "blank.pdf").strip() == ""
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(InputFileError, match=r"broken\.pdf"):
        read_document(tmp_path / "broken.pdf")


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(InputFileError, match=r"bad.json line 3"):
        read_document(bad)


def test_split_text_respects_chunk_size() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 120 for i in range(6))
    chunks = split_text(text)
    assert len(chunks) > 3
    assert all(len(c) <= 1000 for c in chunks)


def test_incremental_sync(docs: Path, index: DocumentIndex) -> None:
    first = index.sync_folder(docs)
    assert sorted(first.added) == ["guide.md", "reactor.txt", "sub/people.csv"]
    assert index.sources() == ["guide.md", "reactor.txt", "sub/people.csv"]

    again = index.sync_folder(docs)
    assert (again.added, again.updated, again.removed, again.unchanged) == ([], [], [], 3)

    (docs / "reactor.txt").write_text("The Zorblax reactor was decommissioned in 2020.")
    (docs / "guide.md").unlink()
    changed = index.sync_folder(docs)
    assert changed.updated == ["reactor.txt"] and changed.removed == ["guide.md"] and changed.unchanged == 1
    assert index.sources() == ["reactor.txt", "sub/people.csv"]
    texts = [p.text for p in index.search("reactor kelvin lunch atrium", k=5)]
    assert not any("451 kelvin" in t or "atrium" in t for t in texts)  # old chunks gone from both indexes
    assert any("decommissioned" in t for t in texts)
    vec_rows = index.conn.execute("SELECT count(*) FROM chunks_vec").fetchone()[0]
    fts_rows = index.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert vec_rows == fts_rows == index.count()


def test_index_persists_on_disk(docs: Path, tmp_path: Path) -> None:
    DocumentIndex(tmp_path / "p.db", embed=hashing_embed).sync_folder(docs)
    reopened = DocumentIndex(tmp_path / "p.db", embed=hashing_embed)
    assert reopened.sync_folder(docs).unchanged == 3


def test_hybrid_search_finds_exact_terms_and_cites(docs: Path, index: DocumentIndex) -> None:
    index.sync_folder(docs)
    best = index.search("Who built the Zorblax reactor?", k=2)[0]
    assert best.source == "reactor.txt" and best.citation == "reactor.txt#chunk0"
    assert index.search("Lima", k=1, mode="bm25")[0].source == "sub/people.csv"
    with pytest.raises(GanymedeError):
        index.search("x", k=0)


def test_fts_query_quotes_words_and_drops_syntax() -> None:
    assert fts_query('What is "NEAR(reactor core)" OR heat*?') == '"near" OR "reactor" OR "core" OR "heat"'
    assert fts_query("the of a") == ""


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = [item for item, _ in reciprocal_rank_fusion([[1, 2, 3], [3, 2, 4]])]
    assert fused[0] in (2, 3) and fused.index(2) < fused.index(4) and fused.index(3) < fused.index(1)


def test_index_names_are_checked() -> None:
    with pytest.raises(GanymedeError, match="invalid index name"):
        index_path("../escape")


def test_an_index_mirrors_one_folder(docs: Path, index: DocumentIndex, tmp_path: Path) -> None:
    index.sync_folder(docs)
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(GanymedeError, match="mirrors"):
        index.sync_folder(other)  # would otherwise delete every document of the first folder
    assert len(index.sources()) == 3


def test_uploads_are_copied_and_indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ganymede.apps.assistant.index as module

    monkeypatch.setattr(module.settings, "data_dir", lambda: tmp_path / "home")
    monkeypatch.setattr(module, "open_index", lambda name: DocumentIndex(module.index_path(name), embed=hashing_embed))
    upload = tmp_path / "upload.md"
    upload.write_text("# Notes\n\nThe launch is on Friday.")
    report = module.add_uploads("notes", [upload])
    assert report.added == ["upload.md"]
    assert (tmp_path / "home" / "documents" / "notes" / "upload.md").read_text().endswith("Friday.")
    (tmp_path / "x.exe").write_bytes(b"MZ")
    with pytest.raises(InputFileError, match="unsupported"):
        module.add_uploads("notes", [tmp_path / "x.exe"])


def test_add_texts_batches_and_skips_unchanged(index: DocumentIndex) -> None:
    calls = []

    def counting_embed(texts: list[str]):
        calls.append(len(texts))
        return hashing_embed(texts)

    index._embed = counting_embed
    items = [(f"doc/{i}", f"Paragraph {i} about topic {i}.") for i in range(70)]
    assert index.add_texts(items) == 70
    assert calls == [64, 6] and index.count() == 70
    assert index.add_texts(items) == 0 and calls == [64, 6]
    assert index.search("topic 42", k=1, mode="bm25")[0].source == "doc/42"
