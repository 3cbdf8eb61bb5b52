"""Ticket text cleaning before the LLM call: keep what a technician would read, drop what only costs tokens.

Removed: quoted replies and reply headers (Outlook, Gmail, Apple Mail, a few localized variants), ``>`` lines,
signatures (``-- `` delimiter, sign-off + name/title/phone block, a trailing name + title/contact block), mobile
footers, "external sender" banners, confidentiality disclaimers, inline image placeholders, HTML markup, control
and bidi characters. Whitespace is collapsed. The first message of a thread (what the sender wrote) is kept; a
forwarded message (marked as such, bounded to ``MAX_FORWARDED_CHARS``), or the first quoted one when the top
message says almost nothing ("see below"), is kept after it.

Every function here is linear in its input: the input is cut to ``MAX_INPUT_CHARS`` before any regular
expression runs, markup is removed with bounded patterns, the plain text is cut to ``MAX_TEXT_CHARS``, and line
rules only look at lines of at most ``MAX_RULE_LINE_CHARS`` characters (a header, attribution or sign-off line is
never longer). Nothing is recursive.
"""

from __future__ import annotations

import html
import re
import unicodedata

#: Characters of raw input (HTML included) read at all; the rest is never looked at.
MAX_INPUT_CHARS = 256_000
#: Characters of markup read after ``<script>``/``<style>``/``<head>`` elements are dropped (those are found with
#: plain string search; Outlook puts tens of kilobytes of style before the first word).
MAX_MARKUP_CHARS = 32_000
#: Characters of plain text (after markup removal) that the line rules read.
MAX_TEXT_CHARS = 16_000
#: Lines of plain text that the line rules read.
MAX_LINES = 1_000
#: Characters of a subject line read.
MAX_SUMMARY_CHARS = 1_000
#: Line rules (headers, attributions, sign-offs, greetings) only apply to lines up to this long.
MAX_RULE_LINE_CHARS = 300
#: A forwarded message is kept up to this many characters.
MAX_FORWARDED_CHARS = 6_000
#: A top message with fewer words than this ("FYI", "see below") also keeps the first quoted message.
THIN_MESSAGE_WORDS = 6
#: A sign-off only counts as the start of a signature when at most this many short lines follow it.
MAX_SIGNATURE_LINES = 12
MAX_SIGNATURE_LINE_CHARS = 80
#: The line that introduces a kept forwarded message.
FORWARD_CUE = "---------- Forwarded message ----------"


def _control_table() -> dict[int, int | None]:
    """NUL and other control characters, bidi overrides/isolates, zero-width characters -> removed; tabs, form
    feeds and the like -> space. Line breaks (``\\n``) stay."""
    table: dict[int, int | None] = {}
    for code in (*range(0x10000), *range(0xE0000, 0xE0080)):  # format characters outside these are unassigned
        if code == 0x0A:
            continue
        category = unicodedata.category(chr(code))
        if category == "Cc":
            table[code] = 0x20 if code in (0x09, 0x0B, 0x0C) else None
        elif category == "Cf" and code not in (0x00AD,):  # format chars: bidi, zero width, BOM, tags
            table[code] = None
    table[0x00AD] = None  # soft hyphen
    table[0x2028] = table[0x2029] = 0x0A  # line / paragraph separators
    return table


_CONTROLS = _control_table()


def _char_class(codes: list[int]) -> str:
    """A regex character class of ``codes`` written as ranges (a short class is checked fast)."""
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "[" + "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
                         for a, b in ranges) + "]"


_REMOVED = re.compile(_char_class([c for c, to in _CONTROLS.items() if to is None]))
_AS_SPACE = re.compile(_char_class([c for c, to in _CONTROLS.items() if to == 0x20]))
_AS_NEWLINE = re.compile(_char_class([c for c, to in _CONTROLS.items() if to == 0x0A]))


def strip_controls(text: str) -> str:
    """``text`` without NUL, control, bidi-override and zero-width characters (``\\r\\n`` and ``\\r`` -> ``\\n``)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii():
        return text.translate(_CONTROLS)  # the fast path of str.translate
    return _AS_NEWLINE.sub("\n", _AS_SPACE.sub(" ", _REMOVED.sub("", text)))


# --- markup: bounded patterns only (``[^<>]`` so that a stray "<" never makes a match scan to the end) ----------
_HTML_HINTS = ("<p>", "<p ", "<br", "<div", "<html", "<body", "<span", "<table", "<td", "<li>", "<font", "<a ",
               "<b>", "<i>", "</p>", "</div>")
_HTML_BLOCK = re.compile(r"<\s{0,5}/?(?:br|p|div|tr|li|h[1-6]|table|blockquote)\b[^<>]{0,2000}>", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^<>]{0,2000}>")
_HTML_COMMENT_OPEN = "<!--"
_HTML_DROPPED = ("script", "style", "head")

_FORWARD = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|original message follows)\s*-{2,}|begin forwarded message:?"
    r"|-{2,}\s*weitergeleitete nachricht\s*-{2,}|-{2,}\s*message transf[ée]r[ée]\s*-{2,})\s*$",
    re.IGNORECASE,
)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(?:original message|urspr[üu]ngliche nachricht|message d'origine|oorspronkelijk bericht"
    r"|mensaje original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"(?:\bwrote|\bschrieb|a [ée]crit|\bschreef|escribi[óo]) ?:\s*$", re.IGNORECASE)
_WROTE_START = re.compile(r"^\s*(?:on|am|le|op|el)\s+\S", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|von|de|van)\s*\*?\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|to|cc|subject|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|verzonden|aan|onderwerp"
    r"|enviado|para|asunto)\s*\*?\s*:",
    re.IGNORECASE,
)
_HEADER_KEPT = re.compile(r"^\s*\*?(?:from|von|de|van|subject|betreff|objet|onderwerp|asunto)\s*\*?\s*:",
                          re.IGNORECASE)
_RULE = re.compile(r"^\s*[_\-=*~]{5,}\s*$")
_SIG_DELIMITER = re.compile(r"^--\s?$")
_SIGN_OFF = re.compile(
    r"^\s*(?:(?:kind|best|warm|warmest|many|with)\s+(?:regards|thanks|wishes)|regards|thanks(?:\s+(?:again|so\s+much))?"
    r"|thank\s+you(?:\s+(?:so\s+much|again))?|thx|ty|cheers|best|sincerely|br|all\s+the\s+best|respectfully"
    r"|mit\s+freundlichen\s+gr[üu](?:ß|ss)en|met\s+vriendelijke\s+groet(?:en)?|cordialement|saludos)"
    r"(?:\s+in\s+advance)?\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|(?:good\s+)?(?:morning|afternoon|evening)|greetings|hallo|bonjour|hola)"
    r"(?:(?:\s+[^\s,.!?:]+){0,3}\s*[,!:]|(?:\s+[^\s,.!?:]+)?\s*\.?)\s*$",
    re.IGNORECASE,
)
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent\s+(?:from|via|with)\s+(?:my\s+)?(?:iphone|ipad|android|galaxy|samsung|blackberry|mobile"
    r"|phone|smartphone|huawei|pixel|outlook|mail\s+for\s+windows|yahoo\s+mail|gmail|proton)\b.*"
    r"|get\s+outlook\s+for\s+(?:ios|android|mac|windows)\b.*|von\s+meinem\s+\w+\s+gesendet\.?"
    r"|envoy[ée]\s+de\s+mon\s+\w+\.?)\s*$",
    re.IGNORECASE,
)
_BANNER = re.compile(
    r"^\s*(?:\[?external\]?\s*(?:email|e-mail|sender|message)?\s*[:\-]|caution\s*:|warning\s*:\s*(?:this|external)"
    r"|this (?:e-?mail|message) originated from outside|you don't often get email from)",
    re.IGNORECASE,
)
_BANNER_BODY = re.compile(r"outside (?:of )?(?:the|your) organi[sz]ation|external sender|don't often get email",
                          re.IGNORECASE)
_DISCLAIMER_STRONG = re.compile(
    r"confidentiality notice|intended recipient|circular 230|before printing|environment before"
    r"|(?:if you (?:have )?(?:received|got) (?:this|it)|(?:received|got) this (?:e-?mail|message|communication"
    r"|transmission))(?: \w+)? (?:by mistake|in error)|unauthori[sz]ed (?:review|use|disclosure|distribution|copying)",
    re.IGNORECASE,
)
_DISCLAIMER_WEAK = (
    re.compile(r"\bconfidential\b", re.IGNORECASE),
    re.compile(r"\bprivileged\b", re.IGNORECASE),
    re.compile(r"intended (?:only|solely) for", re.IGNORECASE),
    re.compile(r"protected health information|\bhipaa\b", re.IGNORECASE),
    re.compile(r"notify the sender|delete (?:it|this|the material|all copies)", re.IGNORECASE),
    re.compile(r"\b(?:this|the) (?:e-?mail|message|communication)(?: and any (?:attachments|files))?", re.IGNORECASE),
)
# A trailing signature without a sign-off: a name line, then title / company / contact lines.
_NAME_LINE = re.compile(r"^\s*[A-Z][a-zA-Z'\u2019.-]{0,30}(?: [A-Z][a-zA-Z'\u2019.-]{0,30}){1,3}\s*,?\s*$")
_CONTACT_CUE = re.compile(
    r"\||\bwww\.|https?://|@|\b(?:tel|phone|mobile|cell|fax|direct|office|t|m|p|e)\s*[:.]|\+?\d[\d ().-]{6,}\d"
    r"|\b(?:manager|director|administrator|admin|assistant|officer|coordinator|accountant|engineer|partner|ceo|cfo"
    r"|coo|cto|owner|president|receptionist|supervisor|specialist|analyst|consultant|associate|paralegal|attorney"
    r"|lead|head of|team|department|dept|office|inc|llc|ltd|gmbh|corp|group)\b",
    re.IGNORECASE,
)
_INLINE_IMAGE = re.compile(r"\[(?:cid:[^\]\n]{0,300}|image\d{0,4}\.(?:png|jpe?g|gif|bmp)[^\]\n]{0,300})\]",
                           re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_WORD = re.compile(r"\w+")
_SUBJECT_PREFIX = re.compile(r"\s{0,20}(?:(re|fw|fwd|aw|wg|tr|sv|antw|rv|enc)\s{0,5}(?:\[\d{1,6}\])?\s{0,5}:"
                             r"|\[?external\]?\s{0,5}:?)\s{0,20}", re.IGNORECASE)
_FORWARD_PREFIXES = frozenset({"fw", "fwd", "wg", "tr", "rv", "enc"})


def clean_ticket_text(text: str, *, forwarded: bool = False) -> str:
    """The words of a ticket description a technician would read (see the module docstring).

    ``forwarded``: the subject says the mail was forwarded ("FW: ..."), so the first older message is the
    forwarded one and is kept even when the markers look like a reply's."""
    return clean_plain_text(plain_text(text), forwarded=forwarded)


def plain_text(text: str) -> str:
    """Capped input as plain text: control/bidi characters and HTML markup removed, inline images dropped.

    Control characters are removed after the cut to ``MAX_MARKUP_CHARS`` / ``MAX_TEXT_CHARS`` (removing them
    from a quarter megabyte of NUL and bidi characters would hold the interpreter for tens of milliseconds)."""
    if _looks_like_html(text):
        markup = _drop_elements(text[:MAX_INPUT_CHARS])[:MAX_MARKUP_CHARS]
        markup = _HTML_BLOCK.sub("\n", markup)
        text = html.unescape(_HTML_TAG.sub("", markup))  # entities may encode control characters: strip after
    return _INLINE_IMAGE.sub("", strip_controls(text[:MAX_TEXT_CHARS]))


def _looks_like_html(text: str) -> bool:
    """Whether the text carries HTML markup (plain substring search: a regex tried at every "<" is far slower)."""
    head = text[:MAX_MARKUP_CHARS].lower()
    return "<" in head and any(hint in head for hint in _HTML_HINTS)


def clean_plain_text(text: str, *, forwarded: bool = False) -> str:
    """``clean_ticket_text`` of a text already passed through ``plain_text``."""
    text = text[:MAX_TEXT_CHARS]
    if not text.strip():
        return ""
    top, older, kind = split_thread(text.split("\n", MAX_LINES)[:MAX_LINES])
    parts = [_clean_message(top)]
    if older and (kind == "forward" or forwarded or _word_count(parts[0]) < THIN_MESSAGE_WORDS):
        if kind == "forward" or forwarded:
            kept_headers, body = _forward_headers(older)
            message = _clean_message(body)[:MAX_FORWARDED_CHARS]
            parts.append("\n".join([FORWARD_CUE, *kept_headers, "", message]))
        else:
            parts.append(_clean_message(_strip_headers(older))[:MAX_FORWARDED_CHARS])
    result = collapse_whitespace("\n\n".join(p for p in parts if p))
    return result or collapse_whitespace(text)


def summary_is_forward(summary: str) -> bool:
    """Whether a subject line says the mail was forwarded ("FW:", "Fwd:", "WG:", "TR:" ... before any "RE:")."""
    return _subject_prefixes(summary)[1]


def clean_summary(summary: str) -> str:
    """A subject line without reply prefixes and "[EXTERNAL]" tags; a forward keeps one ``FW:`` as a cue."""
    rest, forward = _subject_prefixes(summary)
    text = _SPACES.sub(" ", rest).strip()
    if not text:
        text = _SPACES.sub(" ", strip_controls(summary[:MAX_SUMMARY_CHARS])).strip()
    return f"FW: {text}" if forward and text else text


def _subject_prefixes(summary: str) -> tuple[str, bool]:
    """(the subject after its prefixes, whether one of them is a forward prefix). Iterative, bounded."""
    text = strip_controls(summary[:MAX_SUMMARY_CHARS])
    forward = False
    pos = 0
    for _ in range(50):
        m = _SUBJECT_PREFIX.match(text, pos)
        if m is None or m.end() == pos:
            break
        if (m.group(1) or "").lower() in _FORWARD_PREFIXES:
            forward = True
        pos = m.end()
    return text[pos:], forward


def collapse_whitespace(text: str) -> str:
    """Runs of spaces become one space, lines are trimmed, at most one blank line in a row."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _drop_elements(text: str) -> str:
    """Remove ``<script>``/``<style>``/``<head>`` elements and comments with one left-to-right scan (an element
    that is never closed is dropped to the end)."""
    lower = text.lower()
    out: list[str] = []
    pos = 0
    while True:
        start, end_marker = _next_dropped(lower, pos)
        if start < 0:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:start])
        end = lower.find(end_marker, start + 1)
        if end < 0:
            return "".join(out)
        close = lower.find(">", end + len(end_marker) - 1)
        pos = len(text) if close < 0 else close + 1


def _next_dropped(lower: str, pos: int) -> tuple[int, str]:
    best, marker = -1, ""
    comment = lower.find(_HTML_COMMENT_OPEN, pos)
    if comment >= 0:
        best, marker = comment, "-->"
    for name in _HTML_DROPPED:
        at = lower.find("<" + name, pos, best if best >= 0 else len(lower))
        while at >= 0 and at + len(name) + 1 < len(lower) and lower[at + len(name) + 1].isalnum():
            at = lower.find("<" + name, at + 1, best if best >= 0 else len(lower))  # <header>, <heading>
        if at >= 0 and (best < 0 or at < best):
            best, marker = at, "</" + name
    return best, marker


def _rule_line(line: str) -> str | None:
    """The line if line rules may look at it (short, not blank), else None."""
    if len(line) > MAX_RULE_LINE_CHARS or not line.strip():
        return None
    return line


def first_boundary(lines: list[str]) -> tuple[int, int, str] | None:
    """The first place an older message starts: (index of its marker, index of its first line, kind), kind
    ``forward``, ``original`` (Outlook "Original Message" or a From/Sent block) or ``wrote`` (an attribution
    followed by ``>`` lines). One pass, a constant amount of work per line."""
    for i, raw in enumerate(lines):
        line = _rule_line(raw)
        if line is None:
            continue
        if _FORWARD.match(line):
            return i, i + 1, "forward"
        if _ORIGINAL.match(line):
            return i, i + 1, "original"
        if _WROTE_START.match(line):
            for j in (i, i + 1):
                if j < len(lines) and len(lines[j]) < 250 and _WROTE.search(lines[j]):
                    return i, j + 1, "wrote"
        if _is_header_block(lines, i):
            return i, i, "original"
        if _RULE.match(line) and i + 1 < len(lines) and _is_header_block(lines, i + 1):
            return i, i + 1, "original"
    return None


def split_thread(lines: list[str]) -> tuple[list[str], list[str], str]:
    """(top message, the first older message below it (its header block included), kind of the boundary or "")."""
    found = first_boundary(lines)
    if found is None:
        return lines, [], ""
    index, body, kind = found
    rest = lines[body:]
    if kind == "wrote":
        rest = [_unquote_once(q) for q in rest if q.lstrip().startswith(">") or not q.strip()]
    start = _header_end(rest)
    inner = first_boundary(rest[start:])
    older = rest if inner is None else rest[: start + inner[0]]
    return lines[:index], older, kind


def _is_header_block(lines: list[str], i: int) -> bool:
    """A "From: ..." line followed within a few lines by "Sent:" / "Date:" / "To:" / "Subject:"."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    return any(_rule_line(line) is not None and _HEADER_NEXT.match(line) for line in lines[i + 1 : i + 4])


def _header_end(lines: list[str]) -> int:
    """Index of the first line after a leading header block (0 when there is none)."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    first = _rule_line(lines[i]) if i < len(lines) else None
    if first is None or not (_HEADER_FROM.match(first) or _HEADER_NEXT.match(first)):
        return 0
    while i < len(lines) and lines[i].strip():
        i += 1
    return i


def _strip_headers(lines: list[str]) -> list[str]:
    """Drop a leading header block (From/Sent/To/Cc/Subject and their wrapped lines)."""
    return lines[_header_end(lines) :]


def _forward_headers(lines: list[str]) -> tuple[list[str], list[str]]:
    """(the From and Subject lines of a forwarded message's header block, the message below the block)."""
    end = _header_end(lines)
    kept = [ln.strip().strip("*") for ln in lines[:end] if _rule_line(ln) is not None and _HEADER_KEPT.match(ln)]
    return kept[:2], lines[end:]


def _unquote_once(line: str) -> str:
    stripped = line.lstrip()
    if not stripped.startswith(">"):
        return line
    return stripped[2:] if stripped.startswith("> ") else stripped[1:]


def _clean_message(lines: list[str]) -> str:
    kept = [line for line in lines if not line.lstrip().startswith(">") and not _matches(_MOBILE_FOOTER, line)]
    kept = _drop_paragraphs(kept)
    kept = _cut_signature(kept)
    kept = [line for line in kept if not _matches(_GREETING, line) and not _matches(_RULE, line)]
    return collapse_whitespace("\n".join(kept))


def _matches(pattern: re.Pattern[str], line: str) -> bool:
    return _rule_line(line) is not None and pattern.match(line) is not None


def _drop_paragraphs(lines: list[str]) -> list[str]:
    """Remove banner and disclaimer paragraphs (blank-line separated)."""
    out: list[str] = []
    paragraph: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            paragraph.append(line)
            continue
        if paragraph and not _is_boilerplate(paragraph):
            out.extend(paragraph)
        out.append(line)
        paragraph = []
    return out[:-1]


def _is_boilerplate(paragraph: list[str]) -> bool:
    text = " ".join(line.strip() for line in paragraph)[:4000]
    if _BANNER.match(text) and _BANNER_BODY.search(text):
        return True
    if _DISCLAIMER_STRONG.search(text):
        return True
    return sum(1 for pattern in _DISCLAIMER_WEAK if pattern.search(text)) >= 3


def _cut_signature(lines: list[str]) -> list[str]:
    """Cut at a ``--`` delimiter, at a sign-off line followed only by a short name/title/phone block, or before a
    trailing name + title/contact block. Only the last ``MAX_SIGNATURE_LINES`` filled lines are candidates."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line):
            return lines[:i]
    filled = [i for i, line in enumerate(lines) if line.strip()]
    tail = filled[-(MAX_SIGNATURE_LINES + 1) :]
    short_from = len(lines)  # every filled line from here on is short and asks nothing
    for i in reversed(filled):
        line = lines[i].rstrip()
        if len(line.strip()) > MAX_SIGNATURE_LINE_CHARS or line.endswith("?"):
            break
        short_from = i
    for i in tail:
        if _matches(_SIGN_OFF, lines[i]) and (i + 1 >= short_from or _all_short_after(filled, i, short_from)):
            return lines[:i]
    return _cut_name_block(lines, filled, short_from)


def _all_short_after(filled: list[int], i: int, short_from: int) -> bool:
    after = [j for j in filled if j > i]
    return not after or after[0] >= short_from


def _cut_name_block(lines: list[str], filled: list[int], short_from: int) -> list[str]:
    """A last paragraph of 2-8 short lines, the first a name, the others with a title or contact cue."""
    if len(filled) < 3:
        return lines
    start = filled[-1]
    while start > 0 and lines[start - 1].strip():
        start -= 1
    block = [line for line in lines[start:] if line.strip()]
    if start < short_from or not 2 <= len(block) <= 8 or start <= filled[0]:
        return lines
    if _matches(_NAME_LINE, block[0]) and all(_CONTACT_CUE.search(line[:MAX_RULE_LINE_CHARS]) for line in block[1:]):
        return lines[:start]
    return lines


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))
