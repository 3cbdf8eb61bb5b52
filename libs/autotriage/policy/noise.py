"""Noise pre-filter, run before any LLM call: auto-replies, out-of-office, delivery failures, spam, empty tickets.

Precision over recall: a skipped ticket simply stays for a person to triage, but a real ticket must never be
dropped because it *talks about* an out-of-office or a bounce. So a single mention in a sentence never counts;
the filter looks for what mail systems generate:

* strong headers (RFC 3834 ``Auto-Submitted: auto-replied``, ``X-Autoreply``, ``Precedence: auto_reply``);
* machine-made subject prefixes ("Automatic reply:", "Abwesenheitsnotiz:", "Undeliverable:", ...), which do
  not count when a person forwards the message ("FW: Undeliverable: ..." is a user asking for help);
* a bounce sender (``mailer-daemon@``, ``postmaster@``);
* or several independent cues together (two out-of-office phrases, two spam cues, ...).

Subject prefixes a person could also type ("Auto reply:", "Out of office:", "Undeliverable:") need matching text
in the body, and a body that asks for help ("can you", "not working", "please fix") is never an auto-reply.
Configurable per tenant with ``Policy.noise_filter``.

Mail that people never write themselves is recognised from its own wording: read receipts ("Read: ...", "was
read on"), calendar responses ("Accepted:", "Declined:", "Canceled:" with no request in them), event and webinar
registration confirmations, newsletters and marketing (one list-mail footer such as "view this email in your
browser" is enough), gift-card scams, vendors' "thank you for contacting support, case #123 was created"
acknowledgements, "Auto:" replies, and a reply that only says "ok", "thanks" or an emoji.

Linear time: the filter reads at most ``MAX_SUBJECT_CHARS`` of the subject and the head and tail of the body,
and every pattern is bounded.

Headers that legitimate automated senders also set (RMM and monitoring alerts, ticket notifications:
``Auto-Submitted: auto-generated``, ``X-Auto-Response-Suppress``, ``Precedence: bulk/list/junk``) are weak:
they count as one cue, never alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from autotriage.core.models import Ticket

AUTO_REPLY = "auto_reply"
OUT_OF_OFFICE = "out_of_office"
DELIVERY_FAILURE = "delivery_failure"
SPAM = "spam"
EMPTY = "empty"
READ_RECEIPT = "read_receipt"
CALENDAR = "calendar"
MARKETING = "marketing"
CLOSER = "closer"
KINDS = (AUTO_REPLY, OUT_OF_OFFICE, DELIVERY_FAILURE, SPAM, EMPTY, READ_RECEIPT, CALENDAR, MARKETING, CLOSER)
#: Characters of the subject and of the body the filter reads: machine-made mail says what it is at the top, and
#: list mail in its footer, so the body's head and tail are read.
MAX_SUBJECT_CHARS = 1_000
MAX_BODY_HEAD_CHARS = 4_000
MAX_BODY_TAIL_CHARS = 1_500


@dataclass(frozen=True)
class Noise:
    """Why a ticket is noise: its kind (a metric label) and the cue that decided it (for logs)."""

    kind: str
    cue: str

    @property
    def reason(self) -> str:
        """The skip reason carried to the outcome, e.g. ``noise:out_of_office``."""
        return f"noise:{self.kind}"


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# Reply prefixes that may precede a machine subject ("Automatic reply: RE: ..." or "RE: Automatic reply: ...").
# Forward prefixes (FW, Fwd, WG, TR, RV, I, Doorst) are deliberately absent: a forward is a person asking.
_REPLY_PREFIXES = r"^\s*(?:(?:re|aw|sv|antw|res|r)\s*:\s*)*"
_REPLY_SUBJECT = re.compile(r"^\s*(?:re|aw|sv|antw|res|r)\s*(?:\[\d{1,4}\])?\s*:", re.IGNORECASE)
_FORWARDED = _rx(r"^\s*(?:(?:re|aw|sv|antw|res)\s*:\s*)*(?:fw|fwd|wg|tr|rv|i|doorst|enc)\s*:")

# Subject prefixes that mail systems write (Outlook and its translations, common autoresponders).
_AUTO_REPLY_SUBJECT = re.compile(
    _REPLY_PREFIXES
    + r"(?:automatic reply|automatische antwort|abwesenheitsnotiz|respuesta autom[aá]tica|r[ée]ponse automatique"
    r"|risposta automatica|automatisch antwoord|resposta autom[aá]tica|autosvar|automatisk svar|afwezig"
    r"|out of office (?:auto)?reply|auto)\s*:",
    re.IGNORECASE,
)
# Prefixes a person could also type ("Auto reply: please set one up for me", "Out of office: won't turn on"):
# they count only with auto-reply/out-of-office text in the body and no request for help.
_HUMAN_TYPABLE_SUBJECT = re.compile(
    _REPLY_PREFIXES + r"(?:auto[- ]?reply|auto[- ]?response|out of (?:the )?office|ooo|abwesend)\s*:", re.IGNORECASE
)
_ASKING = _rx(
    r"\b(?:can|could|would) you\b|\bhow (?:do|can|to) i\b|\bhow to\b|\bunable to\b|\berror\b",
    r"\bplease (?:help|fix|set ?up|configure|turn|enable|disable|check|install|reset|add|remove|create|look)\b",
    r"\b(?:is ?n[o']t|does ?n[o']t|do ?n[o']t|wo ?n't|will not|ca ?n't|cannot) (?:work|turn|start|open|show|send|let)",
    r"\bnot working\b|\bstopped working\b",
)
_OOO_PHRASES = _rx(
    r"\b(?:i am|i'm|i will be|i'll be) (?:currently )?(?:out of (?:the )?office|away|on (?:annual )?leave"
    r"|on (?:vacation|holiday|parental leave|sick leave)|travell?ing|off)\b",
    r"\bcurrently (?:out of (?:the )?office|away|on (?:vacation|holiday|leave))\b",
    r"\bout of (?:the )?office (?:from|until|till|through|on)\b",
    r"\bwill (?:be )?(?:return(?:ing)?|back) (?:on|to the office|in the office)\b",
    r"\b(?:limited|no|without) access to (?:my )?e-?mail\b",
    r"\bupon my return\b|\bwhen i(?:'m| am) back\b|\bon my return\b",
    r"\bfor (?:urgent|immediate) (?:matters|requests|assistance|issues)\b|\bif you need immediate assistance\b",
    r"\bnicht im b[üu]ro\b|\bau(?:ß|ss)er haus\b|\bim urlaub\b|\bbin (?:ab|bis)(?: zum| einschlie(?:ß|ss)lich)?\b",
    r"\bwieder (?:erreichbar|im b[üu]ro)\b|\bin dringenden f[äa]llen\b",
    r"\bfuera de la oficina\b|\bde vacaciones\b|\bestar[ée] de (?:vuelta|regreso)\b|\bregresar[ée]\b",
    r"\ben caso de urgencia\b",
    r"\babsente? du bureau\b|\ben cong[ée]s?\b|\bde retour le\b|\ben cas d'urgence\b",
    r"\bniet op kantoor\b|\bmet vakantie\b|\bben (?:weer )?terug op\b|\bin dringende gevallen\b|\bafwezig\b",
    r"\bfuori ufficio\b|\bin ferie\b|\brientrer[òo]\b",
)
_AUTO_REPLY_PHRASES = _rx(
    r"\bthis is an automat(?:ed|ic) (?:response|reply|message to (?:let you know|confirm))\b",
    r"\bthis mailbox is (?:not|no longer) monitored\b",
    r"\bwe have received your (?:message|e-?mail|request) and will\b",
    r"\bthank you for (?:contacting|your e-?mail)\b.{0,80}\bautomat(?:ed|ic)\b",
    r"\bthank you for your (?:e-?mail|message)[.,!]? ?i (?:will|shall) (?:respond|reply|get back)",
    r"\bi (?:will|'ll) (?:respond|reply|get back to you) (?:to your (?:e-?mail|message) )?"
    r"as soon as (?:possible|i can)",
    r"\bi am (?:currently )?(?:away from|not at) my desk\b",
)
# Vendors acknowledging a case we opened with them (our helpdesk mailbox is their requester).
_VENDOR_ACK = _rx(
    r"\bthank you for contacting (?:[\w&.-]+ ){0,4}(?:support|customer service|customer care|help ?desk|service desk"
    r"|technical support)\b",
    r"\byour (?:support |service )?(?:request|case|ticket|inquiry|enquiry)(?: (?:number|no\.?|#|id))?:? ?#?[\w-]{0,20}"
    r" (?:has been|was|is) (?:received|created|logged|opened|submitted|registered)\b",
    r"\b(?:a|one of our) (?:support |technical )?(?:engineer|representative|agent|specialist|team member)s? will "
    r"(?:contact|respond|reply|get back|be in touch|review)",
    r"\bplease (?:do not|don't) (?:change|modify) the subject line\b|\breply above this line\b",
    r"\bwe(?:'ve| have) (?:got|received) your (?:request|message|e-?mail|enquiry|inquiry)\b",
    r"\bthis is an automat(?:ed|ic) (?:message|response|reply|e-?mail)\b",
)
_CASE_NUMBER = _rx(r"\b(?:case|ticket|request|reference|incident|sr)(?: (?:number|no\.?|id))?\s?[:#]\s?[\w-]{3,20}",
                   r"\b(?:case|ticket|request|reference) \d{4,}", r"\[(?:case|ticket|request)?\s?#?\s?\d{3,}\]")

_READ_SUBJECT = re.compile(r"^\s*(?:read|not read|gelesen|nicht gelesen|lu|non lu|le[ií]do|gelezen|letto)\s*:",
                           re.IGNORECASE)
_READ_BODY = _rx(
    r"\bwas read on\b|\bwas read at\b|\bwurde am .{0,40} gelesen\b|\ba [ée]t[ée] lu le\b|\bis gelezen op\b",
    r"\bwas deleted without being read\b|\bthis is a (?:read )?receipt for the (?:mail|message|e-?mail) you sent\b",
    r"\bread receipt\b|\breturn receipt\b|\bdisposition-notification\b",
)
_CALENDAR_SUBJECT = re.compile(
    _REPLY_PREFIXES + r"(?:accepted|declined|tentative(?:ly accepted)?|tentative accepted|new time proposed"
    r"|canceled|cancelled|meeting (?:forward )?notification|angenommen|abgelehnt|mit vorbehalt angenommen|abgesagt"
    r"|accept[ée]|refus[ée]|aceptado|rechazado|geaccepteerd|geweigerd)\s*:",
    re.IGNORECASE,
)
# "Invitation:" is also how events are marketed: a calendar invitation only with the calendar's own wording.
_INVITATION_SUBJECT = re.compile(_REPLY_PREFIXES + r"(?:updated |new )?invitation(?: updated)?\s*:", re.IGNORECASE)
_CALENDAR_BODY = _rx(
    r"\bhas (?:accepted|declined|tentatively accepted) (?:this|your) (?:meeting|invitation|event)\b",
    r"\b(?:join|click here to join) (?:the|this) (?:meeting|microsoft teams meeting|zoom meeting)\b",
    r"\bmicrosoft teams meeting\b|\bjoin with google meet\b|\binvitation from google calendar\b",
    r"\bmeeting id:? ?\d|\bpasscode:|\bwhen:\s|\bwhere:\s|\b(?:this|the) (?:meeting|event) has been cancell?ed\b",
)
_EVENT_CONFIRMATION = _rx(
    r"\b(?:you(?:'re| are) (?:now )?registered|registration (?:is )?confirmed|thank(?:s| you) for registering"
    r"|your registration (?:for|is)|you(?:'re| are) (?:all )?set for|you(?:'re| are) in!|confirmation of your "
    r"registration|see you (?:at|on) the (?:webinar|event|session))\b",
)
_EVENT_WORD = _rx(r"\b(?:webinar|webcast|livestream|live stream|event|session|summit|conference|workshop|meetup"
                  r"|masterclass|virtual|on-demand|add to (?:your )?calendar)\b")
_LIST_FOOTER = _rx(
    r"\bview (?:this|it|the) (?:e-?mail|newsletter|message)? ?(?:in|on) (?:your|a|the) (?:web )?browser\b",
    r"\bhaving trouble (?:viewing|reading) this (?:e-?mail|message)\b",
    r"\byou(?:'re| are) receiving this (?:e-?mail|message|newsletter) because you\b",
    r"\b(?:manage|update|change) (?:your )?(?:e-?mail |subscription |communication |notification )?preferences\b",
    r"\bthis (?:e-?mail|message) was sent to \S{1,100} (?:by|because|from)\b",
    r"\bunsubscribe from (?:this|these|our|all) (?:list|e-?mails|newsletters?|mailings?|communications)\b",
    r"\bif you (?:no longer )?(?:wish|want|would like) (?:not )?to (?:receive|get) (?:these|our|this|future) "
    r"(?:e-?mails|messages|newsletters?|updates|communications)\b",
)
_GIFT_CARD = _rx(r"\bgift ?cards?\b|\b(?:itunes|google play|amazon|steam|apple|visa) (?:gift )?cards?\b")
_GIFT_CARD_ASK = _rx(
    r"\b(?:buy|purchase|get|pick up|grab)\b.{0,60}\bcards?\b",
    r"\b(?:scratch|the codes?|pin codes?|redemption codes?|reimburse|discreet|surprise (?:for )?(?:the )?staff"
    r"|are you available|quick (?:favou?r|task)|i'?m in a meeting|claim your|you(?:'ve| have) (?:been selected|won))\b",
)
# A person reporting or asking about a suspicious mail: a security ticket, whatever the mail says.
_REPORTING = _rx(
    r"\bis (?:this|it|that) (?:legit(?:imate)?|real|safe|genuine|spam|phishing|a scam|ok to (?:open|click))\b",
    r"\b(?:says|claims) (?:it'?s|it is|to be) from\b|\basking (?:me|us|staff) to\b|\bi (?:got|received) (?:this|an?)\b",
)
# Words of a person worried about a mail (not used against newsletters, which write about phishing themselves).
_WORRIED = _rx(r"\b(?:phishing|scam|suspicious|fraud(?:ulent)?|spoof(?:ed|ing)?|hacked|compromised|legit)\b")
# What a one-line "ok" reply is made of: "Great, cheers", "Got it, thanks. Kind regards, Omar", "\U0001f44d".
_CLOSER_PHRASES = frozenset(
    tuple(phrase.split())
    for phrase in (
        "ok", "okay", "okie", "k", "kk", "thanks", "thank", "thank you", "thanks again", "thanks so much",
        "thank you so much", "thanks a lot", "thanks very much", "thank you very much", "thank you again",
        "many thanks", "thanks heaps", "thx", "tx", "ty", "tyvm", "cheers", "great", "perfect", "awesome", "cool",
        "nice", "brilliant", "lovely", "excellent", "super", "wonderful", "fantastic", "got it", "noted",
        "will do", "received", "all good", "sounds good", "much appreciated", "appreciated", "works now",
        "working now", "it works", "that worked", "all sorted", "sorted", "that's great", "thats great",
        "kind regards", "regards", "best regards", "best", "danke", "vielen dank", "merci", "gracias", "bedankt",
    )
)
_CLOSER_SUBJECT = re.compile(r"^(?:ok(?:ay)?|thanks?|thank you|thx|\W*)$", re.IGNORECASE)
_CLOSER_WORDS = re.compile(r"[\w']+")
_MOBILE_LINE = re.compile(r"^\s*(?:sent from my|get outlook for|von meinem)\b", re.IGNORECASE)
_QUOTE_START = re.compile(r"^\s*(?:>|-{2,}\s*(?:original|forwarded)|_{5,}|from\s*:|on .{0,200} wrote\s*:)",
                          re.IGNORECASE)

_NDR_SUBJECT = re.compile(
    _REPLY_PREFIXES
    + r"(?:(?:undeliverable|undelivered|unzustellbar|nicht zustellbar|non remis|no se puede entregar|onbestelbaar"
    r"|non recapitabile|mail delivery failed|delivery failure|returned mail|message not delivered"
    r"|delivery status notification)\s*(?:\((?:failure|delay)\))?\s*:"
    r"|delivery status notification \((?:failure|delay)\)\s*$|undelivered mail returned to sender\s*$"
    r"|failure notice\s*$|mail delivery (?:failed|failure)\b.*returning message to sender)",
    re.IGNORECASE,
)
_NDR_PHRASES = _rx(
    r"\bdelivery has failed to these recipients\b",
    r"\bmail delivery subsystem\b",
    r"\bdelivery status notification\b",
    r"\bthis message was created automatically by mail delivery software\b",
    r"\bcould not be delivered to one or more (?:of its )?recipients\b",
    r"\bremote server returned '?5\d\d\b",
    r"\b5\.\d\.\d{1,3} (?:user unknown|recipient ?not ?found|resolver\.adr)",
)
_BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon)@", re.IGNORECASE)

_SPAM_CUES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\bunsubscribe\b|\bopt[- ]out\b",
        r"\blimited(?:[- ]time)? offer\b|\bact now\b|\bspecial promotion\b|\bexclusive deal\b",
        r"\b(?:first page|ranking) (?:of |on )?google\b|\bseo (?:specialist|services|expert|audit)\b|\bbacklinks\b",
        r"\bfree (?:audit|trial|quote|consultation)\b|\breply (?:\"?yes\"?|\"?interested\"?)\b",
        r"\b(?:e-?mail|contacts?|leads?) list of\b|\bverified contacts\b",
        r"\bdecision makers\b|\bcounts and pricing\b",
        r"\bkindly remit\b|\bremit payment\b|\boverdue invoice\b",
        r"\bavoid (?:service )?(?:interruption|suspension)\b"
        r"|\bwill be (?:suspended|deactivated|terminated) (?:today|within)\b",
        r"\bview (?:the )?document:?\s*https?://",
        r"\bkeep (?:using )?(?:the )?same password\b|\bpassword (?:for \S+ )?(?:expires|will expire) today\b",
        r"\bclick (?:below|here) to (?:keep|verify|confirm|validate|unlock)\b",
        r"\b(?:you have|you've) won\b|\blottery\b|\bcasino\b|\bviagra\b|\bbitcoin\b|\bcrypto ?currency\b",
        r"\bwire transfer\b|\binvestment opportunity\b",
        r"\bbusiness proposal\b|\bguest post\b|\bdear friend\b",
    )
)

_WEAK_HEADERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("auto-submitted", re.compile(r"^\s*auto-(?:generated|notified)", re.IGNORECASE)),
    ("x-auto-response-suppress", re.compile(r"\S")),
    ("precedence", re.compile(r"^\s*(?:bulk|list|junk)\b", re.IGNORECASE)),
    ("list-unsubscribe", re.compile(r"\S")),
)
_EMPTY_SUBJECT = re.compile(
    r"^\s*(?:(?:re|aw|fw|fwd|wg)\s*:\s*)*(?:\(?no subject\)?|untitled|none|-)?\s*$", re.IGNORECASE
)
_WORD = re.compile(r"\w{2,}")
# PSA ticket sources where a person entered the ticket (ConnectWise, Autotask and Halo source names).
_PERSON_SOURCE = _rx(
    r"\b(?:phone|call|walk[- ]?in|in person|voice ?mail|chat|portal|web ?form|self[- ]service|teams)\b")


def detect_noise(ticket: Ticket) -> Noise | None:
    """The noise kind of a ticket, or None for a ticket worth classifying."""
    headers = {k.lower(): v[:MAX_SUBJECT_CHARS] for k, v in ticket.headers.items()}
    subject = ticket.summary[:MAX_SUBJECT_CHARS].strip()
    body = _head_and_tail(ticket.description)
    text = f"{subject}\n{body}"
    if not _WORD.search(body) and _EMPTY_SUBJECT.match(subject):
        return Noise(EMPTY, "no subject and no text")
    if _PERSON_SOURCE.search(ticket.source[:100]):
        return None  # typed by a person or taken on the phone: no mail system wrote it
    forwarded = bool(_FORWARDED.match(subject))
    weak = _weak_header(headers)
    asking = bool(_ASKING.search(body))
    return (
        _delivery_failure(ticket.contact_email, subject, body, headers, forwarded, weak, asking)
        or _read_receipt(subject, body, headers, forwarded, asking)
        or _auto_reply(subject, body, headers, forwarded, weak, asking)
        or _machine_mail(subject, body, text, forwarded, weak, asking)
        or _spam(text, forwarded, weak)
        or _closer(subject, body, forwarded)
    )


def _head_and_tail(body: str) -> str:
    if len(body) <= MAX_BODY_HEAD_CHARS + MAX_BODY_TAIL_CHARS:
        return body
    return f"{body[:MAX_BODY_HEAD_CHARS]}\n{body[-MAX_BODY_TAIL_CHARS:]}"


def _read_receipt(subject: str, body: str, headers: Mapping[str, str], forwarded: bool, asking: bool) -> Noise | None:
    if "disposition-notification" in headers.get("content-type", "").lower():
        return Noise(READ_RECEIPT, "header content-type disposition-notification")
    if forwarded or not _READ_SUBJECT.match(subject):
        return None
    if _READ_BODY.search(body) or (not asking and len(_WORD.findall(body[:2000])) < 60):
        return Noise(READ_RECEIPT, "read-receipt subject")
    return None


def _machine_mail(
    subject: str, body: str, text: str, forwarded: bool, weak: str | None, asking: bool
) -> Noise | None:
    """Calendar responses, event confirmations, newsletters, vendor acknowledgements: never a request."""
    if forwarded or _REPORTING.search(text):
        return None
    if _GIFT_CARD.search(text) and _GIFT_CARD_ASK.search(text) and not _WORRIED.search(text):
        return Noise(SPAM, "gift-card request")  # the scam asks ("can you buy ..."): asking does not protect it
    if asking:
        return None
    if _CALENDAR_SUBJECT.match(subject) and (_CALENDAR_BODY.search(body) or len(_WORD.findall(body[:2000])) < 40):
        return Noise(CALENDAR, "calendar response subject")
    if _INVITATION_SUBJECT.match(subject) and _CALENDAR_BODY.search(body):
        return Noise(CALENDAR, "calendar invitation")
    if _EVENT_CONFIRMATION.search(text) and _EVENT_WORD.search(text):
        return Noise(MARKETING, "event registration confirmation")
    if _LIST_FOOTER.search(body):
        return Noise(MARKETING, "list-mail footer")
    if weak == "header list-unsubscribe" and any(cue.search(text) for cue in _SPAM_CUES):
        return Noise(MARKETING, "list-unsubscribe header + marketing text")
    if _VENDOR_ACK.search(text) and (_CASE_NUMBER.search(text) or len(_VENDOR_ACK.findall(text)) >= 2):
        return Noise(AUTO_REPLY, "vendor acknowledgement")
    return None


def _closer(subject: str, body: str, forwarded: bool) -> Noise | None:
    """A reply whose own words are only "ok", "thanks" or an emoji (the quoted thread below it does not count)."""
    if forwarded or not (_REPLY_SUBJECT.match(subject) or _CLOSER_SUBJECT.match(subject)):
        return None
    own: list[str] = []
    for line in body[:4000].split("\n")[:40]:
        if _QUOTE_START.match(line[:300]) or _MOBILE_LINE.match(line[:300]):
            break
        if line.strip():
            own.append(line.strip())
    if not own:
        return None
    text = " ".join(own)[:300]
    words = _CLOSER_WORDS.findall(text)
    if len(words) > 10:
        return None
    tokens = [w.lower() for w in words]
    if words and words[-1][:1].isupper() and words[-1].isalpha() and len(words) > 1 and len(words[-1]) <= 12 \
            and tuple(tokens[-1:]) not in _CLOSER_PHRASES:
        tokens = tokens[:-1]  # "Thanks John", "Kind regards, Omar"
    return Noise(CLOSER, "one-word reply") if _only_closers(tokens) else None


def _only_closers(tokens: list[str]) -> bool:
    """Whether the words split into closer phrases ("got it" + "thanks"); no words (an emoji) counts too."""
    reachable = [True] + [False] * len(tokens)
    for i in range(len(tokens)):
        if reachable[i]:
            for size in (1, 2, 3, 4):
                if i + size <= len(tokens) and tuple(tokens[i : i + size]) in _CLOSER_PHRASES:
                    reachable[i + size] = True
    return reachable[-1]


def _weak_header(headers: Mapping[str, str]) -> str | None:
    for name, value in _WEAK_HEADERS:
        if name in headers and value.search(headers[name]):
            return f"header {name}"
    return None


def _delivery_failure(
    sender: str, subject: str, body: str, headers: Mapping[str, str], forwarded: bool, weak: str | None, asking: bool
) -> Noise | None:
    if _BOUNCE_SENDER.match(sender[:MAX_SUBJECT_CHARS].strip()):
        return Noise(DELIVERY_FAILURE, "bounce sender")
    if "x-failed-recipients" in headers:
        return Noise(DELIVERY_FAILURE, "header x-failed-recipients")
    if forwarded:
        return None
    if _NDR_SUBJECT.match(subject) and (_NDR_PHRASES.search(body) or not asking):
        return Noise(DELIVERY_FAILURE, "bounce subject")
    if weak and _NDR_PHRASES.search(body):
        return Noise(DELIVERY_FAILURE, f"{weak} + bounce text")
    return None


def _auto_reply(
    subject: str, body: str, headers: Mapping[str, str], forwarded: bool, weak: str | None, asking: bool
) -> Noise | None:
    ooo_cues = len({m.group(0).lower() for m in _OOO_PHRASES.finditer(body)})
    kind = OUT_OF_OFFICE if ooo_cues else AUTO_REPLY
    if _strong_auto_header(headers):
        return Noise(kind, "auto-reply header")
    if forwarded:
        return None
    auto_phrase = bool(_AUTO_REPLY_PHRASES.search(body))
    text_cue = ooo_cues > 0 or auto_phrase
    if _AUTO_REPLY_SUBJECT.match(subject) and (text_cue or not asking):
        return Noise(kind, "auto-reply subject")
    if _HUMAN_TYPABLE_SUBJECT.match(subject) and not asking and (ooo_cues >= 2 or auto_phrase):
        return Noise(kind, "auto-reply subject + text")
    if asking:
        return None
    if ooo_cues >= 2 and (weak or auto_phrase or ooo_cues >= 3):
        return Noise(OUT_OF_OFFICE, "out-of-office text")
    if weak and text_cue:
        return Noise(kind, f"{weak} + auto-reply text")
    return None


def _strong_auto_header(headers: Mapping[str, str]) -> bool:
    if headers.get("auto-submitted", "").strip().lower().startswith("auto-replied"):
        return True
    if headers.get("precedence", "").strip().lower() in ("auto_reply", "auto-reply"):
        return True
    return any(
        name in headers and headers[name].strip().lower() not in ("", "no", "false", "0")
        for name in ("x-autoreply", "x-autorespond", "x-autoresponse")
    )


def _spam(text: str, forwarded: bool, weak: str | None) -> Noise | None:
    if forwarded:  # a person forwarding a suspicious mail is a (security) ticket
        return None
    cues = sum(1 for cue in _SPAM_CUES if cue.search(text)) + (1 if weak else 0)
    if cues >= 2:
        return Noise(SPAM, f"{cues} spam cues")
    return None
