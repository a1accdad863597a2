"""Language names/codes and detection (lingua; no model)."""

from __future__ import annotations

import pytest

from ganymede.apps.translate import languages
from ganymede.apps.translate.languages import UnknownLanguageError


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("de", "de"),
        ("deu", "de"),
        ("ger", "de"),
        ("German", "de"),
        ("  german ", "de"),
        ("fra", "fr"),
        ("zho-CN", "zh-CN"),
        ("zh_Hans", "zh-Hans"),
        ("pt-BR", "pt-BR"),
        ("Español", "es"),
        ("Norwegian", "nb"),
    ],
)
def test_resolve_accepts_codes_names_and_tags(given: str, code: str) -> None:
    assert languages.resolve(given).code == code


def test_a_tag_keeps_the_language_and_names_its_variant() -> None:
    lang = languages.resolve("pt-BR")
    assert (lang.name, lang.iso3, lang.base, lang.label) == ("Portuguese", "por", "pt", "Portuguese (Brazil)")
    assert languages.resolve("de-DE").label == "German (Germany)"
    assert languages.resolve("zh-Hant").label == "Chinese (Traditional)"


def test_unknown_language_error_suggests_a_close_name() -> None:
    with pytest.raises(UnknownLanguageError) as err:
        languages.resolve("Germn")
    assert "Germn" in str(err.value)
    assert "German" in str(err.value)


def test_unknown_code_is_an_error_not_a_guess() -> None:
    with pytest.raises(UnknownLanguageError):
        languages.resolve("xx")
    with pytest.raises(UnknownLanguageError):
        languages.resolve("de-")


def test_codes_and_names_are_unique() -> None:
    keys = [k.casefold() for lang in languages.LANGUAGES for k in (lang.code, lang.iso3, lang.name, *lang.aliases)]
    assert len(keys) == len(set(keys))


def test_auto_means_detect() -> None:
    assert languages.is_auto(None) and languages.is_auto("auto") and languages.is_auto(" Auto ")
    assert not languages.is_auto("de")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The committee will publish its report next week after hearing from witnesses.", "en"),
        ("Die Regierung hat am Montag ein neues Gesetz zum Klimaschutz vorgestellt.", "de"),
        ("Le gouvernement a présenté lundi un nouveau projet de loi sur le climat.", "fr"),
        ("El gobierno presentó el lunes un nuevo proyecto de ley sobre el clima.", "es"),
        ("Il governo ha presentato lunedì un nuovo disegno di legge sul clima.", "it"),
        ("政府周一提出了一项新的气候法案。", "zh"),
        ("Правительство в понедельник представило новый законопроект о климате.", "ru"),
    ],
)
def test_detect_common_languages(text: str, code: str) -> None:
    detection = languages.detect(text)
    assert detection.language is not None and detection.language.code == code
    assert 0 < detection.confidence <= 1
    assert detection.language.name in detection.describe()


def test_detect_without_letters_gives_no_language() -> None:
    detection = languages.detect("12:30 -- 42 %")
    assert detection.language is None
    assert "could not" in detection.describe()
