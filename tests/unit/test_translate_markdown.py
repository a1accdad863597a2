"""Markdown translation without a model: what is prose, what is copied byte for byte, the structural check,
the form of address, language variants, batching and reuse. A scripted backend plays the model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ganymede.apps.translate import formality
from ganymede.apps.translate.files import FileResult, _whole_file_check, translate_file
from ganymede.apps.translate.formats import read_md, restore_inline
from ganymede.apps.translate.languages import resolve
from ganymede.apps.translate.markdown import skeleton
from ganymede.apps.translate.translator import PROMPT, Translator, build_messages, parse_numbered
from ganymede.core.prompts import load_prompt
from tests.fakes import ScriptedBackend

EN, DE = resolve("en"), resolve("de")

# Real-world shapes: front matter, a MyST target, setext headings, a multi-line cog comment, an HTML block,
# nested lists with code, an indented code block, a table with inline code, reference links, a quote.
PAGE = """---
title: Aliases
tags: [cli, models]
---
(aliases)=
Model aliases
=============

Models can have short names, called aliases.
They save typing.

<!-- [[[cog
import cog
cog.out("generated")
]]] -->
Generated text stays as the tool wrote it.
<!-- [[[end]]] -->

<div class="note">
Raw HTML is kept.
</div>

Listing them
------------

- Run `ganymede models aliases` to list them:

  ```bash
  ganymede models aliases
  ```
- Nested items work too
  1. first a [link](https://example.com/a "Title") here
  2. then an autolink <https://example.com/b>

Some text before code.

    indented code block line

| Setting | What it does |
|---------|--------------|
| `GANYMEDE_HOME` | The folder with the settings |
| `GANYMEDE_MODEL` | The default model \\| fallback |

See [the guide][guide] or [models] for more, and <b>bold</b> words.

> **Note:** quotes are prose
> on two lines.

[guide]: https://example.com/guide "The guide"
[models]: ./models.md
"""


def shout(messages: list[dict[str, str]]) -> str:
    """A fake translation: the text after the instruction line, upper-cased (markers and placeholders survive)."""
    return messages[-1]["content"].split("\n\n", 1)[1].upper()


def non_prose_lines(text: str) -> list[str]:
    return skeleton(text)["fixed_lines"]


def write(tmp_path: Path, text: str, name: str = "page.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reading_and_rebuilding_with_the_source_text_gives_the_file_back() -> None:
    doc = read_md(PAGE)
    originals = [restore_inline(s.text, s.protected) if s.protected else s.text for s in doc.segments]
    assert doc.rebuild(originals) == PAGE


def test_only_prose_is_sent_and_everything_else_is_byte_identical(tmp_path: Path) -> None:
    backend = ScriptedBackend(shout)
    result = translate_file(backend, write(tmp_path, PAGE), "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert result.issues == [] and result.kept == 0
    assert non_prose_lines(out) == non_prose_lines(PAGE)
    assert skeleton(out) == skeleton(PAGE)
    for kept in (
        "---\ntitle: Aliases\ntags: [cli, models]\n---\n(aliases)=\n",
        '<!-- [[[cog\nimport cog\ncog.out("generated")\n]]] -->\n',
        '<div class="note">\nRaw HTML is kept.\n</div>\n',
        "  ```bash\n  ganymede models aliases\n  ```\n",
        "    indented code block line\n",
        "|---------|--------------|\n",
        '[guide]: https://example.com/guide "The guide"\n[models]: ./models.md\n',
    ):
        assert kept in out
    assert "MODEL ALIASES\n=============\n" in out  # setext heading: text translated, underline kept
    assert "MODELS CAN HAVE SHORT NAMES, CALLED ALIASES.\nTHEY SAVE TYPING.\n" in out
    assert "- RUN `ganymede models aliases` TO LIST THEM:\n" in out
    assert '  1. FIRST A [LINK](https://example.com/a "Title") HERE\n' in out
    assert "| `GANYMEDE_HOME` | THE FOLDER WITH THE SETTINGS |\n" in out
    assert "| `GANYMEDE_MODEL` | THE DEFAULT MODEL \\| FALLBACK |\n" in out
    assert "SEE [THE GUIDE][guide] OR [models] FOR MORE, AND <b>BOLD</b> WORDS." in out  # labels are keys
    assert "> **NOTE:** QUOTES ARE PROSE\n> ON TWO LINES.\n" in out
    sent = "\n".join(m[-1]["content"] for m, _, _ in backend.calls)
    for never in ("title: Aliases", "import cog", "Raw HTML", "ganymede models aliases", "example.com", "(aliases)="):
        assert never not in sent


def test_a_dropped_placeholder_is_retried_once_then_the_segment_is_kept_and_reported(tmp_path: Path) -> None:
    def drop_code(messages: list[dict[str, str]]) -> str:
        return re.sub(r"\[\[\d+\]\]", "", shout(messages))

    backend = ScriptedBackend(drop_code)
    page = "# Title\n\nRun `make` now.\n\nPlain words here.\n"
    result = translate_file(backend, write(tmp_path, page), "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert out == "# TITLE\n\nRun `make` now.\n\nPLAIN WORDS HERE.\n"
    assert result.retried == 1 and result.kept == 1
    assert result.issues == ["line 3: the model changed inline markup (code, a link or a tag); kept the original text"]
    retry = backend.calls[-1][0]
    assert "placeholder" in retry[0]["content"] and retry[-1]["content"].endswith("Run [[0]] now.")  # what to keep


@pytest.mark.parametrize(
    "broken",
    [
        "ZEILE EINS\n```\nCODE",  # opens a code block that swallows the rest of the page
        "- NEW LIST ITEM",  # a paragraph turned into a list
        "TEXT <!-- NEVER CLOSED",  # an open comment
        "TEXT WITH A STRAY ` BACKTICK `X`",
    ],
)
def test_a_reply_that_breaks_the_structure_is_caught_and_the_file_is_never_written_broken(
    tmp_path: Path, broken: str
) -> None:
    page = "# Title\n\nFirst paragraph.\n\nSecond paragraph.\n\n```\ncode\n```\n"
    backend = ScriptedBackend(lambda m: broken if "Second" in m[-1]["content"] else shout(m))
    result = translate_file(backend, write(tmp_path, page), "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert skeleton(out) == skeleton(page)
    assert "Second paragraph." in out and "FIRST PARAGRAPH." in out
    assert result.kept == 1 and any(issue.startswith("line 5:") for issue in result.issues)


def test_the_whole_file_check_puts_back_a_segment_that_breaks_the_file(tmp_path: Path) -> None:
    page = "Intro text.\n\n<!-- note -->\n\nOutro text.\n"
    doc = read_md(page)
    result = FileResult(tmp_path / "x.md")
    kept: set[int] = set()
    fixed = _whole_file_check(page, doc, doc.segments, ["INTRO <!--", "OUTRO TEXT."], kept, result)
    assert fixed == ["Intro text.", "OUTRO TEXT."] and kept == {0}
    assert result.issues and result.issues[0].startswith("line 1:")


def test_numbered_reply_with_a_dropped_line_falls_back_to_one_request_per_segment(tmp_path: Path) -> None:
    def drop_last_line(messages: list[dict[str, str]]) -> str:
        reply = shout(messages)
        lines = reply.split("\n")
        return "\n".join(lines[:-1]) if lines[0].startswith("[1]") else reply

    backend = ScriptedBackend(drop_last_line)
    page = "# One\n\nTwo words.\n\nThree words.\n"
    result = translate_file(backend, write(tmp_path, page), "de", "en")
    assert result.output.read_text(encoding="utf-8") == "# ONE\n\nTWO WORDS.\n\nTHREE WORDS.\n"
    assert len(backend.calls) == 1 + 3  # the numbered request, then each segment alone


def test_short_segments_share_a_request_and_repeated_ones_are_translated_once(tmp_path: Path) -> None:
    page = "# Install\n\nRun it.\n\n## Usage\n\nRun it.\n\n## More\n\nRun it.\n"
    backend = ScriptedBackend(shout)
    result = translate_file(backend, write(tmp_path, page), "de", "en")
    assert result.output.read_text(encoding="utf-8") == page.upper()
    assert result.segments == 6 and result.repeated == 2
    assert len(backend.calls) == 1
    assert backend.calls[0][0][-1]["content"].endswith("[1] Install\n[2] Run it.\n[3] Usage\n[4] More")
    assert "2 repeated (translated once)" in result.summary() and "segments/s" in result.summary()


def test_a_numbered_line_copied_through_untranslated_is_sent_again_on_its_own(tmp_path: Path) -> None:
    def lazy(messages: list[dict[str, str]]) -> str:
        text = messages[-1]["content"].split("\n\n", 1)[1]
        if text.startswith("[1]"):  # the list reply leaves line 2 in English
            return text.replace("[1] Install", "[1] INSTALL").replace("[3] Done", "[3] DONE")
        return text.upper()

    backend = ScriptedBackend(lazy)
    page = "# Install\n\nRun the tool now.\n\n# Done\n"
    result = translate_file(backend, write(tmp_path, page), "de", "en")
    assert result.output.read_text(encoding="utf-8") == "# INSTALL\n\nRUN THE TOOL NOW.\n\n# DONE\n"
    assert len(backend.calls) == 2 and backend.calls[1][0][-1]["content"].endswith("\n\nRun the tool now.")


def test_parse_numbered_accepts_only_the_exact_numbering() -> None:
    assert parse_numbered("[1] Eins\n[2] Zwei\n", 2) == ["Eins", "Zwei"]
    assert parse_numbered("[1] Eins\n\n[2] Zwei", 2) == ["Eins", "Zwei"]
    assert parse_numbered("[1] Eins Zwei", 2) is None
    assert parse_numbered("[1] Eins\n[3] Zwei", 2) is None
    assert parse_numbered("[1] Eins\n[2] Zwei\n[3] Drei", 2) is None
    assert parse_numbered("[1] Eins\n[2]", 2) is None
    assert parse_numbered("Eins\nZwei", 2) is None


# -- one voice -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "code", "form", "found"),
    [
        ("Führen Sie den Befehl aus.", "de", "formal", []),
        ("Du kannst auch --json angeben.", "de", "formal", ["Du", "kannst"]),
        ("Füge dein Modell hinzu.", "de", "formal", ["dein"]),
        ("Sie ist schnell. Dann können Sie es nutzen.", "de", "informal", ["Sie"]),  # not the first "Sie" (she)
        ("Sie ist schnell.", "de", "informal", []),
        ("Vous pouvez utiliser votre modèle.", "fr", "formal", []),
        ("Tu peux utiliser ton modèle.", "fr", "formal", ["Tu", "ton"]),
        ("Tu peux utiliser ton modèle.", "fr", "informal", []),
        ("Vous pouvez le faire.", "fr", "informal", ["Vous"]),
        ("Usted puede instalarlo.", "es", "formal", []),
        ("Tú puedes instalarlo.", "es", "formal", ["Tú", "puedes"]),
        ("Gebruik uw model.", "nl", "formal", []),
        ("Gebruik je model.", "nl", "formal", ["je"]),
        ("You can run it.", "en", "formal", []),
    ],
)
def test_formality_check_finds_the_other_form(text: str, code: str, form: str, found: list[str]) -> None:
    assert formality.switched(text, code, form) == found


def test_formality_defaults_to_formal_where_the_language_distinguishes() -> None:
    assert formality.resolve("auto", "de") == "formal" and formality.resolve(None, "pt-BR") == "formal"
    assert formality.resolve("informal", "fr") == "informal"
    assert formality.resolve("formal", "en") is None and formality.resolve("auto", "ja") is None
    with pytest.raises(Exception, match="formal or informal"):
        formality.resolve("polite", "de")


def test_the_prompt_states_the_form_and_a_switched_segment_is_retried(tmp_path: Path) -> None:
    replies = {"Hello.": ["Hallo, kannst du helfen?", "Hallo, können Sie helfen?"]}

    def answer(messages: list[dict[str, str]]) -> str:
        text = messages[-1]["content"].split("\n\n", 1)[1]
        return replies[text].pop(0) if text in replies else text.upper()

    backend = ScriptedBackend(answer)
    result = translate_file(backend, write(tmp_path, "Hello.\n"), "de", "en", formality="formal")
    assert result.output.read_text(encoding="utf-8") == "Hallo, können Sie helfen?\n"
    assert result.retried == 1 and result.kept == 0 and result.formality == "formal"
    system = backend.calls[0][0][0]
    assert system["role"] == "system" and system["content"].endswith(
        'Address the reader formally, with "Sie" (never "du").'
    )
    assert "Sie" not in backend.calls[0][0][-1]["content"]  # not beside the text, where a model would translate it


def test_a_segment_that_keeps_switching_form_is_kept_and_reported(tmp_path: Path) -> None:
    backend = ScriptedBackend("Du kannst es tun.")
    result = translate_file(backend, write(tmp_path, "You can do it.\n"), "de", "en", formality="formal")
    assert result.output.read_text(encoding="utf-8") == "You can do it.\n"
    assert "informal form of address (Du, kannst)" in result.issues[0]


def test_informal_is_stated_when_asked() -> None:
    translator = Translator(ScriptedBackend("x"), EN, resolve("fr"), formality="informal")
    translator.translate("Hello.")
    assert 'informally, with "tu" (never "vous")' in translator.backend.calls[0][0][0]["content"]


# -- language variants -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tag", "code", "label"),
    [
        ("pt-BR", "pt-BR", "Portuguese (Brazil)"),
        ("pt_pt", "pt-PT", "Portuguese (Portugal)"),
        ("zh-Hans", "zh-Hans", "Chinese (Simplified)"),
        ("zh-hant", "zh-Hant", "Chinese (Traditional)"),
        ("zh-Hant-TW", "zh-Hant-TW", "Chinese (Traditional, Taiwan)"),
        ("es-419", "es-419", "Spanish (Latin America)"),
        ("de", "de", "German"),
    ],
)
def test_tags_keep_region_and_script(tag: str, code: str, label: str) -> None:
    lang = resolve(tag)
    assert (lang.code, lang.label) == (code, label)


def test_the_prompt_names_the_variant_and_shows_no_examples_of_another_one() -> None:
    spec = load_prompt(PROMPT)
    messages = build_messages(spec, "Good morning.", EN, resolve("pt-BR"))
    assert "from English to Portuguese (Brazil)" in messages[-1]["content"]
    assert [m["role"] for m in messages] == ["system", "user"]  # the examples are European Portuguese
    assert resolve("pt-BR") != resolve("pt-PT")


def test_output_name_carries_the_tag(tmp_path: Path) -> None:
    result = translate_file(ScriptedBackend(shout), write(tmp_path, "Hello.\n", "a.md"), "pt-BR", "en")
    assert result.output == tmp_path / "a.pt-BR.md"


# -- candidates ------------------------------------------------------------------------------------------------
class BatchSpy(ScriptedBackend):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []

    def chat_batch(self, batch, config=None):  # type: ignore[no-untyped-def]
        self.batches.append(len(batch))
        return super().chat_batch(batch, config)


def test_candidates_go_to_the_backend_as_one_batch_with_a_config_each() -> None:
    backend = BatchSpy(["Der Hund.", "Der Hund.", "Ein Hund.", "Der Hund!"])
    Translator(backend, EN, DE, candidates=4).translate("The dog.")
    assert backend.batches == [4]
    seeds = [config.seed for _, config, _ in backend.calls]
    assert len(set(seeds[2:])) == 2 and not backend.calls[2][1].greedy


def test_the_benchmark_runs_both_paths_on_its_page() -> None:
    from ganymede.apps.translate.bench import bench_translate

    def alternate(runs: int, **variants):  # bench.py's, in miniature
        return {name: [fn() for _ in range(runs)] for name, fn in variants.items()}

    result = bench_translate(None, 1, alternate, backend=ScriptedBackend(shout))
    assert result["benchmark"] == "translate" and result["page_bytes"] > 2500
    assert result["structure_kept"] and result["kept"] == 0
    assert result["segments"] < result["baseline_segments"]  # only prose is sent now
    assert result["speedup"] and result["segments_per_s"]
