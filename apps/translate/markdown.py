"""Markdown for translation, read with markdown-it-py (CommonMark + GFM tables): only prose (paragraphs, headings,
list items, quotes, table cells) becomes segments; every other line (front matter, code, HTML blocks and comments,
link reference definitions, rules, MyST targets) is copied byte for byte. `skeleton` is the structure a translation
must keep: the file-level check compares it for source and output."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

    from ganymede.apps.translate.formats import Document

# `(name)=` lines: MyST (Sphinx) targets, labels for cross-references, never prose.
_MYST_TARGET = re.compile(r"^\([^\s()]+\)=$")
_PIPE = re.compile(r"(?<!\\)(\|)")


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split on "\\n" only, as markdown-it counts them (str.splitlines would also
    split on form feeds and U+2028, and the token line maps would no longer match)."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def front_matter_lines(lines: list[str]) -> int:
    """How many leading lines are YAML (---) or TOML (+++) front matter; 0 when there is none."""
    if not lines:
        return 0
    opening = lines[0].rstrip("\r\n").rstrip()
    if opening not in {"---", "+++"}:
        return 0
    closers = {"---", "..."} if opening == "---" else {"+++"}
    for k in range(1, len(lines)):
        if lines[k].rstrip("\r\n").rstrip() in closers:
            return k + 1
    return 0


def parse(text: str) -> tuple[list[str], list[Token], dict[str, Any]]:
    """(lines, block tokens, env) with front matter blanked so markdown-it neither parses it (a `---` line would
    be a rule or a setext underline) nor shifts the line maps."""
    lines = split_lines(text)
    fm = front_matter_lines(lines)
    env: dict[str, Any] = {}
    tokens = parser().parse("\n" * fm + "".join(lines[fm:]), env)
    return lines, tokens, env


def read_md(text: str) -> Document:
    from ganymede.apps.translate.formats import Document

    lines, tokens, env = parse(text)
    references = set(env.get("references", {}))
    plan: dict[int, tuple[int, list[Any]]] = {}  # first line -> (line after, parts replacing those lines)
    in_table = False
    for token in tokens:
        if token.type == "table_open":
            in_table = True
        elif token.type == "table_close":
            in_table = False
        elif token.type == "tr_open" and token.map:
            start = token.map[0]
            plan[start] = (start + 1, _table_row(lines[start], start, references))
        elif token.type == "inline" and token.map and not in_table:
            found = _prose(lines, token, references)
            if found:
                plan[token.map[0]] = found
    doc = Document()
    i = 0
    while i < len(lines):
        if i in plan:
            end, parts = plan[i]
            doc.parts.extend(p for p in parts if p != "")
            i = end
        else:
            doc.parts.append(lines[i])
            i += 1
    return doc


def _prose(lines: list[str], token: Token, references: set[str]) -> tuple[int, list[Any]] | None:
    """The parts for one paragraph or heading: each line's container prefix (`> `, `- `, indentation, `## `) and
    tail kept, the text between them one segment. None keeps the lines as they are (not prose, or the token's
    content cannot be found in its source lines)."""
    from ganymede.apps.translate.formats import Segment

    start = token.map[0] if token.map else 0
    pieces: list[tuple[str, str, str]] = []  # (prefix, text, tail with newline)
    for k, content in enumerate(token.content.split("\n")):
        if start + k >= len(lines):
            return None
        line = lines[start + k]
        body = line.rstrip("\r\n")
        core = content.strip()
        at = body.find(core) if core else -1
        if at < 0 or any(ch.isalnum() and not ch.isdigit() for ch in body[:at]):
            return None
        pieces.append((body[:at], core, body[at + len(core) :] + line[len(body) :]))
    # MyST targets (`(name)=`) a paragraph or setext heading starts with are labels, kept as lines of their own
    targets = 0
    while targets < len(pieces) and _MYST_TARGET.match(pieces[targets][1]):
        targets += 1
    fixed = [lines[start + k] for k in range(targets)]
    pieces = pieces[targets:]
    if not pieces:
        return None
    text = "\n".join(core for _, core, _ in pieces)
    masked, protected = protect_inline(text, references)
    if not _has_prose(masked, protected):
        return None
    joins = tuple(pieces[k][2] + pieces[k + 1][0] for k in range(len(pieces) - 1))
    segment = Segment(masked, protected, f"line {start + targets + 1}", joins=joins, kind="md")
    return start + targets + len(pieces), [*fixed, pieces[0][0], segment, pieces[-1][2]]


def _table_row(line: str, number: int, references: set[str]) -> list[Any]:
    """A table row: pipes and the spaces around cells kept, each cell's text a segment of its own."""
    from ganymede.apps.translate.formats import Segment

    body = line.rstrip("\r\n")
    parts: list[Any] = []
    for k, cell in enumerate(_PIPE.split(body)):
        core = cell.strip()
        if k % 2 or not core:
            parts.append(cell)
            continue
        lead = cell[: len(cell) - len(cell.lstrip())]
        trail = cell[len(cell.rstrip()) :]
        masked, protected = protect_inline(core, references)
        parts.append(lead)
        parts.append(
            Segment(masked, protected, f"line {number + 1}", kind="cell") if _has_prose(masked, protected) else core
        )
        parts.append(trail)
    parts.append(line[len(body) :])
    return parts


# -- inline markup --------------------------------------------------------------------------------------------
# What the model must not change: code spans (and the MyST role before one), link and image targets, reference
# labels, footnote references, autolinks, bare URLs, inline HTML and comments, entities.
_INLINE = re.compile(
    r"(?:\{[\w:.+-]+\})?(`+)(?:(?!\1).)+?\1"
    r"|\]\([^)\s]*(?:\s+\"[^\"]*\")?\)"
    r"|\]\[[^\[\]]*\]"
    r"|\[\^[^\]\s]+\]"
    r"|<(?:https?|ftp|mailto):[^>\s]+>|<[^@\s<>]+@[^@\s<>]+>"
    r"|(?:https?|ftp)://[^\s)>\]`]+"
    r"|<!--.*?-->|</?[a-zA-Z][^<>]*>"
    r"|&(?:[a-zA-Z][a-zA-Z0-9]{1,31}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});"
)
PLACEHOLDER = re.compile(r"\[\[\d+\]\]")


def _normalize_label(label: str) -> str:
    """A reference label as markdown-it keys it (env["references"]): case-folded, whitespace collapsed."""
    return " ".join(label.split()).upper()


def protect_inline(text: str, references: Iterable[str] = ()) -> tuple[str, dict[str, str]]:
    """Replace inline markup with numbered placeholders the model copies through. A `[label]` (or `[label][]`)
    that names a link reference definition is protected whole: its text is the link's key."""
    protected: dict[str, str] = {}

    def hold(token: str) -> str:
        placeholder = f"[[{len(protected)}]]"
        protected[placeholder] = token
        return placeholder

    known = set(references)
    if known:

        def shortcut(match: re.Match[str]) -> str:
            if _normalize_label(match.group(1)) in known:
                return hold(match.group(0))
            return match.group(0)

        text = re.sub(r"(?<![\]\\])\[([^\[\]]+)\](?:\[\])?(?![(\[:])", shortcut, text)

    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith(("](", "][")):  # the "]" closes the link text, which is translated
            return "]" + hold(token[1:])
        return hold(token)

    return _INLINE.sub(keep, text), protected


def restore_inline(translation: str, protected: dict[str, str]) -> str | None:
    """Markup back in place, or None when the model dropped or duplicated a placeholder."""
    for placeholder in protected:
        if translation.count(placeholder) != 1:
            return None
    for placeholder, original in protected.items():
        translation = translation.replace(placeholder, original)
    return translation


def _has_prose(masked: str, protected: dict[str, str]) -> bool:
    return any(ch.isalpha() for ch in PLACEHOLDER.sub("", masked)) if protected else any(ch.isalpha() for ch in masked)


# -- structure -------------------------------------------------------------------------------------------------
def skeleton(text: str) -> dict[str, Any]:
    """What a translation must leave as it is: the block structure (types, heading levels, list markers, table
    cells), code blocks, HTML blocks and comments verbatim, each paragraph's inline code, links, images and inline
    HTML (as a multiset: word order may move them), and every line outside prose, verbatim."""
    lines, tokens, _env = parse(text)
    blocks: list[tuple[str, ...]] = []
    inline: list[tuple[tuple[str, str], ...]] = []
    prose: set[int] = set()
    for token in tokens:
        if token.type in {"fence", "code_block", "html_block"}:
            blocks.append((token.type, token.info, token.content))
        elif token.type == "inline":
            if token.map:
                prose.update(range(token.map[0], token.map[0] + token.content.count("\n") + 1))
            inline.append(inline_marks(token))
        else:
            blocks.append((token.type, token.markup))
    fixed = [line.rstrip("\r\n") for k, line in enumerate(lines) if k not in prose]
    return {"blocks": blocks, "inline": inline, "fixed_lines": fixed, "markers": markers(text)}


def inline_marks(token: Any) -> tuple[tuple[str, str], ...]:
    """What an inline token must keep through translation: its inline code and HTML, and its link targets."""
    marks = []
    for child in token.children or []:
        if child.type in {"code_inline", "html_inline"}:
            marks.append((child.type, child.content))
        elif child.type in {"link_open", "image"}:
            marks.append((child.type, str(child.attrs.get("href", child.attrs.get("src", "")))))
    return tuple(sorted(marks))


def markers(text: str) -> tuple[int, ...]:
    """Counts of the characters that open or close code and comments. Inside prose a stray one parses as text,
    but tools that scan the file with regular expressions (or a later edit) would pair it with the wrong one."""
    return tuple(text.count(mark) for mark in ("`", "<!--", "-->", "~~~"))


def skeleton_diff(source: dict[str, Any], output: dict[str, Any]) -> list[str]:
    """The parts of the skeleton that differ, in words for a report."""
    names = {
        "blocks": "block structure or code",
        "inline": "inline code or links",
        "fixed_lines": "lines outside prose",
        "markers": "code or comment markers",
    }
    return [names[key] for key in names if source[key] != output[key]]


def fragment_skeleton(text: str) -> tuple[Any, ...]:
    """The structure of one segment's text alone (as a tiny document): a translation of a paragraph must stay one
    paragraph with the same inline code and links; it must not start a list, a heading or a code block."""
    _lines, tokens, _env = parse(text.replace("\n", " "))
    shape: list[Any] = []
    for token in tokens:
        if token.type == "inline":
            shape.append(inline_marks(token))
        else:
            shape.append((token.type, token.markup, token.content))
    return (*shape, markers(text))
