"""One voice across a document: the formal or informal "you" (T-V distinction), stated in the prompt and checked
in each translated segment, so a page does not mix "Sie" and "du" from one paragraph to the next.

The check looks for the other form's pronouns and unambiguous verb forms per language. It is a guard against a
switch, not a grammar checker: words that are ambiguous out of context (German "ihr", Italian "sei") are left out,
and code and links are placeholders by the time the check sees the text (`du -sh` is a command, not a pronoun)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganymede.core.errors import GanymedeError

CHOICES = ("formal", "informal")


@dataclass(frozen=True)
class Forms:
    formal: str  # the formal pronoun(s), as the prompt names them
    informal: str
    formal_words: re.Pattern[str]  # evidence of the formal form
    informal_words: re.Pattern[str]
    capitalized_formal: bool = False  # formal pronouns are capitalized words that also start sentences (Sie)


def _words(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w)(?:{pattern})(?!\w)", flags)


FORMS: dict[str, Forms] = {
    "de": Forms(
        '"Sie"',
        '"du"',
        _words(r"Sie|Ihnen|Ihr|Ihre|Ihrem|Ihren|Ihrer|Ihres", 0),
        _words(
            r"du|dich|dir|dein|deine|deinem|deinen|deiner|deines|euch|euer|eure|eurem|euren|eurer|eures"
            r"|kannst|musst|hast|bist|willst|sollst|wirst|darfst|weißt|brauchst|möchtest|solltest|könntest"
        ),
        capitalized_formal=True,
    ),
    "fr": Forms(
        '"vous"',
        '"tu"',
        _words(r"vous|votre|vos"),
        _words(r"tu|toi|te|ton|ta|tes|tien|tienne|tiennes"),
    ),
    "es": Forms(
        '"usted"',
        '"tú"',
        _words(r"usted|ustedes"),
        _words(r"tú|tu|tus|te|contigo|tuyo|tuya|tuyos|tuyas|vosotros|vosotras|puedes|tienes|debes|quieres|necesitas"),
    ),
    "it": Forms(
        '"Lei"',
        '"tu"',
        _words(r"Lei|La|Le|Suo|Sua|Suoi|Sue", 0),
        _words(r"tu|ti|te|tuo|tua|tuoi|tue|puoi|devi|vuoi|hai"),
        capitalized_formal=True,
    ),
    "pt": Forms(
        '"você" or "o senhor"',
        '"tu"',
        _words(r"o senhor|a senhora|os senhores|as senhoras"),
        _words(r"tu|teu|tua|teus|tuas|contigo"),
    ),
    "nl": Forms('"u"', '"je" or "jij"', _words(r"u|uw"), _words(r"jij|je|jou|jouw|jullie")),
    "ru": Forms(
        '"вы"',
        '"ты"',
        _words(r"вы|вас|вам|вами|ваш|ваша|ваше|ваши|вашего|вашей|вашим|ваших"),
        _words(r"ты|тебя|тебе|тобой|твой|твоя|твоё|твои|твоего|твоей|твоим|твоих"),
    ),
}


def resolve(formality: str | None, language_code: str) -> str | None:
    """The form to hold for a target language: `formality` as given, or formal by default where the language
    has the distinction; None where it has none (English has one "you")."""
    if formality not in (None, "auto", *CHOICES):
        raise GanymedeError(f"unknown formality {formality!r}", "choose formal or informal")
    if language_code.split("-", 1)[0] not in FORMS:
        return None
    return "formal" if formality in (None, "auto") else formality


def note(formality: str | None, language_code: str) -> str:
    """The prompt sentence asking for one form ("" when there is no choice to make)."""
    forms = FORMS.get(language_code.split("-", 1)[0])
    if not forms or formality not in CHOICES:
        return ""
    if formality == "formal":
        return f" Address the reader formally, with {forms.formal} (never {forms.informal})."
    return f" Address the reader informally, with {forms.informal} (never {forms.formal})."


def switched(text: str, language_code: str, formality: str | None) -> list[str]:
    """The words in `text` that belong to the other form than `formality` (empty: the text holds its voice)."""
    forms = FORMS.get(language_code.split("-", 1)[0])
    if not forms or formality not in CHOICES:
        return []
    if formality == "formal":
        return [m.group(0) for m in forms.informal_words.finditer(text)]
    found = []
    for match in forms.formal_words.finditer(text):
        # "Sie" opening a sentence may be "she" or "they"; mid-sentence and capitalized it is the formal you.
        before = text[: match.start()].rstrip()
        if forms.capitalized_formal and (not before or before[-1] in '.!?:;"„“«»(['):
            continue
        found.append(match.group(0))
    return found
