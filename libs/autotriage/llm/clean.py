"""Ticket text cleaning before the LLM call: keep what the requester wrote, drop what only costs tokens.

Removed: quoted replies and reply headers (Outlook, Gmail, Apple Mail, a few localized variants), ``>`` lines,
signatures (``-- `` delimiter, sign-off + name/title/phone block), mobile footers, "external sender"
banners, confidentiality disclaimers, inline image placeholders, HTML markup. Whitespace is collapsed.
The first message of a thread (the top one, what the sender wrote) is kept; a forwarded message, or the
first quoted one when the top message says almost nothing ("see below"), is kept after it.
"""

from __future__ import annotations

import html
import re

#: A top message with fewer words than this ("FYI", "see below") also keeps the first quoted message.
THIN_MESSAGE_WORDS = 6
#: A sign-off only counts as the start of a signature when at most this many short lines follow it.
MAX_SIGNATURE_LINES = 8
MAX_SIGNATURE_LINE_CHARS = 80

_HTML_HINT = re.compile(r"<(?:p|br|div|html|body|span|table|tr|td|li|ul|ol|font|b|i|a)\b[^>]*>", re.IGNORECASE)
_HTML_BLOCK = re.compile(r"<\s*(?:br|/p|/div|/tr|/li|/h[1-6]|p|div|tr|li|h[1-6])\b[^>]*>", re.IGNORECASE)
_HTML_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")

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
_WROTE = re.compile(
    r"(?:\bwrote|\bschrieb|a [ée]crit|\bschreef|escribi[óo])\s*:\s*$", re.IGNORECASE
)
_WROTE_START = re.compile(r"^\s*(?:on|am|le|op|el)\s+\S", re.IGNORECASE)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|von|de|van)\s*\*?\s*:", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(?:sent|date|to|cc|subject|gesendet|datum|an|betreff|envoy[ée]|[àa]|objet|verzonden|aan|onderwerp"
    r"|enviado|para|asunto)\s*\*?\s*:",
    re.IGNORECASE,
)
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
_INLINE_IMAGE = re.compile(r"\[(?:cid:[^\]]*|image\d*\.(?:png|jpe?g|gif|bmp)[^\]]*)\]", re.IGNORECASE)
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_WORD = re.compile(r"\w+")
_SUBJECT_PREFIX = re.compile(r"^(?:\s*(?:\[?external\]?\s*:?|re|fw|fwd|aw|wg|tr|sv|antw)\s*(?:\[\d+\])?\s*:\s*"
                             r"|\s*\[external\]\s*)+", re.IGNORECASE)


def clean_ticket_text(text: str) -> str:
    """The requester's own words of a ticket description (see the module docstring)."""
    if not text or not text.strip():
        return ""
    normalized = _normalize(text)
    top, quoted, forwarded = _split_thread(normalized.split("\n"))
    parts = [_clean_message(top)]
    if quoted and (forwarded or _word_count(parts[0]) < THIN_MESSAGE_WORDS):
        parts.append(_clean_message(_strip_headers(quoted)))
    result = collapse_whitespace("\n\n".join(p for p in parts if p))
    return result or collapse_whitespace(normalized)


def clean_summary(summary: str) -> str:
    """A subject line without reply/forward prefixes and "[EXTERNAL]" tags."""
    text = _SUBJECT_PREFIX.sub("", _ZERO_WIDTH.sub("", summary))
    return _SPACES.sub(" ", text).strip() or summary.strip()


def collapse_whitespace(text: str) -> str:
    """Runs of spaces become one space, lines are trimmed, at most one blank line in a row."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _HTML_HINT.search(text):
        text = _HTML_DROP.sub("", text)
        text = _HTML_BLOCK.sub("\n", text)
        text = html.unescape(_HTML_TAG.sub("", text))
    text = _ZERO_WIDTH.sub("", text)
    return _INLINE_IMAGE.sub("", text)


def _split_thread(lines: list[str]) -> tuple[list[str], list[str], bool]:
    """(top message, the first older message below it, whether that one was forwarded)."""
    for i, line in enumerate(lines):
        if _FORWARD.match(line):
            return lines[:i], _until_next_boundary(lines[i + 1 :]), True
        if _ORIGINAL.match(line):
            return lines[:i], _until_next_boundary(lines[i + 1 :]), False
        wrote_at = _wrote_line(lines, i)
        if wrote_at is not None:
            quoted = [_unquote(q) for q in lines[wrote_at + 1 :] if q.lstrip().startswith(">") or not q.strip()]
            return lines[:i], _until_next_boundary(quoted), False
        if _is_header_block(lines, i):
            return lines[:i], _until_next_boundary(lines[i:]), False
        if _RULE.match(line) and i + 1 < len(lines) and _is_header_block(lines, i + 1):
            return lines[:i], _until_next_boundary(lines[i + 1 :]), False
    return lines, [], False


def _wrote_line(lines: list[str], i: int) -> int | None:
    """Index of the line ending in "wrote:" when an attribution ("On <date>, <name> wrote:") starts at ``i``."""
    if not _WROTE_START.match(lines[i]):
        return None
    for j in (i, i + 1):
        if j < len(lines) and _WROTE.search(lines[j]) and len(lines[j]) < 250:
            return j
    return None


def _is_header_block(lines: list[str], i: int) -> bool:
    """A "From: ..." line followed within a few lines by "Sent:" / "Date:" / "To:" / "Subject:"."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    return any(_HEADER_NEXT.match(line) for line in lines[i + 1 : i + 4])


def _until_next_boundary(lines: list[str]) -> list[str]:
    body = _strip_headers(lines)
    top, _, _ = _split_thread(body)
    return top


def _strip_headers(lines: list[str]) -> list[str]:
    """Drop a leading header block (From/Sent/To/Cc/Subject and their wrapped lines)."""
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i >= len(lines) or not (_HEADER_FROM.match(lines[i]) or _HEADER_NEXT.match(lines[i])):
        return lines
    while i < len(lines) and lines[i].strip():
        i += 1
    return lines[i:]


def _unquote(line: str) -> str:
    return re.sub(r"^\s*(?:>\s?)+", "", line)


def _clean_message(lines: list[str]) -> str:
    kept = [line for line in lines if not line.lstrip().startswith(">") and not _MOBILE_FOOTER.match(line)]
    kept = _drop_paragraphs(kept)
    kept = _cut_signature(kept)
    kept = [line for line in kept if not _GREETING.match(line) and not _RULE.match(line)]
    return collapse_whitespace("\n".join(kept))


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
    text = " ".join(line.strip() for line in paragraph)
    if _BANNER.match(text) and _BANNER_BODY.search(text):
        return True
    if _DISCLAIMER_STRONG.search(text):
        return True
    return sum(1 for pattern in _DISCLAIMER_WEAK if pattern.search(text)) >= 3


def _cut_signature(lines: list[str]) -> list[str]:
    """Cut at a ``--`` delimiter, or at a sign-off line followed only by a short name/title/phone block."""
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line):
            return lines[:i]
    for i, line in enumerate(lines):
        if _SIGN_OFF.match(line) and _looks_like_signature(lines[i + 1 :]):
            return lines[:i]
    return lines


def _looks_like_signature(tail: list[str]) -> bool:
    filled = [line for line in tail if line.strip()]
    return len(filled) <= MAX_SIGNATURE_LINES and all(
        len(line.strip()) <= MAX_SIGNATURE_LINE_CHARS and not line.rstrip().endswith("?") for line in filled
    )


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))
