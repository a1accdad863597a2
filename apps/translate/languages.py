"""Languages by ISO code or English name, and source-language detection.

Detection uses lingua (lingua-language-detector): it is built for short texts (a subtitle line, a table cell),
is deterministic, and reports a confidence, where langdetect is randomized unless seeded and weak below a
sentence. Lingua's high-accuracy models take about 1 GB for all 75 languages, so the detector only considers
the languages listed here that lingua knows (about 30), which keeps it near a few hundred MB and fast."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ganymede.core.errors import GanymedeError


class UnknownLanguageError(GanymedeError):
    pass


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1 where there is one
    iso3: str  # ISO 639-3
    name: str  # English name, as the prompt writes it
    aliases: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


# (ISO 639-1, ISO 639-3, English name, other spellings: ISO 639-2/B codes, native names)
_TABLE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("en", "eng", "English", ()),
    ("de", "deu", "German", ("ger", "deutsch")),
    ("fr", "fra", "French", ("fre", "français", "francais")),
    ("es", "spa", "Spanish", ("español", "espanol", "castilian")),
    ("it", "ita", "Italian", ("italiano",)),
    ("pt", "por", "Portuguese", ("português", "portugues")),
    ("nl", "nld", "Dutch", ("dut", "nederlands", "flemish")),
    ("sv", "swe", "Swedish", ("svenska",)),
    ("da", "dan", "Danish", ("dansk",)),
    ("nb", "nob", "Norwegian", ("no", "nor", "norsk", "bokmål", "norwegian bokmål")),
    ("fi", "fin", "Finnish", ("suomi",)),
    ("pl", "pol", "Polish", ("polski",)),
    ("cs", "ces", "Czech", ("cze", "čeština")),
    ("sk", "slk", "Slovak", ("slo",)),
    ("hu", "hun", "Hungarian", ("magyar",)),
    ("ro", "ron", "Romanian", ("rum", "română")),
    ("el", "ell", "Greek", ("gre",)),
    ("bg", "bul", "Bulgarian", ()),
    ("uk", "ukr", "Ukrainian", ()),
    ("ru", "rus", "Russian", ("русский",)),
    ("tr", "tur", "Turkish", ("türkçe",)),
    ("ar", "ara", "Arabic", ()),
    ("he", "heb", "Hebrew", ()),
    ("fa", "fas", "Persian", ("per", "farsi")),
    ("hi", "hin", "Hindi", ()),
    ("bn", "ben", "Bengali", ("bangla",)),
    ("ur", "urd", "Urdu", ()),
    ("id", "ind", "Indonesian", ("bahasa indonesia",)),
    ("ms", "msa", "Malay", ("may",)),
    ("vi", "vie", "Vietnamese", ("tiếng việt",)),
    ("th", "tha", "Thai", ()),
    ("zh", "zho", "Chinese", ("chi", "mandarin", "中文", "simplified chinese")),
    ("ja", "jpn", "Japanese", ("日本語",)),
    ("ko", "kor", "Korean", ("한국어",)),
    ("ca", "cat", "Catalan", ("català",)),
    ("et", "est", "Estonian", ()),
    ("lv", "lav", "Latvian", ()),
    ("lt", "lit", "Lithuanian", ()),
    ("sl", "slv", "Slovenian", ("slovene",)),
    ("hr", "hrv", "Croatian", ()),
    ("sr", "srp", "Serbian", ()),
    ("sw", "swa", "Swahili", ()),
)

LANGUAGES: tuple[Language, ...] = tuple(Language(c, i3, n, a) for c, i3, n, a in _TABLE)


@lru_cache(maxsize=1)
def _index() -> dict[str, Language]:
    index: dict[str, Language] = {}
    for lang in LANGUAGES:
        for key in (lang.code, lang.iso3, lang.name, *lang.aliases):
            index[key.casefold()] = lang
    return index


def resolve(name_or_code: str) -> Language:
    """A Language from an ISO 639-1/639-3 code, a BCP-47 tag (`pt-BR`, `zho-CN`) or an English name."""
    key = " ".join(name_or_code.strip().casefold().replace("_", "-").split())
    index = _index()
    if key in index:
        return index[key]
    base = re.split(r"[-\s]", key, maxsplit=1)[0]  # region/script subtags: pt-BR, zh-Hans, zho-CN
    if base in index and re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})+", key):
        return index[base]
    names = {lang.name.casefold(): lang.name for lang in LANGUAGES}
    close = [names[n] for n in difflib.get_close_matches(key, list(names), n=3, cutoff=0.6)]
    hint = f"did you mean {' or '.join(close)}?" if close else "use an ISO code (de, fra) or an English name (German)"
    raise UnknownLanguageError(f"unknown language {name_or_code!r}", hint)


def is_auto(name_or_code: str | None) -> bool:
    return name_or_code is None or name_or_code.strip().casefold() in {"", "auto", "detect"}


@dataclass(frozen=True)
class Detection:
    language: Language | None  # None when the text gives too little evidence
    confidence: float  # 0..1, lingua's relative confidence in the top language

    def describe(self) -> str:
        if self.language is None:
            return "could not detect the language"
        return f"{self.language.name} ({self.language.code}, confidence {self.confidence:.2f})"


@lru_cache(maxsize=1)
def _detector():  # -> lingua.LanguageDetector
    try:
        from lingua import IsoCode639_1, LanguageDetectorBuilder
        from lingua import Language as LinguaLanguage
    except ImportError as exc:
        raise GanymedeError(
            "language detection needs the lingua-language-detector package",
            "pip install lingua-language-detector, or name the source language with --from",
        ) from exc
    known = []
    for lang in LANGUAGES:
        code = "NB" if lang.code == "nb" else lang.code.upper()
        try:
            known.append(LinguaLanguage.from_iso_code_639_1(getattr(IsoCode639_1, code)))
        except (AttributeError, ValueError):  # a language lingua has no model for
            continue
    return LanguageDetectorBuilder.from_languages(*known).build()


def _by_lingua(lingua_language) -> Language | None:
    code = lingua_language.iso_code_639_1.name.lower()
    return _index().get(code)


def detect(text: str, min_confidence: float = 0.0) -> Detection:
    """The most likely language of `text`; language None if the text has no letters or is below min_confidence."""
    sample = text[:2000]  # a couple of paragraphs decide; whole books would only cost time
    if not any(ch.isalpha() for ch in sample):
        return Detection(None, 0.0)
    values = _detector().compute_language_confidence_values(sample)
    if not values or values[0].value < min_confidence:
        return Detection(None, values[0].value if values else 0.0)
    return Detection(_by_lingua(values[0].language), round(values[0].value, 3))
