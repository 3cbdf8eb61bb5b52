"""PII minimisation before the LLM call: typed, numbered placeholders for personal data and credentials.

Replaced (in this order, so a value is claimed by the most specific rule): credentials (a value after
password/pw/pwd/passcode/PIN/secret/token..., API keys such as ``sk-...``, ``AKIA...``, ``ghp_...``, bearer tokens,
JWTs, private key blocks, long high-entropy strings) -> ``[SECRET_n]``; e-mail addresses -> ``[EMAIL_n]``; card
numbers (Luhn-checked) -> ``[CARD_n]``; IPv4/IPv6 addresses -> ``[IP_n]``; MAC addresses -> ``[MAC_n]``; phone
numbers (with their extension) -> ``[PHONE_n]``. Spoken credentials count too: "the Wi-Fi password is bluefish",
"PIN 4821", "door code 7731", "admin:Pa55word!"; words of prose after a keyword ("my password doesn't work",
"password is expired") do not.

Linear time: the text is cut to ``MAX_REDACT_CHARS`` first (what is past the cap is dropped, never sent
unredacted), every pattern is bounded, and overlap between rules is resolved with a claim mask.

Numbering is per ticket and consistent: the same value gets the same placeholder in the summary and the
description, so the model still sees that "[EMAIL_1]" in the signature is the one in the text. What must survive
(the model needs it to classify): ticket numbers, host names (SRV-DC01), dates, times, error codes (0x80070005),
version and build numbers (10.2.3, 10.0.19045.3803), KB numbers, SMTP status codes (550 5.1.1).
"""

from __future__ import annotations

import ipaddress
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers

from autotriage.core.models import Ticket

EMAIL = "EMAIL"
PHONE = "PHONE"
IP = "IP"
CARD = "CARD"
SECRET = "SECRET"  # noqa: S105 - the placeholder kind, not a password
MAC = "MAC"
KINDS = (SECRET, EMAIL, CARD, IP, MAC, PHONE)
#: Characters of one text redacted at most; the rest is replaced by ``CUT_MARKER``. The prompt's description is
#: cut to a few characters per token of budget before redaction, well below this.
MAX_REDACT_CHARS = 10_000
CUT_MARKER = " [...]"

_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|IP|CARD|SECRET|MAC)_\d+\]")

# --- credentials ----------------------------------------------------------------------------------------------
# "password" and its usual typos (pasword, passwrod, passowrd, passwd), then other languages and key names.
_KEYWORD = (
    r"(?:pass?o?w(?:or|ro|o|r)?ds?|passwort|kennwort|pwd?|passcode|pass ?phrase|pin|contrase(?:ñ|n)a|mot de passe"
    r"|wachtwoord|(?:client[_ -]?)?secret|api[_ -]?key|access[_ -]?key|secret[_ -]?key|account ?key"
    r"|shared ?access ?key|(?:auth[_ -]?|access[_ -]?)?token|private[_ -]?key|wi-?fi key|psk)"
)
# "password: x", "pw=x", "Passwort: x", "pass: x": whatever follows the separator is the secret.
_KEYED_SECRET = re.compile(
    rf"(?i)(?<![\w-])(?:{_KEYWORD}|pass)\s*(?:[:=]|->|=>)[ \t]*[\"']?(?P<value>[^\s\"']+)"
)
# "my password is Summer2024!", "temp password they gave me was Bluecrest1!": a password-looking word shortly after.
_KEYWORD_ONLY = re.compile(rf"(?i)(?<![\w-]){_KEYWORD}(?![\w-])")
# Where a keyword can start: its first letter at the start of a word. A pattern led by a character set is found
# by a fast scan; a pattern led by a lookbehind and a long alternation is tried at every position (5-10x slower).
_KEYWORD_START = re.compile(r"[pkcmwsatPKCMWSAT](?<![\w-].)")
_IS = re.compile(r"(?i)^(?:is|was|ist|es|est|now|to|set|changed|reset|:|=|->)$")
_LINK = re.compile(r"(?i)^(?:is|was|ist|es|est|:|=)$")  # only these make the next plain word a password
# Numeric secrets: "PIN 4821", "passcode: 738291", "door code is 7731", "voicemail pin 0042".
_NUMERIC_SECRET = re.compile(
    r"(?i)\b(?:pin|passcode|pass code|(?:door|alarm|gate|access|security|entry|lock|keypad|verification|one[- ]time"
    r"|otp|mfa|2fa|sms|voicemail|vm)[ -]?(?:code|pin)|otp)(?:\s{1,3}(?:number|no\.?|#))?\s{0,3}(?:is|was|:|=|#)?"
    r"\s{0,3}(?P<value>\d{4,8})(?![\w-]|\.\d)"
)
# "admin:Pa55word!", "svc_backup:Xy9#mq2L", "jdoe@example.com:Summer2024!": user:password pairs.
_USER_COLON_PASSWORD = re.compile(
    r"(?<![\w/\\:.@-])(?:[A-Za-z][\w.\\-]{1,40}|[\w.+-]{1,64}@[\w.-]{1,100})\s?:\s?(?P<value>[^\s:/\\\"'<>]{6,64})"
)
# Words of prose are never spoken passwords: contractions ("doesn't") and what people write after "password is".
_CONTRACTION = re.compile(r"^[A-Za-z]{1,12}['\u2019][A-Za-z]{1,3}$")
_PROSE_WORDS = """
a an the my your our his her their its this that it not no wrong incorrect correct right invalid valid expired
expiring locked blocked disabled enabled blank empty missing same different case sensitive required needed
working broken fine ok okay too very still being been now changed reset saved stored correctly visible hidden
shown rejected accepted long short weak strong good bad old new set also just probably definitely apparently
always never sometimes saying asking showing coming going getting giving there here in on at for from with
without of to and or but so because when if what which known unknown forgotten lost compromised updated synced
syncing sync pending due about over under less more than please"""
_PROSE_AFTER_IS = frozenset(_PROSE_WORDS.split())
# "log in as me: jane@example.com / Winter2025#", "login for the portal is admin / Winter2025#"
_LOGIN_PAIR = re.compile(
    r"(?i)\b(?:log ?in|login|sign ?in|credentials?|creds|user(?:name)?)\b[^\n]{0,60}?\S\s*/\s*(?P<value>[^\s/]+)"
)
_TRAILING = ".,;:)]}\"'"
_NON_SPACE = re.compile(r"\S+")
_HOST_LIKE = re.compile(r"^[A-Z0-9]+(?:[-_.][A-Z0-9]+)+$|^[A-Z]+\d+$")
_TOKEN_PATTERNS = (
    re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/-]{8,}=*"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"),  # JWT
    re.compile(r"\bsk-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{16,}"),  # OpenAI, Stripe, Anthropic
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),  # Slack
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),  # Google API key
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"),  # GitLab
)
_HIGH_ENTROPY = re.compile(r"(?<![\w+/=-])[A-Za-z0-9_+/=-]{24,}(?![\w+/=-])")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# --- contact data -----------------------------------------------------------------------------------------------
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d.+-])\d(?:[ -]?\d){12,18}(?![\d-]|\.\d)")
_CARD_GROUPS = re.compile(r"^\d+$|^\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}$|^\d{4}([ -])\d{6}\2\d{4,5}$")
_CARD_BRANDS = re.compile(  # IIN prefix and length: Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay
    r"^(?:4\d{12}(?:\d{3}){0,2}|(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}|3[47]\d{13}"
    r"|(?:6011|65\d{2}|64[4-9]\d)\d{12,15}|3(?:0[0-5]|[68]\d)\d{11,13}|35(?:2[89]|[3-8]\d)\d{12,15}|62\d{14,17})$"
)
_DATE = re.compile(r"^\d{1,4}([./ -])\d{1,2}\1\d{1,4}$")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.])(?:{_OCTET}\.){{3}}{_OCTET}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%\w+)?(?![\w:])"
)
_VERSION_CONTEXT = re.compile(r"(?i)(?:\bv|\bver\.?|\bversion|\bbuild|\brelease|\bfirmware|\bbios|\bupdate)\s*:?\s*$")
# Phone numbers: an international "+" number, a keyword-led number, a NANP number with separators, or a national
# number starting with 0 and separated into groups. Dates/times/versions/IDs have no such shape.
_PHONE = re.compile(
    r"(?:(?<=[\s(:,;])|^)"
    r"(?:"
    r"\(?\+\d{1,3}\)?[\s.-]?(?:\(0\)\s?)?\(?\d{1,5}\)?(?:[\s.-]?\d{2,5}){1,5}"  # +1 555-0179, +49 (0)30 1234 5678
    r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}"  # (555) 123-4567
    r"|\(\d{2,5}\)\s?\d{3,4}(?:[\s.-]\d{3,4})?"  # (555) 0123, (020) 7946 0958
    r"|\d{3}[.-]\d{3}[.-]\d{4}"  # 555-123-4567, 555.123.4567
    r"|\d{3}-\d{4}"  # 555-0179
    r"|0\d{1,4}(?:[ /-]\d{2,8}){1,4}"  # 030 1234 5678, 0171/2345678, 020 7946 0958
    r")"
    r"(?:\s?,?\s?(?:x|ext\.?|extension|dw\.?|durchwahl)\s?[.:#]?\s?\d{1,6})?"
    r"(?![\w/-]|\.\d|:\d)",
    re.IGNORECASE,
)
_PHONE_KEYED = re.compile(
    r"(?i)\b(?:tel|telephone|phone|ph|mobile|mob|cell|fax|direct|office|handy|telefon|t[ée]l[ée]?(?:phone|fono)?|m|t|p)"
    r"\.?\s*(?:[:#]|no\.?:?)\s*(?P<value>\+?[\d(][\d\s()./-]{5,30}\d"
    r"(?:\s?,?\s?(?:x|ext\.?|extension|dw\.?|durchwahl)\s?[.:#]?\s?\d{1,6})?)"
)
_EXTENSION = re.compile(r"(?i)\s?,?\s?(?:x|ext\.?|extension|dw\.?|durchwahl)\s?[.:#]?\s?\d{1,6}$")
_MAC = re.compile(
    r"(?<![\w:.-])(?:[0-9A-Fa-f]{2}(?P<sep>[:-])(?:[0-9A-Fa-f]{2}(?P=sep)){4}[0-9A-Fa-f]{2}"
    r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:.-])"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _entropy(value: str) -> float:
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def _classes(value: str) -> int:
    if value.isalpha() and (value.islower() or value.isupper()):
        return 1  # the common case (a word of prose), without four scans
    return sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value),
         any(not c.isalnum() for c in value))
    )


def _looks_like_password(value: str, classes: int = 2) -> bool:
    """A word that is a password rather than prose ("expired") or a host name (SRV-DC01)."""
    return (len(value) >= 6 and not value.isdigit() and _classes(value) >= classes
            and not _HOST_LIKE.match(value))


def _looks_random(value: str) -> bool:
    """A long token that is a key rather than a word, path or identifier."""
    if _GUID.match(value) or re.fullmatch(r"[0-9a-fA-F-]+", value):
        return False  # GUIDs, hashes and hex ids identify things; they unlock nothing
    has = (any(c.islower() for c in value), any(c.isupper() for c in value), any(c.isdigit() for c in value))
    return all(has) and _entropy(value) >= 3.5


@dataclass(frozen=True, order=True)
class _Span:
    start: int
    end: int
    kind: str
    value: str


class Redactor:
    """Replaces personal data and secrets in the texts of one ticket, numbering placeholders consistently."""

    def __init__(self) -> None:
        self._assigned: dict[tuple[str, str], str] = {}
        self._next: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def placeholder(self, kind: str, value: str, *, count: bool = True) -> str:
        """The placeholder of a value (the same value always gets the same one); ``count`` it as a finding."""
        key = (kind, _normalise(kind, value))
        found = self._assigned.get(key)
        if found is None:
            self._next[kind] += 1
            found = self._assigned[key] = f"[{kind}_{self._next[kind]}]"
        if count:
            self.counts[kind] += 1
        return found

    def redact(self, text: str) -> str:
        """``text`` with every recognised value replaced by its placeholder, numbered in reading order.

        Text past ``MAX_REDACT_CHARS`` is dropped (``CUT_MARKER``), never returned unredacted."""
        if not text:
            return text
        cut = len(text) > MAX_REDACT_CHARS
        if cut:
            space = text.rfind(" ", MAX_REDACT_CHARS - 200, MAX_REDACT_CHARS)
            text = text[: space if space > 0 else MAX_REDACT_CHARS]
        claimed = bytearray(len(text))  # 1 where an earlier (more specific) rule took the character
        taken: list[_Span] = []
        for span in _candidates(text):  # most specific rule first; a later rule never splits an earlier find
            if span.end > span.start and claimed.find(1, span.start, span.end) < 0:
                claimed[span.start : span.end] = b"\x01" * (span.end - span.start)
                taken.append(span)
        out: list[str] = []
        last = 0
        for span in sorted(taken):
            out += [text[last : span.start], self.placeholder(span.kind, span.value)]
            last = span.end
        out.append(text[last:])
        return "".join(out) + (CUT_MARKER if cut else "")


_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----")
_KEY_END = re.compile(r"-----END [A-Z ]{0,20}PRIVATE KEY-----")
MAX_KEY_CHARS = 8_000


def _private_keys(text: str) -> Iterator[_Span]:
    """PEM private key blocks; a block without its END line (cut off when pasted) is a secret to its end."""
    pos = 0
    while (begin := _KEY_BEGIN.search(text, pos)) is not None:
        end = _KEY_END.search(text, begin.end(), begin.end() + MAX_KEY_CHARS + 40)
        stop = end.end() if end is not None else min(len(text), begin.end() + MAX_KEY_CHARS)
        yield _Span(begin.start(), stop, SECRET, text[begin.start() : stop])
        pos = stop


def _candidates(text: str) -> Iterator[_Span]:
    """Every value a rule recognises, rules in priority order (overlaps are resolved by the caller)."""
    yield from _private_keys(text)
    for pattern in _TOKEN_PATTERNS:
        yield from _spans(SECRET, pattern, text)
    yield from _spans(SECRET, _KEYED_SECRET, text, "value", lambda v: not _is_placeholder(v), keyword_led=True)
    yield from _spans(SECRET, _NUMERIC_SECRET, text, "value")
    yield from _spoken_secrets(text)
    yield from _spans(SECRET, _USER_COLON_PASSWORD, text, "value", _looks_like_paired_password)
    yield from _spans(SECRET, _LOGIN_PAIR, text, "value", _looks_like_password)
    yield from _spans(EMAIL, _EMAIL, text)
    yield from _spans(CARD, _CARD, text, accept=_is_card)
    yield from _spans(MAC, _MAC, text)
    yield from _spans(IP, _IPV6, text, accept=_is_ipv6)
    for span in _spans(IP, _IPV4, text):
        if not _VERSION_CONTEXT.search(text[max(0, span.start - 12) : span.start]):  # "version 1.2.3.4"
            yield span
    yield from _spans(PHONE, _PHONE_KEYED, text, "value", _is_phone)
    yield from _spans(PHONE, _PHONE, text, accept=_is_phone)
    yield from _spans(SECRET, _HIGH_ENTROPY, text, accept=_looks_random)


def _keyword_led(pattern: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` for a pattern that starts with a credential keyword, tried only where one can
    start (same matches, found with a fast scan)."""
    last = 0
    for start in _KEYWORD_START.finditer(text):
        if start.start() < last:
            continue
        m = pattern.match(text, start.start())
        if m is not None:
            last = m.end()
            yield m


def _spans(
    kind: str, pattern: re.Pattern[str], text: str, group: str | int = 0, accept: Callable[[str], bool] | None = None,
    *, keyword_led: bool = False,
) -> Iterator[_Span]:
    for m in _keyword_led(pattern, text) if keyword_led else pattern.finditer(text):
        value = m.group(group)
        if kind == SECRET and group != 0:
            if _is_placeholder(value):
                continue  # already replaced (redacting twice changes nothing)
            value = value.rstrip(_TRAILING) or value  # sentence punctuation is not part of the value
        if accept is None or accept(value):
            yield _Span(m.start(group), m.start(group) + len(value), kind, value)


def _spoken_secrets(text: str) -> Iterator[_Span]:
    """The first password-looking word within six words after a credential keyword, in the same clause.

    Right after the keyword, or right after its "is"/"was"/"to" ("password for the guest network is ..."), a
    word with two character classes counts ("password is Summer2024"), and so does a plain word that is not prose
    ("the Wi-Fi password is bluefish"); further away the word needs lower case plus two more classes ("password
    they gave me was Bluecrest1!"). Contractions ("doesn't") never count. Each keyword looks at 200 characters."""
    for m in _keyword_led(_KEYWORD_ONLY, text):
        window = text[m.end() : m.end() + 200]
        line_end = window.find("\n")
        words = itertools.islice(_NON_SPACE.finditer(window if line_end < 0 else window[:line_end]), 6)
        direct = True  # every word so far is a link word ("is", "was", ":")
        after_is = False  # the previous word was "is"/"was"/":"
        for word in words:
            raw = word.group(0)
            if _is_placeholder(raw):
                break
            value = raw.strip("\"'(").rstrip(_TRAILING) or raw
            if _CONTRACTION.match(value) or _KEYWORD_ONLY.fullmatch(value):
                break  # prose, or the next keyword (which scans the words after it itself)
            strong = _classes(value) >= 3 and any(c.islower() for c in value)
            plain_word = after_is and value.isalpha() and len(value) >= 4 and value.lower() not in _PROSE_AFTER_IS
            if (_looks_like_password(value) and (direct or after_is or strong)) or plain_word:
                start = m.end() + word.start() + raw.index(value)
                yield _Span(start, start + len(value), SECRET, value)
                break
            direct = direct and bool(_IS.match(raw))
            after_is = bool(_LINK.match(raw))
            if raw[-1] in ".,;!?":
                break  # the clause ended without a password


def _looks_like_paired_password(value: str) -> bool:
    """The password half of "user:password": lower case, a digit and an upper-case letter or symbol, not a hex
    number or a port list."""
    has_lower = any(c.islower() for c in value)
    has_digit = any(c.isdigit() for c in value)
    has_other = any(c.isupper() or not c.isalnum() for c in value)
    return has_lower and has_digit and has_other and not re.fullmatch(r"(?i)(?:0x)?[0-9a-f]+", value)


def _is_card(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return bool(_CARD_GROUPS.match(value) and _CARD_BRANDS.match(digits)) and _luhn_ok(digits)


def _is_ipv6(value: str) -> bool:
    """Only real IPv6 addresses: not times (10:30:45), MAC addresses or "std::string"."""
    try:
        ipaddress.IPv6Address(value.split("%", 1)[0])
    except ValueError:
        return False
    return bool(re.search(r"[0-9A-Fa-f]", value))


def _is_phone(value: str) -> bool:
    number = _EXTENSION.sub("", value).strip()
    digits = re.sub(r"\D", "", number)
    if not 7 <= len(digits) <= 15 or _is_placeholder(value) or _DATE.match(number):
        return False
    if number.lstrip("(").startswith("+"):  # international: the country code must exist and the length fit it
        try:
            return bool(phonenumbers.is_possible_number(phonenumbers.parse(number.replace("(0)", ""), None)))
        except phonenumbers.NumberParseException:
            return False
    return True


def _is_placeholder(value: str) -> bool:
    return bool(_PLACEHOLDER.search(value))


def _normalise(kind: str, value: str) -> str:
    if kind == EMAIL:
        return value.lower()
    if kind in (PHONE, CARD):
        return re.sub(r"\D", "", value)
    return value


def redact_ticket(ticket: Ticket) -> tuple[Ticket, Counter[str]]:
    """The ticket as the classifier may see it, and how many values of each kind were replaced.

    Summary and description are redacted with one numbering; the contact address becomes its placeholder;
    mail headers and the PSA's raw fields (which may hold names and addresses) are dropped.
    """
    redactor = Redactor()
    summary = redactor.redact(ticket.summary)
    description = redactor.redact(ticket.description)
    contact = redactor.placeholder(EMAIL, ticket.contact_email, count=False) if ticket.contact_email.strip() else ""
    safe = ticket.model_copy(
        update={"summary": summary, "description": description, "contact_email": contact, "headers": {}, "native": {}}
    )
    return safe, redactor.counts


def iter_placeholders(text: str) -> Iterator[str]:
    """The placeholders in a text (for tests and logs)."""
    return (m.group(0) for m in _PLACEHOLDER.finditer(text))
