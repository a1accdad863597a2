"""Today's Markdown reader before markdown-it (a hand-written block scanner), frozen here only as the baseline of
`ganymede bench translate`: the benchmark times the old path against the new one in the same run. Not used to
translate anything."""

from __future__ import annotations

import re

from ganymede.apps.translate.formats import Document, Segment

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^(\s{0,3}#{1,6}\s+)(.*?)(\s+#+\s*)?$")
_LIST = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?)(.*)$")
_QUOTE = re.compile(r"^(\s{0,3}(?:>\s?)+)(.*)$")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# Inline markup the model must not change: code spans, link/image targets, autolinks, bare URLs, HTML tags.
_INLINE = re.compile(
    r"(`+)(?:(?!\1).)+?\1|\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|<https?://[^>]+>|https?://[^\s)>\]]+|</?[a-zA-Z][^>]*>"
)


def protect_inline(text: str) -> tuple[str, dict[str, str]]:
    """Replace inline code, URLs and tags with numbered placeholders the model copies through."""
    protected: dict[str, str] = {}

    def keep(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith("]("):
            placeholder = f"[[{len(protected)}]]"
            protected[placeholder] = token[1:]
            return "]" + placeholder
        placeholder = f"[[{len(protected)}]]"
        protected[placeholder] = token
        return placeholder

    return _INLINE.sub(keep, text), protected


def restore_inline(translation: str, protected: dict[str, str]) -> str | None:
    """Markup back in place, or None when the model dropped or duplicated a placeholder."""
    for placeholder, original in protected.items():
        if translation.count(placeholder) != 1:
            return None
        translation = translation.replace(placeholder, original)
    return translation


def _md_segment(doc: Document, prefix: str, text: str, suffix: str, where: str) -> None:
    if prefix:
        doc.parts.append(prefix)
    if text.strip() and any(ch.isalpha() for ch in _INLINE.sub("", text)):
        masked, protected = protect_inline(text)
        doc.parts.append(Segment(masked, protected, where))
    else:
        doc.parts.append(text)
    doc.parts.append(suffix)


def read_md(text: str) -> Document:
    doc = Document()
    lines = text.splitlines(keepends=True)
    i = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((k for k in range(1, len(lines)) if lines[k].strip() in {"---", "..."}), None)
        if end is not None:
            doc.parts.append("".join(lines[: end + 1]))
            i = end + 1
    while i < len(lines):
        line = lines[i]
        body, newline = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
        where = f"line {i + 1}"
        fence = _FENCE.match(body)
        if fence:  # code block: fixed up to the closing fence (or the end of the file)
            marker = fence.group(1)
            end = next((k for k in range(i + 1, len(lines)) if lines[k].strip().startswith(marker)), len(lines) - 1)
            doc.parts.append("".join(lines[i : end + 1]))
            i = end + 1
            continue
        indented_code = (body.startswith("    ") or body.startswith("\t")) and (i == 0 or not lines[i - 1].strip())
        if (
            not body.strip()
            or _RULE.match(body)
            or _REFDEF.match(body)
            or body.lstrip().startswith("<")
            or (indented_code and not _LIST.match(body))
        ):
            doc.parts.append(line)
            i += 1
            continue
        if "|" in body and (
            _TABLE_SEP.match(body)
            or (i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]))
            or (i > 0 and "|" in lines[i - 1] and lines[i - 1].strip())
        ):
            if _TABLE_SEP.match(body):
                doc.parts.append(line)
            else:
                for k, cell in enumerate(re.split(r"(\|)", body)):
                    if k % 2:
                        doc.parts.append(cell)
                    else:
                        lead = cell[: len(cell) - len(cell.lstrip())]
                        trail = cell[len(cell.rstrip()) :] if cell.strip() else ""
                        _md_segment(doc, lead, cell.strip() if cell.strip() else cell[len(lead) :], trail, where)
                doc.parts.append(newline)
            i += 1
            continue
        for pattern in (_HEADING, _LIST, _QUOTE):
            match = pattern.match(body)
            if match:
                suffix = (match.group(3) or "") if pattern is _HEADING else ""
                _md_segment(doc, match.group(1), match.group(2), suffix + newline, where)
                i += 1
                break
        else:  # a paragraph: consecutive plain lines, translated together
            end = i
            while end + 1 < len(lines) and lines[end + 1].strip() and not _starts_block(lines[end + 1]):
                end += 1
            paragraph = "".join(lines[i : end + 1])
            stripped = paragraph.rstrip("\r\n")
            _md_segment(doc, "", stripped, paragraph[len(stripped) :], where)
            i = end + 1
    return doc


def _starts_block(line: str) -> bool:
    body = line.rstrip("\r\n")
    return bool(
        _FENCE.match(body)
        or _HEADING.match(body)
        or _LIST.match(body)
        or _QUOTE.match(body)
        or _RULE.match(body)
        or body.lstrip().startswith(("<", "|"))
    )
