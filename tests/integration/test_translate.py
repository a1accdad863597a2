"""Translation with the real bundled 0.5B model: short inputs, a handful of calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganymede.apps.evaluation.mt import corpus_scores
from ganymede.apps.translate.evaluate import evaluate, read_eval_rows
from ganymede.apps.translate.files import translate_file
from ganymede.apps.translate.glossary import parse_glossary
from ganymede.apps.translate.translator import translate_text

pytestmark = pytest.mark.model


def test_sentence_into_german_keeps_glossary_term(small_backend) -> None:
    glossary = parse_glossary("Ganymede")
    result = translate_text(small_backend, "Ganymede is a moon of Jupiter.", "de", "en", glossary)
    assert "Ganymede" in result.text
    assert result.glossary_missing == []
    assert "Jupiter" in result.text and " ist " in result.text  # German, not the English echoed back


def test_subtitles_keep_structure_with_a_real_model(small_backend, tmp_path: Path) -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,500\nGood morning.\n\n2\n00:00:03,000 --> 00:00:04,000\nThank you very much.\n"
    path = tmp_path / "s.srt"
    path.write_text(srt, encoding="utf-8")
    result = translate_file(small_backend, path, "fr", "en")
    out = result.output.read_text(encoding="utf-8").split("\n")
    assert out[0:2] == ["1", "00:00:01,000 --> 00:00:02,500"]
    assert out[4:6] == ["2", "00:00:03,000 --> 00:00:04,000"]
    assert out[2] and out[2] != "Good morning." and out[6] and out[6] != "Thank you very much."


SMALL_PAGE = """# Getting started

Install the package with `pip install ganymede`, then read [the guide](https://example.com/guide).

<!-- [[[cog
cog.out("generated")
]]] -->
generated
<!-- [[[end]]] -->

```bash
ganymede translate --to de README.md
```

| Option | Meaning |
|--------|---------|
| `--to` | The language to translate into |

- You can translate one file.
- You can also translate a whole folder.
"""


def test_markdown_page_keeps_its_structure_with_a_real_model(small_backend, tmp_path: Path) -> None:
    from ganymede.apps.translate.markdown import skeleton

    path = tmp_path / "page.md"
    path.write_text(SMALL_PAGE, encoding="utf-8")
    result = translate_file(small_backend, path, "de", "en")
    out = result.output.read_text(encoding="utf-8")
    assert skeleton(out) == skeleton(SMALL_PAGE)  # code, comment, table shape, links, headings, other lines
    assert result.kept < result.segments  # most of it is translated: the model did the work
    assert out != SMALL_PAGE and result.formality == "formal"


def test_eval_scores_a_few_dev_sentences(small_backend, shared_data: Path) -> None:
    rows = read_eval_rows(shared_data / "ntrex128" / "eng-deu.dev.jsonl", limit=2)
    scores, hypotheses = evaluate(small_backend, rows)
    assert scores["n"] == 2 and len(hypotheses) == 2
    assert all(h.strip() and h != r["source"] for h, r in zip(hypotheses, rows, strict=True))
    # German output scores far above echoing the English source back
    echo = corpus_scores([r["source"] for r in rows], [r["reference"] for r in rows], "de")
    assert scores["chrf"] > echo["chrf"]


def test_cli_unknown_language_exits_2_with_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ganymede.cli", "translate", "--to", "Klingonish", "Hello"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "unknown language 'Klingonish'" in proc.stderr


def test_cli_eval_json_last_line(shared_data: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganymede.cli",
            "eval",
            "translate",
            "--data",
            str(shared_data / "ntrex128" / "eng-fra.dev.jsonl"),
            "--limit",
            "1",
            "--model",
            "bundled:qwen2.5-coder-0.5b",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(metrics) >= {"bleu", "chrf", "n"} and metrics["n"] == 1 and metrics["pair"] == "en-fr"
