"""Retrieval QA metrics with SQuAD 2.0's rules: exact match and token F1 after the official normalisation
(lowercase, no punctuation, no articles, single spaces), best over the gold answers; an unanswerable question
scores 1 only when the prediction is empty (the system abstained). Retrieval recall@k: the question's own
paragraph is among the top k retrieved. Pure functions."""

from __future__ import annotations

import collections
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core.errors import InputFileError

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


@dataclass
class SquadQuestion:
    id: str
    question: str
    source: str  # "<title>/<paragraph number>": the source name the paragraph gets in the index
    answers: list[str] = field(default_factory=list)  # empty for unanswerable questions

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def load_squad(path: Path) -> tuple[dict[str, list[tuple[int, str]]], list[SquadQuestion]]:
    """({title: [(paragraph number, context), ...]}, questions in file order) from a SQuAD 2.0 json file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror}", "check the data path") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    articles: dict[str, list[tuple[int, str]]] = {}
    questions: list[SquadQuestion] = []
    try:
        for article in data["data"]:
            title = article["title"]
            paragraphs = articles.setdefault(title, [])
            for number, paragraph in enumerate(article["paragraphs"]):
                paragraphs.append((number, paragraph["context"]))
                for qa in paragraph["qas"]:
                    answers = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
                    questions.append(SquadQuestion(qa["id"], qa["question"], f"{title}/{number}", answers))
    except (KeyError, TypeError) as exc:
        raise InputFileError(f"{path}: not SQuAD json (missing {exc})", "expected data[].paragraphs[].qas[]") from None
    return articles, questions


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        # SQuAD 2.0: an empty side is right only when both are empty (an abstention on an unanswerable question).
        return float(predicted == expected)
    common = collections.Counter(predicted) & collections.Counter(expected)
    overlap = sum(common.values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_f1_em(prediction: str, answers: list[str]) -> tuple[float, float]:
    """(exact match, F1), best over the gold answers; no answers means the question is unanswerable."""
    golds = answers or [""]
    return max(exact_match(prediction, g) for g in golds), max(token_f1(prediction, g) for g in golds)


def recall_at_k(retrieved: list[str], gold: str, k: int) -> float:
    return float(gold in retrieved[:k])


def summarize(rows: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """Metrics from per-question rows {gold_source, retrieved, prediction, answers, em, f1}."""
    n = len(rows)

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    answerable = [r for r in rows if r["answers"]]
    unanswerable = [r for r in rows if not r["answers"]]
    return {
        "n": n,
        f"recall@{k}": mean([recall_at_k(r["retrieved"], r["gold_source"], k) for r in rows]),
        "recall@1": mean([recall_at_k(r["retrieved"], r["gold_source"], 1) for r in rows]),
        "exact_match": mean([r["em"] for r in rows]),
        "f1": mean([r["f1"] for r in rows]),
        "has_answer": {
            "n": len(answerable),
            "exact_match": mean([r["em"] for r in answerable]),
            "f1": mean([r["f1"] for r in answerable]),
        },
        "no_answer": {"n": len(unanswerable), "accuracy": mean([r["em"] for r in unanswerable])},
        "abstained": mean([float(not r["prediction"]) for r in rows]),
    }
