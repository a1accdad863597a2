"""Machine-translation metrics: sacrebleu corpus BLEU and chrF (pure functions, no model).

The BLEU tokenizer follows the target language (sacrebleu's defaults for Chinese/Japanese/Korean), so scores
are comparable with published sacrebleu figures such as opus-mt-en-de on newstest2019 (BLEU 40.9, chrF 65.4)."""

from __future__ import annotations

from collections.abc import Sequence

#: sacrebleu tokenizers for targets written without spaces between words.
_TOKENIZERS = {"zh": "zh", "ja": "ja-mecab", "ko": "ko-mecab"}


def bleu_tokenizer(target_code: str | None) -> str:
    tokenizer = _TOKENIZERS.get((target_code or "").lower(), "13a")
    if tokenizer.endswith("mecab"):  # needs the optional mecab packages: fall back to characters
        return "char"
    return tokenizer


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], target_code: str | None = None) -> dict:
    """{"bleu", "chrf", "n"}: corpus-level sacrebleu scores on a 0-100 scale, rounded to 2 decimals."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return {"bleu": 0.0, "chrf": 0.0, "n": 0}
    from sacrebleu.metrics import BLEU, CHRF

    refs = [list(references)]
    bleu = BLEU(tokenize=bleu_tokenizer(target_code)).corpus_score(list(hypotheses), refs)
    chrf = CHRF().corpus_score(list(hypotheses), refs)
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2), "n": len(hypotheses)}


def consensus_index(candidates: Sequence[str]) -> int:
    """Index of the candidate with the highest mean chrF against the others (minimum-Bayes-risk selection);
    ties go to the earliest, so with one or two candidates the first (greedy) one wins."""
    if len(candidates) <= 2:
        return 0
    from sacrebleu.metrics import CHRF

    chrf = CHRF()
    scores = [
        sum(chrf.sentence_score(hyp, [other]).score for j, other in enumerate(candidates) if j != i)
        for i, hyp in enumerate(candidates)
    ]
    return max(range(len(candidates)), key=lambda i: (scores[i], -i))
