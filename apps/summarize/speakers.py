"""Who the speakers are: names for the #Person1#/#Person2# labels, read from what the dialogue itself says.

DialogSum-style transcripts label speakers #Person1#, #Person2#, ... even when the dialogue names them ("Well,
Miss Shen, have you made the plan?"). A reader of the summary wants "Miss Shen", not "#Person2#", and the
published references use a name whenever the dialogue gives one. A small model mostly copies the labels, so the
names are found here, by rules a reader would apply, and put into the summary afterwards:

- a vocative names the person spoken to: "Brian, may I ...", "Of course, Linda.", "Hey Jimmy.", "Yes, Mr. Haley."
  In a two-person dialogue that is the other speaker; with more speakers a vocative is ambiguous and is ignored.
- a self-introduction names the speaker: "My name is Linda Brown", "This is Tom speaking".

A label gets a name only when the evidence agrees: one name, not also claimed for another speaker. Anything less
certain leaves the label as it is, so a summary never says a wrong name where it could say #Person2#.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_TITLE = r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Professor|Mister|Sir|Madam|Doctor|Aunt|Uncle|Grandpa|Grandma)\.?"
_WORD = r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
#: a name as said: "Linda", "Linda Brown", "Mr. Haley", "Miss Shen".
_NAME = rf"(?:{_TITLE}\s+{_WORD}(?:\s+{_WORD})?|{_WORD}(?:\s+{_WORD})?)"
_GREETING = (
    r"(?:Hi|Hello|Hey|Morning|Good morning|Good afternoon|Good evening|Thanks|Thank you|Bye|Goodbye|Oh|Well|Yes|No"
    r"|Sorry|Excuse me|Dear)"
)

# Vocative shapes. Each captures the name; what follows it must end the phrase (comma, stop, question mark).
_VOCATIVES = (
    re.compile(rf"^(?:{_GREETING}[,!.]?\s+)?(?P<name>{_NAME})\s*[,!?]"),  # "Brian, may I ...", "Hey Jimmy!"
    re.compile(rf"^{_GREETING},?\s+(?P<name>{_NAME})\s*[.!?,]"),  # "Hey Jimmy.", "Thanks, Brian."
    re.compile(rf",\s+(?P<name>{_NAME})\s*[.!?]"),  # "Of course, Linda.", "Yes, Mr. Haley."
    # Between commas only after a short opening ("Well, Miss Shen, have you ..."): after a noun it is an
    # apposition ("the manager of the company, Mr. Blake, will drive us").
    re.compile(rf"^(?:[A-Za-z']+\s?){{1,2}},\s+(?P<name>{_NAME}),\s"),
)
_SELF_INTRODUCTIONS = (
    re.compile(rf"\b[Mm]y name(?: is|'s) (?P<name>{_NAME})"),
    re.compile(rf"\b[Tt]his is (?P<name>{_NAME}) (?:speaking|calling|here)\b"),
    re.compile(rf"\bI'm (?P<name>{_WORD}\s+{_WORD})\s*[.,!]"),  # "I'm Linda Brown." (two words: not "I'm Sorry")
)

#: capitalized words that open a phrase without being anyone's name.
_NOT_NAMES = frozenset(
    """
    I Yes No Well Oh Ah Hi Hello Hey Okay OK Ok Sure Sorry Thanks Thank Please Excuse Look Listen Wow Great Right
    Fine Good Now Then So And But Or Really Honestly Actually Anyway Alright Sir Madam Ma'am Mom Mum Dad Mommy
    Daddy Mother Father Honey Darling Dear Sweetie Sweetheart Baby Buddy Dude Man Guys Everyone Everybody Boss
    Doctor Officer Waiter Waitress Teacher Professor Son Kid Kids Children Ladies Gentlemen Friend Friends Folks
    Mate Bro Sis Grandma Grandpa Aunt Uncle God Jesus Congratulations Cheers Goodbye Bye Welcome What Why How
    Who Where When Which Is Are Do Does Did Can Could Would Will Shall Should May Might Let Come Go Wait Stop
    Hurry Here There This That It Yeah Yep Nope Hmm Um Uh Er Of Of-course Absolutely Certainly Definitely Exactly
    Indeed Maybe Perhaps Probably Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March
    April June July August September October November December Morning Afternoon Evening Night Today Tomorrow
    Yesterday Mr Mrs Ms Miss Dr Prof Mister Not Just Also Still Even Only Very Too Quite Cool Nice Perfect Awesome
    Terrific Fantastic Wonderful Excellent Bravo Oops Alas Hold Attention Pardon Huh Eh Yup Gee Jeez Aha Relax
    In On At By For With From To My Your Our Their His Her The A An Many All Some Any Every Each Honor Dollars
    Street Road Avenue Lane County City Taxi Town Park Square Station Airport English Chinese
    American British French German Japanese Spanish Italian Russian Korean Indian Canadian Australian
    """.split()  # noqa: SIM905 - a word list reads better as text
)

#: last words of what a phone greeting names that is not a person: "This is Mabel Hotel speaking".
_PLACES = frozenset(
    """
    Hotel Department Travel Company Restaurant Bank Office Service Services Agency Inc Ltd Corporation Center
    Centre Airlines Airline Store Shop Club School University College Hospital Clinic Studio Motors
    """.split()  # noqa: SIM905 - a word list reads better as text
)
#: a sentence about the speaker ("I'm your new neighbor, Jack."): a name in it is theirs, not a vocative.
_ABOUT_ME = re.compile(
    rf"^(?:I'm|I am|This is|My name|It's me)\b|\bname\b|^(?!{_GREETING}\b){_NAME}(?:,\s*{_NAME})?[.!]?$"
)
#: sentence ends, but not the dot of a title ("Mr. Bradley").
_SENTENCE_END = re.compile(r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bProf\.)(?<=[.!?])\s+")

_LABEL = re.compile(r"#Person(\d+)#")


def _clean(name: str) -> str | None:
    words = name.split()
    if words[0].rstrip(".") in {"Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Professor", "Mister", "Doctor"}:
        # A title with a name after it: "Mr. Haley". "Dr" without a dot reads better with one.
        title = words[0].rstrip(".")
        title = title + "." if title in {"Mr", "Mrs", "Ms", "Dr", "Prof"} else title
        rest = [w for w in words[1:] if w not in _NOT_NAMES]
        return f"{title} {' '.join(rest)}" if rest and len(rest) == len(words) - 1 else None
    if any(w in _NOT_NAMES for w in words) or words[-1] in _PLACES:
        return None
    return name


_TITLES = frozenset({"Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Professor", "Mister", "Doctor", "Sir", "Madam"})


def _key(name: str) -> str:
    """The part of a name that identifies the person: the surname after a title, else the first name."""
    words = name.replace(".", "").split()
    return words[-1] if len(words) > 1 and words[0] in _TITLES else words[0]


def _mentions(text: str, patterns: Sequence[re.Pattern[str]]) -> list[tuple[str, bool]]:
    """(name, strong) for each name the patterns find. Strong: after a greeting ("Hey Jimmy"), in a
    self-introduction, or a full or titled name after a comma ("Yes, Mr. Haley."). Weak, needing a second
    sighting: a word opening a sentence before a comma ("Brian, ..." but also "Besides, ...") and one word after
    a comma ("Of course, Linda." but also "Portland, Oregon.")."""
    found: list[tuple[str, bool]] = []
    for sentence in _SENTENCE_END.split(text):
        if patterns is _VOCATIVES and _ABOUT_ME.search(sentence):
            continue
        for index, pattern in enumerate(patterns):
            for match in pattern.finditer(sentence):
                name = _clean(match.group("name"))
                if name:
                    found.append((name, index in (1, 3) or (index == 2 and len(name.split()) > 1)))
    return found


def _looks_like_a_word(name: str, dialogue: str) -> bool:
    """A one-word "name" that is an ordinary word: an -ly adverb, or used in lower case elsewhere."""
    if len(name.split()) > 1:
        return False
    return name.endswith("ly") or re.search(rf"\b{re.escape(name.lower())}\b", dialogue) is not None


def speaker_names(turns: Sequence[tuple[str, str]]) -> dict[str, str]:
    """{label: name} for the speakers the dialogue names unambiguously; `turns` are (speaker label, text)."""
    speakers = list(dict.fromkeys(label for label, _ in turns if label))
    dialogue = "\n".join(text for _, text in turns)
    votes: dict[str, Counter[str]] = {label: Counter() for label in speakers}
    strong: set[str] = set()
    for label, text in turns:
        if not label:
            continue
        for name, _ in _mentions(text, _SELF_INTRODUCTIONS):
            votes[label][name] += 2  # a person's own word about their name outweighs one vocative
            strong.add(name)
        if len(speakers) == 2:
            (other,) = [s for s in speakers if s != label]
            for name, is_strong in _mentions(text, _VOCATIVES):
                votes[other][name] += 1
                if is_strong:
                    strong.add(name)
    for counter in votes.values():
        for name in list(counter):
            # A lone sentence-opening word counts when said twice or also seen in a surer shape.
            weak = name not in strong and counter[name] < 2
            if weak or _looks_like_a_word(name, dialogue):
                del counter[name]
    chosen: dict[str, str] = {}
    for label, counter in votes.items():
        by_person: Counter[str] = Counter()
        for name, count in counter.items():
            by_person[_key(name)] += count
        ranked = by_person.most_common()
        # No name, or two people's names for one speaker with neither clearly ahead: leave the label.
        if not ranked or (len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]):
            continue
        person = ranked[0][0]
        # The fullest form said: "Miss Shen" over "Shen", "Linda Brown" over "Linda".
        forms = [n for n in counter if _key(n) == person]
        chosen[label] = max(forms, key=lambda n: (len(n.split()), counter[n]))
    # One person cannot be two speakers: where two labels got overlapping names ("John Bradley" and
    # "Mr. Bradley"), the better-attested one keeps it, and on a tie neither does.
    support = {label: sum(votes[label].values()) for label in chosen}
    kept: dict[str, str] = {}
    for label, name in chosen.items():
        words = set(name.replace(".", "").split()) - _TITLES
        rivals = [o for o, n in chosen.items() if o != label and words & (set(n.replace(".", "").split()) - _TITLES)]
        if all(support[label] > support[o] for o in rivals):
            kept[label] = name
    return kept


def name_speakers(summary: str, names: dict[str, str]) -> str:
    """The summary with each named speaker's label replaced by the name ("#Person2#'s" -> "Miss Shen's")."""
    if not names:
        return summary

    def replace(match: re.Match[str]) -> str:
        return names.get(match.group(0), match.group(0))

    return _LABEL.sub(replace, summary)
