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
    name: str  # English name of the language
    aliases: tuple[str, ...] = field(default=())
    # Region and/or script of a BCP-47 tag (pt-BR, zh-Hant): "Brazil", "Traditional"; `code` is then the tag.
    variant: str = ""

    @property
    def label(self) -> str:
        """The name the prompt uses: "Portuguese (Brazil)", "Chinese (Traditional)", or just "German"."""
        return f"{self.name} ({self.variant})" if self.variant else self.name

    @property
    def base(self) -> str:
        """The language subtag alone (pt for pt-BR)."""
        return self.code.split("-", 1)[0]

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"


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


#: English names of the scripts and regions a translation target commonly names (used when langcodes has no
#: language_data package to look names up in).
_SCRIPTS = {"Hans": "Simplified", "Hant": "Traditional", "Latn": "Latin", "Cyrl": "Cyrillic", "Arab": "Arabic"}
_REGIONS = {
    "BR": "Brazil", "PT": "Portugal", "AO": "Angola", "MZ": "Mozambique", "ES": "Spain", "MX": "Mexico",
    "AR": "Argentina", "CO": "Colombia", "CL": "Chile", "419": "Latin America", "US": "United States",
    "GB": "United Kingdom", "AU": "Australia", "CA": "Canada", "IN": "India", "IE": "Ireland", "NZ": "New Zealand",
    "FR": "France", "BE": "Belgium", "CH": "Switzerland", "DE": "Germany", "AT": "Austria", "IT": "Italy",
    "NL": "Netherlands", "CN": "China", "TW": "Taiwan", "HK": "Hong Kong", "MO": "Macau", "SG": "Singapore",
    "RS": "Serbia", "BA": "Bosnia and Herzegovina", "ME": "Montenegro",
}  # fmt: skip
_TAG = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})+")


def _variant(tag: str) -> tuple[str, str] | None:
    """(normalized tag, "Script, Region" in English) for a BCP-47 tag with subtags, or None if it is not one.
    langcodes parses and normalizes the tag (zh-hant-tw -> zh-Hant-TW, zh-CN keeps its region)."""
    try:
        import langcodes
    except ImportError:  # the pip-installed dependency is missing: parse the common shapes by hand
        parts = tag.split("-")
        script = next((p.title() for p in parts[1:] if len(p) == 4 and p.isalpha()), None)
        region = next((p.upper() for p in parts[1:] if len(p) == 2 or (len(p) == 3 and p.isdigit())), None)
    else:
        try:
            parsed = langcodes.Language.get(tag, normalize=False)
        except (ValueError, langcodes.tag_parser.LanguageTagError):
            return None
        script, region = parsed.script, parsed.territory
    if not script and not region:
        return None
    names = [_SCRIPTS.get(script, script) if script else "", _REGIONS.get(region, region) if region else ""]
    subtags = [s for s in (script, region) if s]
    return "-".join([tag.split("-", 1)[0], *subtags]), ", ".join(n for n in names if n)


def resolve(name_or_code: str) -> Language:
    """A Language from an ISO 639-1/639-3 code, a BCP-47 tag or an English name. A tag keeps its script and
    region (`pt-BR` is Portuguese (Brazil), code pt-BR; `zh-Hant` Chinese (Traditional)), so the prompt can say
    which variety to write."""
    key = " ".join(name_or_code.strip().casefold().replace("_", "-").split())
    index = _index()
    if key in index:
        return index[key]
    base = re.split(r"[-\s]", key, maxsplit=1)[0]  # region/script subtags: pt-BR, zh-Hans, zho-CN
    if base in index and _TAG.fullmatch(key):
        lang = index[base]
        found = _variant(f"{lang.code}-{key.split('-', 1)[1]}")
        if found is None:
            return lang
        code, variant = found
        return Language(code, lang.iso3, lang.name, lang.aliases, variant)
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
