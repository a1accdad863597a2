"""Entity-level NER metrics (seqeval, conlleval-compatible) over IOB2 tag sequences. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def entity_scores(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Micro `f1, precision, recall` over exact entity matches, `per_label` F1 (with support), and `n` sentences.

    A predicted entity counts only if its type and both boundaries match a gold entity."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")
    gold_lists = [list(s) for s in gold]
    pred_lists = [list(s) for s in predicted]
    report = classification_report(gold_lists, pred_lists, output_dict=True, zero_division=0)
    per_label = {
        label: {
            "f1": round(v["f1-score"], 4),
            "precision": round(v["precision"], 4),
            "recall": round(v["recall"], 4),
            "support": int(v["support"]),
        }
        for label, v in sorted(report.items())
        if not label.endswith(" avg")
    }
    return {
        "f1": round(f1_score(gold_lists, pred_lists, zero_division=0), 4),
        "precision": round(precision_score(gold_lists, pred_lists, zero_division=0), 4),
        "recall": round(recall_score(gold_lists, pred_lists, zero_division=0), 4),
        "per_label": per_label,
        "n": len(gold_lists),
    }
