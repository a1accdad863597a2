"""ROUGE for summaries (rouge-score, Porter stemming on), as in the DialogSum papers and the course lab.

Pure functions: each hypothesis is scored against each of its references and the best F-measure is kept
(DialogSum's test split has up to three references), then F-measures are averaged over the corpus."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")

# rougeLsum scores summary-level LCS over sentences, which rouge-score reads from newlines.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _scorer(stemmer: bool = True) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=stemmer)


def sentences_on_lines(text: str) -> str:
    """One sentence a line, so rougeLsum sees the sentence boundaries."""
    return "\n".join(part for part in _SENTENCE_END.split(text.strip()) if part)


def score_one(hypothesis: str, references: str | Sequence[str], scorer: Any = None) -> dict[str, float]:
    """F-measures of one hypothesis, each the max over the references."""
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference summary is needed")
    scorer = scorer or _scorer()
    best = dict.fromkeys(ROUGE_TYPES, 0.0)
    hyp = sentences_on_lines(hypothesis)
    for ref in refs:
        scores = scorer.score(sentences_on_lines(ref), hyp)
        for key in ROUGE_TYPES:
            best[key] = max(best[key], scores[key].fmeasure)
    return best


def corpus_rouge(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """Mean F-measure of each ROUGE type over the corpus (rounded to 4 places), plus `n`."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("nothing to score")
    scorer = _scorer()
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for hyp, refs in zip(hypotheses, references, strict=True):
        for key, value in score_one(hyp, refs, scorer).items():
            totals[key] += value
    result: dict[str, Any] = {key: round(total / len(hypotheses), 4) for key, total in totals.items()}
    result["n"] = len(hypotheses)
    return result
