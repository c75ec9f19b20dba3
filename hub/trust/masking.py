"""Contact details in chat before booking: found and replaced before a message is stored.

Customers and contractors who swap phone numbers or e-mail addresses before the job is
booked leave the platform (and its fee) behind; the contract (PROTOCOL.md "Trust and
administration") replaces each phone number, e-mail address or link with
:data:`PLACEHOLDER` until the job is assigned to that contractor.

How it works:

0. The regex engine finds what could be one: runs of digits (or number words) long enough
   for a phone number, and address hints (``@``, "at"/"dot" before a word, a dot glued to
   a letter, "www", a mail provider). Only their neighbourhoods are examined further, so a
   long message of prices and sizes costs little more than a short one.
1. The neighbourhood is cut into tokens (words, digit runs, single punctuation marks) with their
   offsets. Number words count as digits ("five five five", "oh seven", "double four",
   "twenty one"), "at" / "(at)" as ``@`` and "dot" as ``.`` next to address-like words, so
   spelled-out and spaced-out forms read the same as the plain ones.
2. **Phones**: runs of digit tokens joined by spaces, ``-``, ``.``, ``(``, ``)``, ``+``
   (and commas between spelled digits) become candidates of 7 to 15 digits. Each is
   judged by ``phonenumbers`` (Google's libphonenumber) for the configured regions:
   a possible number there, or an international one. Context decides the doubtful ones:
   a currency sign or unit next to the run (``$``, ``mm``, ``sq ft``), or a word such as
   "part", "model", "order" just before it, makes it a price, a measurement or a part
   number; short local-only numbers (7 digits) need a phone-like grouping, spelled digits
   or a contact word in the message ("call", "text", "whatsapp"...).
3. **E-mail addresses and links**: a local part (spaced-out letters glued: "j o h n") and
   a domain after ``@`` or "at"; a known mail provider name ("john at gmail") is enough.
   Links are URLs, ``www.`` names and bare domains with a common top-level domain
   ("example dot com").

The labelled corpus in ``tests/hub/trust/contact_corpus.tsv`` measures it
(``tests/hub/trust/test_masking_corpus.py``); ``loadtests/bench_masking.py`` its cost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import phonenumbers

PLACEHOLDER = "[contact details hidden until booked]"

# Words, digit runs, anything else one character at a time (whitespace skipped).
_TOKEN = re.compile(r"[^\W\d_]+|\d+|[^\w\s]|_", re.UNICODE)

_UNITS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "niner": "9",
}  # fmt: skip
_TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
_TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7",
    "eighty": "8", "ninety": "9",
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
_RUN_STARTS = frozenset({"+", *_UNITS, *_TEENS, *_TENS, *_REPEAT})
_WORDS_ALT = "|".join(sorted(_RUN_STARTS - {"+"}, key=len, reverse=True))
_NUMBER_WORD = re.compile(rf"\b(?:{_WORDS_ALT})\b", re.IGNORECASE)
# A run of digits (and number words) with what may sit between them in a phone number; the
# digits-only pattern (7 digits or more) is much faster and serves messages without number
# words.
_LONG_DIGIT_RUN = re.compile(r"\d(?:[\s\-.()+,\u2013\u2014]*\d){6,}")
_PHONE_RUN = re.compile(
    rf"(?:\d|\b(?:{_WORDS_ALT})\b)(?:[\s\-.()+,\u2013\u2014]*(?:\d|\b(?:{_WORDS_ALT})\b))*",
    re.IGNORECASE,
)
# "oh" and "o" are zero only inside a run of other digits ("oh seven nine"), never alone.
_WEAK_ZERO = frozenset({"oh", "o"})

# Marks that may sit inside a written phone number.
_JOINERS = frozenset("-.()+\u2013\u2014")
_CURRENCY = frozenset("$£€¥₹")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words after a number that make it a quantity, not a phone number.
_UNIT_WORDS = _words(
    """mm cm m km in inch inches ft feet foot sq sqft yd yds kg g lb lbs oz l ml gal gallon
    gallons psi v volt volts w watt watts kw kwh btu amp amps a hz rpm x by pcs pieces
    dollars usd bucks pounds gbp quid euros eur cents pence p k percent degrees deg sqm
    meters metres minutes mins min hours hrs hr days weeks months years yrs am pm miles mi
    tiles boards sheets bags units"""
)
# Words just before a number that make it a reference, not a phone number.
_REFERENCE_WORDS = _words(
    """part parts pn model models serial sn sku item order invoice ref reference code lot
    job ticket confirmation booking zip postcode postal unit apt suite room batch catalog
    catalogue product id permit license licence policy claim account acct quote estimate
    tracking receipt case gc vat reg registration"""
)
# Words that make a shorter number likely to be a phone number.
_CONTACT_WORDS = _words(
    """call calls calling ring text texts txt phone phones cell mobile mob whatsapp whatsap
    wa sms tel telephone reach contact digits dial number signal telegram viber landline
    numbr num"""
)
# Words before "number" that make it someone's phone number rather than a reference.
_OWNERS = _words("my our his her their your the new work home office cell mobile phone whatsapp")
_AT_WORDS = frozenset({"at"})
_DOT_WORDS = frozenset({"dot", "dt", "period"})
_MARKERS = _AT_WORDS | _DOT_WORDS | {"@", "."}
_MAIL_PROVIDERS = _words(
    """gmail googlemail hotmail yahoo outlook icloud aol protonmail msn gmx yandex zoho
    btinternet comcast"""
)
_TLDS = _words(
    """com net org io co uk us ca au de fr es it nl ie nz info biz me app dev ly gl site
    online xyz shop store tv eu ch be at se no dk fi pl in edu gov mil int ee to cc link
    page club pro website"""
)
_URL = re.compile(
    r"(?:https?://|www\.)\S+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.[a-z]{2,6}(?:/\S*)?",
    re.IGNORECASE,
)
# Anything an address or a link needs: "@", a dot glued to a letter, "at"/"dot" before a
# word ("at 42 Oak Avenue" is a place), or a mail provider's name. Most messages have none
# and skip the address scan.
_ADDRESS_HINT = re.compile(
    r"@|\.[^\W\d_]|\b(?:at|dot|dt|period)\b\W{0,3}[^\W\d_]|\b(?:www|http|"
    + "|".join(sorted(_MAIL_PROVIDERS))
    + r")\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+")
_DOT_LETTER = re.compile(r"\.[^\W\d_]")
_LINK_WORDS = _MAIL_PROVIDERS | {"www", "http", "https"}
_AT_DOT_WORDS = _AT_WORDS | _DOT_WORDS
# "at"/"dot" followed by a word (not "at 42 Oak Avenue"); one literal pattern per word, which
# the regex engine scans for far faster than an alternation.
_BEFORE_WORD = {
    w: re.compile(rf"{w}\b\W{{0,3}}[^\W\d_]", re.IGNORECASE) for w in _AT_WORDS | _DOT_WORDS
}
_AT_PROVIDER = re.compile(r"[\w.+-]+@(\w+)")
_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}", re.UNICODE)


class _Tok(NamedTuple):
    text: str  # lower-cased
    start: int
    end: int
    space_before: bool


def _tokens(text: str) -> list[_Tok]:
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer ("İ")
        lowered = "".join(c.lower()[0] for c in text)
    out: list[_Tok] = []
    last_end = 0
    for m in _TOKEN.finditer(lowered):
        start, end = m.span()
        out.append(_Tok(m.group(), start, end, start > last_end))
        last_end = end
    return out


def _at_dot_before_word(text: str, word: str) -> bool:
    for m in _BEFORE_WORD[word].finditer(text):
        start = m.start()
        if start == 0 or not text[start - 1].isalpha():
            return True
    return False


def _windows(
    text: str, spans: list[tuple[int, int]], before: int, after: int
) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """``spans`` widened by ``before``/``after`` characters, then out to whitespace (no
    word or address is cut), merged when they touch; each with the spans it holds."""
    out: list[tuple[int, int, list[tuple[int, int]]]] = []
    n = len(text)
    for start, end in spans:
        lo = max(0, start - before)
        while lo > 0 and not text[lo - 1].isspace():
            lo -= 1
        hi = min(n, end + after)
        while hi < n and not text[hi].isspace():
            hi += 1
        if out and lo <= out[-1][1]:
            out[-1][2].append((start, end))
            out[-1] = (out[-1][0], max(hi, out[-1][1]), out[-1][2])
        else:
            out.append((lo, hi, [(start, end)]))
    return out


def _could_be_phone(run: str) -> bool:
    """Enough digits (or number words, each one or two digits) for a phone number."""
    digits = sum(map(str.isdigit, run))
    return digits >= 7 or digits + 2 * len(_NUMBER_WORD.findall(run)) >= 7


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


class ContactMasker:
    """Finds contact details in a message and replaces them with :data:`PLACEHOLDER`.

    Args:
        regions: ISO 3166 regions whose national numbers are recognised without a country
            code (the first is the marketplace's own); international numbers (``+44``,
            ``0044``) are recognised from anywhere.
    """

    def __init__(self, regions: Sequence[str] = ("US", "GB")) -> None:
        self._regions = tuple(regions)

    def mask(self, text: str) -> str | None:
        """The text with contact details replaced, or None when it has none."""
        spans = self.find(text)
        if not spans:
            return None
        out: list[str] = []
        last = 0
        for start, end in spans:
            out.append(text[last:start])
            out.append(PLACEHOLDER)
            last = end
        out.append(text[last:])
        return "".join(out)

    def find(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) offsets of each contact detail in ``text``, merged, in order.

        Only the neighbourhoods of what could be one are tokenised: runs of digits or number
        words long enough to be a phone number, and address hints (``@``, "at", "dot", a
        dot glued to a letter, "www"...), found by the regex engine; a long message full of
        prices and sizes costs little more than a short one.
        """
        spans: list[tuple[int, int]] = []
        words = set(_WORD.findall(text.lower()))
        spelled = not words.isdisjoint(_RUN_STARTS)
        if spelled:
            runs = [m.span() for m in _PHONE_RUN.finditer(text) if _could_be_phone(m.group())]
        else:
            runs = [m.span() for m in _LONG_DIGIT_RUN.finditer(text)]
        if runs:
            contact_cue = not words.isdisjoint(_CONTACT_WORDS)
            # Context for the judgement: three words before a run, one after.
            for start, end, inner in _windows(text, runs, 32, 12):
                toks = _tokens(text[start:end])
                candidates = [(a - start, b - start) for a, b in inner]
                found = self._phones(toks, contact_cue, candidates)
                spans.extend((a + start, b + start) for a, b in found)
        if (
            "@" in text
            or _DOT_LETTER.search(text)
            or not words.isdisjoint(_LINK_WORDS)
            or any(_at_dot_before_word(text, w) for w in words & _AT_DOT_WORDS)
        ):
            hints = [(m.start(), m.end()) for m in _ADDRESS_HINT.finditer(text)]
            for start, end, _ in _windows(text, hints, 96, 64):
                window = text[start:end]
                found = _addresses(window, _tokens(window))
                spans.extend((a + start, b + start) for a, b in found)
        return _merge(spans)

    # --- phones -------------------------------------------------------------------------

    def _phones(
        self, toks: list[_Tok], contact_cue: bool, candidates: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Phone numbers among the runs starting in ``candidates`` (offsets in the window);
        the tokens around them are context only."""
        found: list[tuple[int, int]] = []
        starts = [
            i
            for i, t in enumerate(toks)
            if (t.text.isdigit() or t.text in _RUN_STARTS)
            and any(lo - 2 <= t.start < hi for lo, hi in candidates)
        ]
        done = -1
        for i in starts:
            if i <= done:
                continue  # inside the run just judged
            run = _digit_run(toks, i)
            if run is None:
                continue
            first, last, digits, spelled, groups = run
            if self._is_phone(toks, first, last, digits, spelled, groups, contact_cue):
                found.append((toks[first].start, toks[last].end))
            done = last
        return found

    def _is_phone(
        self,
        toks: list[_Tok],
        first: int,
        last: int,
        digits: str,
        spelled: bool,
        groups: list[str],
        contact_cue: bool,
    ) -> bool:
        international = toks[first].text == "+" or digits.startswith("00")
        if not 7 <= len(digits) <= 15:
            return False
        before = [t.text for t in toks[max(0, first - 3) : first]]
        prev = toks[first - 1] if first > 0 else None
        nxt = toks[last + 1] if last + 1 < len(toks) else None
        if prev is not None and prev.text in _CURRENCY:
            return False  # "$1500000": a price
        if prev is not None and prev.text.isalpha() and not toks[first].space_before:
            return False  # glued to letters: "WPW10321304", a part number
        if nxt is not None and (nxt.text in _UNIT_WORDS or nxt.text in ("%", "x", "/")):
            # "2400 1200 mm", "99 %": a quantity. Part numbers may continue with letters.
            return False
        if nxt is not None and not nxt.space_before and nxt.text.isalpha():
            return False  # glued to letters: "10321304AB"
        if any(w in _REFERENCE_WORDS for w in before) or _named_reference(before):
            return False
        if international:
            number = "+" + (digits[2:] if digits.startswith("00") else digits)
            return _possible(number, None)
        if not spelled and _looks_like_times_or_dates(groups):
            return False
        if len(digits) <= 8 and not (spelled or contact_cue or _phone_grouping(groups)):
            return False
        return any(_possible(digits, region) for region in self._regions)


def _possible(number: str, region: str | None) -> bool:
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed)


def _named_reference(before: list[str]) -> bool:
    """ "GC number 47-348-64", "model no 5512345": a number named by what it refers to."""
    if len(before) < 2 or before[-1] not in ("number", "no", "num", "#", "nr"):
        return False
    word = before[-2] if before[-2] != "." else (before[-3] if len(before) > 2 else "")
    return word.isalpha() and word not in _OWNERS and word not in _CONTACT_WORDS


def _phone_grouping(groups: list[str]) -> bool:
    """Digits written the way short numbers are: "555-1234", "555 12 34", "5551 234"."""
    return 2 <= len(groups) <= 3 and len(groups[0]) >= 3 and all(2 <= len(g) <= 4 for g in groups)


def _looks_like_times_or_dates(groups: list[str]) -> bool:
    """Clock times ("9.30 10.45", "12.30-13.00"), round quantities ("1200 1500 1800"),
    years ("2019 2020") and dates ("2026-12-10", "12.10.2026"): not phone numbers."""
    if len(groups) < 2:
        return False
    if all(len(g) <= 4 and g.endswith(("00", "15", "30", "45")) for g in groups):
        return True
    if all(len(g) == 4 and g.startswith(("19", "20")) for g in groups):
        return True
    if len(groups) % 2 == 0 and all(len(g) <= 2 for g in groups):
        pairs = zip(groups[::2], groups[1::2], strict=True)
        if all(int(h) <= 24 and len(m) == 2 and int(m) <= 59 for h, m in pairs):
            return True
    if len(groups) == 3:
        lengths = tuple(len(g) for g in groups)
        year = groups[0] if lengths[0] == 4 else groups[2]
        if lengths in ((4, 2, 2), (2, 2, 4), (1, 2, 4), (2, 1, 4), (1, 1, 4)) and year.startswith(
            ("19", "20")
        ):
            return True
    return False


def _strong_digit(word: str | None) -> bool:
    """A digit or a digit's name that cannot be a word of its own ("oh", "o" can)."""
    return word is not None and (word.isdigit() or (word in _UNITS and word not in _WEAK_ZERO))


def _digit_value(tok: str, nxt: str | None) -> tuple[str, bool] | None:
    """The digits a token stands for, and whether the next token was folded into it."""
    if tok.isdigit():
        return tok, False
    if tok in _UNITS:
        return _UNITS[tok], False
    if tok in _TEENS:
        return _TEENS[tok], False
    if tok in _TENS:
        if nxt is not None and nxt in _UNITS and nxt not in _WEAK_ZERO and nxt != "zero":
            return _TENS[tok] + _UNITS[nxt], True
        return _TENS[tok] + "0", False
    return None


def _digit_run(toks: list[_Tok], i: int) -> tuple[int, int, str, bool, list[str]] | None:
    """The run of digit tokens starting at ``i``: first and last token index, its digits,
    whether any were spelled out, and its groups (digits between separators)."""
    start = i
    if toks[i].text == "+" and i + 1 < len(toks) and toks[i + 1].text.isdigit():
        i += 1
    head = toks[i].text
    after = toks[i + 1].text if i + 1 < len(toks) else ""
    weak_head = head in _WEAK_ZERO and _strong_digit(after)  # "oh seven", not "oh ok"
    if not (weak_head or _strong_digit(head) or head in _TEENS or head in _TENS or head in _REPEAT):
        return None
    digits: list[str] = []
    groups: list[str] = []
    group = ""
    spelled = False
    repeat = 1
    last = -1
    n = len(toks)
    while i < n:
        t = toks[i].text
        nxt = toks[i + 1].text if i + 1 < n else None
        if t in _REPEAT and nxt is not None and (nxt in _UNITS or nxt.isdigit()):
            repeat = _REPEAT[t]
            spelled = True
            i += 1
            continue
        value = _digit_value(t, nxt)
        if value is not None and (t not in _WEAK_ZERO or digits or _strong_digit(nxt)):
            text, folded = value
            if not t.isdigit():
                spelled = True
            elif toks[i].space_before and group and last >= 0 and toks[last].text.isdigit():
                groups.append(group)
                group = ""
            digits.append(text * repeat)
            group += text * repeat
            repeat = 1
            last = i + (1 if folded else 0)
            i = last + 1
            continue
        if t in _JOINERS or (t == "," and spelled):
            # A joiner continues the run only when a digit follows it (or another joiner).
            j = i
            while j < n and (toks[j].text in _JOINERS or toks[j].text == ","):
                j += 1
            if j < n and digits and _digit_value(toks[j].text, None) is not None:
                if group:
                    groups.append(group)
                    group = ""
                i = j
                continue
        break
    if group:
        groups.append(group)
    if last < 0:
        return None
    return start, last, "".join(digits), spelled, groups


# --- e-mail addresses and links ----------------------------------------------------------


def _addresses(text: str, toks: list[_Tok]) -> list[tuple[int, int]]:
    """E-mail addresses and links, plain or spelled out ("j o h n at gmail dot com")."""
    found: list[tuple[int, int]] = []
    # Normalised copy: tokens joined, "at" -> "@", "dot" -> "." around address-like words,
    # spaced single letters glued; each character remembers its token.
    words: list[str] = []
    disguise: list[bool] = []  # "at", "dot" and their brackets: glued on both sides
    n = len(toks)
    for k, t in enumerate(toks):
        word = t.text
        prev = toks[k - 1].text if k else ""
        nxt = toks[k + 1].text if k + 1 < n else ""
        if word in _AT_WORDS and _wordish(prev) and _wordish(nxt):
            words.append("@")
            disguise.append(True)
        elif word in _DOT_WORDS and _wordish(prev) and _wordish(nxt):
            words.append(".")
            disguise.append(True)
        elif _bracket_of_marker(toks, k):
            words.append("")
            disguise.append(True)
        else:
            words.append(word)
            # "@" always, "." when spaced on both sides ("john . smith"): glued both ways.
            spaced_dot = word == "." and t.space_before and k + 1 < n and toks[k + 1].space_before
            disguise.append(word == "@" or spaced_dot)
    norm: list[str] = []
    owner: list[int] = []
    for k, t in enumerate(toks):
        word = words[k]
        glue = k == 0 or not t.space_before or disguise[k] or disguise[k - 1]
        if not glue:
            prev = words[k - 1]
            # Spaced-out letters or digits: "j o h n", "j o h n 8 2".
            glue = len(prev) == 1 and len(word) == 1 and prev.isalnum() and word.isalnum()
        if not glue:
            norm.append(" ")
            owner.append(k)
        norm.append(word)
        owner.extend([k] * len(word))
    flat = "".join(norm)
    for m in _EMAIL.finditer(flat):
        found.append(_span(toks, owner, m.start(), m.end()))
    for m in _AT_PROVIDER.finditer(flat):
        if m.group(1) in _MAIL_PROVIDERS:
            found.append(_span(toks, owner, m.start(), m.end()))
    for m in _URL.finditer(flat):
        candidate = m.group()
        if candidate.lower().startswith(("http", "www.")) or _has_tld(candidate):
            start = m.start()
            if start > 0 and flat[start - 1] == "@":
                continue  # the domain of an e-mail address, already found
            found.append(_span(toks, owner, start, m.end()))
    # Plain "@" addresses in the original text too (the normalised copy may have glued
    # neighbours into them, but never split them).
    for m in _EMAIL.finditer(text):
        found.append((m.start(), m.end()))
    return found


def _has_tld(candidate: str) -> bool:
    host = candidate.split("/", 1)[0].rstrip(".").lower()
    labels = host.split(".")
    if len(labels) < 2 or not any(c.isalpha() for c in labels[-2]):
        return False
    return labels[-1] in _TLDS


def _bracket_of_marker(toks: list[_Tok], k: int) -> bool:
    """A bracket around "at"/"dot"/"@"/"." ("john (at) gmail [dot] com"): part of the
    disguise, dropped."""
    word = toks[k].text
    if word in "([{" and k + 2 < len(toks):
        return toks[k + 1].text in _MARKERS and toks[k + 2].text in ")]}"
    if word in ")]}" and k >= 2:
        return toks[k - 1].text in _MARKERS and toks[k - 2].text in "([{"
    return False


def _wordish(word: str) -> bool:
    return bool(word) and (word.isalnum() or word in ")]}([{")


def _span(toks: list[_Tok], owner: list[int], start: int, end: int) -> tuple[int, int]:
    first = owner[start]
    last = owner[end - 1]
    return toks[first].start, toks[last].end
