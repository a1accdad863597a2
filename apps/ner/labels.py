"""Entity schema and label sets shared by every NER engine, with the documented OntoNotes <-> CoNLL mapping.

OntoNotes 5 (spaCy's 18 labels) -> CoNLL-2003 (PER, LOC, ORG, MISC):

| OntoNotes | CoNLL | why |
|---|---|---|
| PERSON | PER | |
| ORG | ORG | |
| GPE, LOC, FAC | LOC | CoNLL tags countries, cities, regions and named places/buildings as locations |
| NORP, EVENT, WORK_OF_ART, PRODUCT, LAW, LANGUAGE | MISC | CoNLL's "miscellaneous names" (nationalities, events...) |
| DATE, TIME, PERCENT, MONEY, QUANTITY, ORDINAL, CARDINAL | (dropped) | CoNLL does not tag values |

CoNLL -> OntoNotes: PER -> PERSON, ORG -> ORG, LOC -> GPE (most CoNLL locations are countries and cities),
MISC -> MISC (no single OntoNotes counterpart: it is kept as is rather than guessed)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace

from ganymede.core.errors import GanymedeError

ONTONOTES: tuple[str, ...] = (
    "PERSON",
    "NORP",
    "FAC",
    "ORG",
    "GPE",
    "LOC",
    "PRODUCT",
    "EVENT",
    "WORK_OF_ART",
    "LAW",
    "LANGUAGE",
    "DATE",
    "TIME",
    "PERCENT",
    "MONEY",
    "QUANTITY",
    "ORDINAL",
    "CARDINAL",
)
CONLL: tuple[str, ...] = ("PER", "LOC", "ORG", "MISC")
SCHEMES: dict[str, tuple[str, ...]] = {"ontonotes": ONTONOTES, "conll": CONLL}

ONTONOTES_TO_CONLL: dict[str, str | None] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC",
    "LOC": "LOC",
    "FAC": "LOC",
    "NORP": "MISC",
    "EVENT": "MISC",
    "WORK_OF_ART": "MISC",
    "PRODUCT": "MISC",
    "LAW": "MISC",
    "LANGUAGE": "MISC",
    "DATE": None,
    "TIME": None,
    "PERCENT": None,
    "MONEY": None,
    "QUANTITY": None,
    "ORDINAL": None,
    "CARDINAL": None,
}
CONLL_TO_ONTONOTES: dict[str, str | None] = {"PER": "PERSON", "ORG": "ORG", "LOC": "GPE", "MISC": "MISC"}

LABEL_DESCRIPTIONS: dict[str, str] = {
    "PER": "people (first names, full names, surnames)",
    "LOC": "places: countries, cities, regions, rivers, mountains, named buildings",
    "ORG": "organizations: companies, teams, parties, governments, agencies, institutions, clubs",
    "MISC": "other names: nationalities and demonyms, events, languages, products, titles of works",
    "PERSON": "people",
    "NORP": "nationalities, religious or political groups",
    "FAC": "buildings, airports, highways, bridges",
    "GPE": "countries, cities, states",
    "PRODUCT": "objects, vehicles, foods (not services)",
    "EVENT": "named hurricanes, battles, wars, sports events",
    "WORK_OF_ART": "titles of books, songs",
    "LAW": "named documents made into laws",
    "LANGUAGE": "any named language",
    "DATE": "absolute or relative dates or periods",
    "TIME": "times smaller than a day",
    "PERCENT": "percentages",
    "MONEY": "monetary values",
    "QUANTITY": "measurements, as of weight or distance",
    "ORDINAL": "first, second, ...",
    "CARDINAL": "numerals that do not fall under another type",
}


@dataclass(frozen=True)
class Entity:
    """One mention: `text == source[start:end]` always holds (character offsets into the original text)."""

    text: str
    label: str
    start: int
    end: int
    engine: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def scheme_of(labels: Iterable[str]) -> str:
    """The scheme a set of labels belongs to (CoNLL when they all are CoNLL labels)."""
    labels = set(labels)
    return "conll" if labels <= set(CONLL) else "ontonotes"


def map_label(label: str, source: str, target: str) -> str | None:
    """The label in the target scheme, or None when the target scheme does not tag that kind of thing."""
    if source == target:
        return label
    table = ONTONOTES_TO_CONLL if (source, target) == ("ontonotes", "conll") else CONLL_TO_ONTONOTES
    return table.get(label)


def map_entities(entities: Sequence[Entity], source: str, target: str) -> list[Entity]:
    out = []
    for entity in entities:
        label = map_label(entity.label, source, target)
        if label is not None:
            out.append(entity if label == entity.label else replace(entity, label=label))
    return out


@dataclass(frozen=True)
class LabelChoice:
    """What `--labels` asked for: a scheme, and optionally only some of its labels."""

    scheme: str | None  # None: each engine's own scheme
    keep: frozenset[str] | None = None

    def apply(self, entities: Sequence[Entity], engine_scheme: str) -> list[Entity]:
        mapped = map_entities(entities, engine_scheme, self.scheme or engine_scheme)
        return [e for e in mapped if self.keep is None or e.label in self.keep]


def parse_labels(value: str | Sequence[str] | None) -> LabelChoice:
    """`conll`, `ontonotes`, or labels of one scheme (`PER,ORG` or `PERSON GPE`); None means the engine's own."""
    if value is None or value == "" or value == []:
        return LabelChoice(None)
    items = [value] if isinstance(value, str) else list(value)
    names = [part.strip() for item in items for part in item.replace(",", " ").split() if part.strip()]
    if len(names) == 1 and names[0].lower() in SCHEMES:
        return LabelChoice(names[0].lower())
    upper = [n.upper() for n in names]
    for scheme, labels in (("conll", CONLL), ("ontonotes", ONTONOTES)):
        if all(n in labels for n in upper):
            return LabelChoice(scheme, frozenset(upper))
    unknown = [n for n in upper if n not in CONLL and n not in ONTONOTES]
    if unknown:
        raise GanymedeError(
            f"unknown entity label(s): {', '.join(unknown)}",
            f"use conll, ontonotes, or labels of one scheme: {', '.join(CONLL)} | {', '.join(ONTONOTES)}",
        )
    raise GanymedeError(f"labels {', '.join(upper)} mix the CoNLL and OntoNotes schemes", "pick labels from one scheme")
