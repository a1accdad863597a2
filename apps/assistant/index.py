"""The document index behind `ganymede index` and the search_documents tool.

Files are parsed with real parsers (pypdf, python-docx, lxml, csv, json), split with LangChain's text
splitters, embedded with the bundled MiniLM model (core.embeddings), and stored in ONE SQLite file that holds
both halves of hybrid retrieval: a sqlite-vec `vec0` table for dense k-NN and an FTS5 table for BM25. The two
rankings are fused with reciprocal rank fusion. Re-indexing is incremental by file hash: changed files are
re-chunked, deleted files removed, unchanged files skipped; each file's update is one transaction.

Why sqlite-vec: a 1 MB extension with no server and no heavy dependencies (Chroma pulls onnxruntime and a
web stack, LanceDB pulls pyarrow); SQLite gives us FTS5's BM25 in the same file and atomic updates for free.
Python's own sqlite3 here cannot load extensions, so the connection is apsw (SQLite bindings that can)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core import settings
from ganymede.core.errors import BackendUnavailableError, GanymedeError, InputFileError

SUPPORTED = (".txt", ".md", ".html", ".htm", ".pdf", ".docx", ".csv", ".json")
CHUNK_SIZE = 1000  # characters: about 200 tokens, so several passages fit a small model's prompt
CHUNK_OVERLAP = 150
EMBED_GROUP = 64  # texts embedded per model call by add_texts
RRF_K = 60  # the constant from Cormack et al. (2009); rank fusion is insensitive to it
SEARCH_MODES = ("hybrid", "dense", "bm25")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
    ]
)


# -- parsers -------------------------------------------------------------------------------------------------
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _html(path: Path) -> str:
    import lxml.html

    tree = lxml.html.fromstring(path.read_bytes() or b"<html></html>")
    for bad in tree.xpath("//script|//style|//noscript"):
        bad.drop_tree()
    blocks = [" ".join(t.split()) for t in tree.itertext()]
    return "\n".join(b for b in blocks if b)


def _pdf(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)


def _docx(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs if p.text.strip()]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(parts)


def _csv(path: Path) -> str:
    """One line per row as `column: value; ...`, so every chunk keeps its column names."""
    rows = list(csv.reader(io.StringIO(_text(path))))
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    return "\n".join("; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False)) for row in body)


def _json(path: Path) -> str:
    try:
        data = json.loads(_text(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    lines: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        else:
            lines.append(f"{where}: {value}")

    walk(data, "")
    return "\n".join(lines)


PARSERS = {
    ".txt": _text,
    ".md": _text,
    ".html": _html,
    ".htm": _html,
    ".pdf": _pdf,
    ".docx": _docx,
    ".csv": _csv,
    ".json": _json,
}


def read_document(path: Path) -> str:
    """The text of one supported file. Unreadable or corrupt files raise InputFileError naming the file."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise InputFileError(f"{path}: unsupported file type", f"supported: {' '.join(SUPPORTED)}")
    try:
        return parser(path)
    except InputFileError:
        raise
    except Exception as exc:  # each parser library raises its own types for a corrupt file
        raise InputFileError(f"{path}: cannot parse ({type(exc).__name__}: {exc})", "is the file complete?") from None


def split_text(text: str, suffix: str = ".txt") -> list[str]:
    """Chunks of about CHUNK_SIZE characters that break at headings, paragraphs, then sentences."""
    from langchain_text_splitters import Language, RecursiveCharacterTextSplitter

    if suffix == ".md":
        splitter = RecursiveCharacterTextSplitter.from_language(
            Language.MARKDOWN, chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP
        )
    else:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP, separators=["\n\n", "\n", ". ", " ", ""]
        )
    return [c.strip() for c in splitter.split_text(text) if c.strip()]


# -- results ----------------------------------------------------------------------------------------------------
@dataclass
class Passage:
    """One retrieved chunk. `citation` is what answers show: the file and the chunk number."""

    source: str
    chunk: int
    text: str
    score: float = 0.0
    citation: str = ""

    def __post_init__(self) -> None:
        self.citation = self.citation or f"{self.source}#chunk{self.chunk}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged, {self.chunks} chunks written, {len(self.skipped)} skipped"
        )


# -- the index ----------------------------------------------------------------------------------------------------
def _connect(path: Path) -> Any:
    try:
        import apsw
        import sqlite_vec
    except ImportError:
        raise BackendUnavailableError(
            "the document index needs apsw and sqlite-vec", "pip install apsw sqlite-vec"
        ) from None
    conn = apsw.Connection(str(path))
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    conn.set_busy_timeout(30_000)
    return conn


def fts_query(text: str) -> str:
    """A question as an FTS5 OR-query of its content words (quoted, so no FTS syntax leaks through)."""
    words = [w for w in re.findall(r"\w+", text.lower()) if w not in _STOPWORDS and len(w) > 1]
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class DocumentIndex:
    """Chunks, their BM25 index and their vectors in one SQLite file at `path`."""

    def __init__(self, path: Path, embed: Any = None) -> None:
        from ganymede.core.embeddings import embed as default_embed

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._embed = embed or default_embed
        self.conn = _connect(self.path)
        self.dim = self._dimension()
        self.conn.execute(
            f"""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, chunks INTEGER);
            CREATE TABLE IF NOT EXISTS chunks (
                id INTEGER PRIMARY KEY, source TEXT NOT NULL, chunk INTEGER NOT NULL, text TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS chunks_by_source ON chunks(source);
            CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, tokenize='porter unicode61');
            CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vec USING vec0(
                chunk_id INTEGER PRIMARY KEY, embedding float[{self.dim}] distance_metric=cosine);
            INSERT OR IGNORE INTO meta VALUES ('dimension', '{self.dim}');
            """
        )
        stored = int(self._scalar("SELECT value FROM meta WHERE key = 'dimension'"))
        if stored != self.dim:
            raise GanymedeError(
                f"{self.path} was built with {stored}-dimensional embeddings, the model now gives {self.dim}",
                "delete the index file and index the folder again",
            )

    def _dimension(self) -> int:
        return int(self._embed(["dimension probe"]).shape[1])

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.conn.close()

    # -- writing ---------------------------------------------------------------------------------------------
    def _remove(self, source: str) -> None:
        ids = [r[0] for r in self.conn.execute("SELECT id FROM chunks WHERE source = ?", (source,))]
        for chunk_id in ids:
            self.conn.execute("DELETE FROM chunks_fts WHERE rowid = ?", (chunk_id,))
            self.conn.execute("DELETE FROM chunks_vec WHERE chunk_id = ?", (chunk_id,))
        self.conn.execute("DELETE FROM chunks WHERE source = ?", (source,))
        self.conn.execute("DELETE FROM files WHERE source = ?", (source,))

    def _write(self, source: str, digest: str, chunks: list[str], vectors: Any = None) -> None:
        """Replace one source's chunks in a single transaction (embedding happens before it opens)."""
        import numpy as np

        if vectors is None:
            vectors = self._embed(chunks) if chunks else np.zeros((0, self.dim), "float32")
        vectors = np.asarray(vectors, dtype=np.float32)
        with self.conn:
            self._remove(source)
            for number, (text, vector) in enumerate(zip(chunks, vectors, strict=True)):
                self.conn.execute("INSERT INTO chunks(source, chunk, text) VALUES (?, ?, ?)", (source, number, text))
                chunk_id = self.conn.last_insert_rowid()
                self.conn.execute("INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", (chunk_id, text))
                self.conn.execute(
                    "INSERT INTO chunks_vec(chunk_id, embedding) VALUES (?, ?)", (chunk_id, vector.tobytes())
                )
            self.conn.execute("INSERT INTO files VALUES (?, ?, ?)", (source, digest, len(chunks)))

    def add_texts(self, items: Iterable[tuple[str, str]]) -> int:
        """Index (source, text) pairs directly (e.g. benchmark paragraphs); returns chunks written.
        Embeds many short texts per model call, which is far faster than one call per text."""
        pending: list[tuple[str, str, list[str]]] = []
        for source, text in items:
            digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
            if self._scalar("SELECT sha256 FROM files WHERE source = ?", (source,)) != digest:
                pending.append((source, digest, split_text(text)))
        written = 0
        for start in range(0, len(pending), EMBED_GROUP):
            group = pending[start : start + EMBED_GROUP]
            vectors = self._embed([c for _, _, chunks in group for c in chunks])
            offset = 0
            for source, digest, chunks in group:
                self._write(source, digest, chunks, vectors[offset : offset + len(chunks)])
                offset += len(chunks)
                written += len(chunks)
        return written

    def sync_folder(self, folder: Path) -> SyncReport:
        """Bring the index in line with `folder`: new and changed files (re)indexed, deleted ones removed.
        Sources are paths relative to the folder. Unparseable files are skipped and reported."""
        folder = Path(folder)
        if not folder.is_dir():
            raise InputFileError(f"{folder} is not a folder", "pass the folder that holds your documents")
        report = SyncReport()
        self._remember_folder(folder)
        known = dict(self.conn.execute("SELECT source, sha256 FROM files").fetchall())
        seen: set[str] = set()
        for path in iter_supported(folder):
            source = path.relative_to(folder).as_posix()
            seen.add(source)
            digest = file_hash(path)
            if known.get(source) == digest:
                report.unchanged += 1
                continue
            try:
                chunks = split_text(read_document(path), path.suffix.lower())
            except InputFileError as exc:
                report.skipped.append(str(exc))
                continue
            self._write(source, digest, chunks)
            report.chunks += len(chunks)
            (report.updated if source in known else report.added).append(source)
        for source in sorted(set(known) - seen):
            with self.conn:
                self._remove(source)
            report.removed.append(source)
        return report

    def _remember_folder(self, folder: Path) -> None:
        """An index mirrors one folder; syncing it from another would delete the first folder's documents."""
        resolved = str(folder.resolve())
        previous = self.folder()
        if previous and previous != resolved:
            raise GanymedeError(
                f"index {self.path.stem!r} mirrors {previous}, not {resolved}",
                "use another --name for this folder, or delete the index file to rebuild it",
            )
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('folder', ?)", (resolved,))

    def folder(self) -> str | None:
        return self._scalar("SELECT value FROM meta WHERE key = 'folder'")

    # -- reading ---------------------------------------------------------------------------------------------
    def sources(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT source FROM files ORDER BY source")]

    def count(self) -> int:
        return int(self._scalar("SELECT count(*) FROM chunks") or 0)

    def dense(self, query: str, n: int) -> list[tuple[int, float]]:
        import numpy as np

        vector = np.asarray(self._embed([query]), dtype=np.float32)[0]
        rows = self.conn.execute(
            "SELECT chunk_id, distance FROM chunks_vec WHERE embedding MATCH ? AND k = ? ORDER BY distance",
            (vector.tobytes(), n),
        ).fetchall()
        return [(int(r[0]), 1.0 - float(r[1])) for r in rows]

    def keyword(self, query: str, n: int) -> list[tuple[int, float]]:
        expression = fts_query(query)
        if not expression:
            return []
        rows = self.conn.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?",
            (expression, n),
        ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def search(self, query: str, k: int = 4, mode: str = "hybrid") -> list[Passage]:
        """The k best chunks for `query`: 'hybrid' (BM25 + dense, reciprocal rank fusion), 'dense' or 'bm25'."""
        if k < 1:
            raise GanymedeError(f"k must be at least 1, got {k}")
        if mode not in SEARCH_MODES:
            raise GanymedeError(f"unknown retrieval mode {mode!r}", "use hybrid, dense or bm25")
        pool = max(4 * k, 20)
        rankings = []
        if mode in {"hybrid", "dense"} and self.count():
            rankings.append(self.dense(query, pool))
        if mode in {"hybrid", "bm25"}:
            rankings.append(self.keyword(query, pool))
        fused = reciprocal_rank_fusion([[chunk_id for chunk_id, _ in r] for r in rankings])[:k]
        return [self._passage(chunk_id, score) for chunk_id, score in fused]

    def _passage(self, chunk_id: int, score: float) -> Passage:
        source, chunk, text = self.conn.execute(
            "SELECT source, chunk, text FROM chunks WHERE id = ?", (chunk_id,)
        ).fetchone()
        return Passage(source=source, chunk=int(chunk), text=text, score=round(score, 5))


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Ids ordered by the sum over rankings of 1 / (k + rank); rank 1 is the best."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def index_path(name: str) -> Path:
    if not _NAME.match(name):
        raise GanymedeError(f"invalid index name {name!r}", "use letters, digits, '.', '_' or '-' (max 64)")
    return settings.data_dir() / "indexes" / f"{name}.db"


def list_indexes() -> list[str]:
    folder = settings.data_dir() / "indexes"
    return sorted(p.stem for p in folder.glob("*.db")) if folder.is_dir() else []


def open_index(name: str, must_exist: bool = False) -> DocumentIndex:
    path = index_path(name)
    if must_exist and not path.exists():
        available = ", ".join(list_indexes()) or "none yet"
        raise GanymedeError(
            f"no document index named {name!r}",
            f"create it with `ganymede index DIR --name {name}` (existing: {available})",
        )
    return DocumentIndex(path)


def documents_folder(name: str) -> Path:
    """Where uploaded documents for index `name` are kept (the UI's upload target)."""
    index_path(name)  # validates the name
    return settings.data_dir() / "documents" / name


def add_uploads(name: str, files: Iterable[Path]) -> SyncReport:
    """Copy uploaded files into the index's documents folder and sync the index with it."""
    import shutil

    folder = documents_folder(name)
    index = open_index(name)
    if index.folder() not in (None, str(folder.resolve())):
        raise GanymedeError(
            f"index {name!r} mirrors {index.folder()}", "upload into a new index name, or run `ganymede index` there"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        source = Path(file)
        if source.suffix.lower() not in SUPPORTED:
            raise InputFileError(f"{source.name}: unsupported file type", f"supported: {' '.join(SUPPORTED)}")
        shutil.copyfile(source, folder / source.name)
    return index.sync_folder(folder)


def iter_supported(folder: Path) -> Iterator[Path]:
    return (p for p in sorted(Path(folder).rglob("*")) if p.is_file() and p.suffix.lower() in SUPPORTED)
