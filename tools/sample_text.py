"""Ticket text for the synthetic sample data: the pools (``sample_data/*.yaml``), per-ticket placeholder
values, and the composition of user tickets (phrasing, the user's own noise, the channel), monitoring alerts
and noise mail. Used by ``gen_sample_data.py``; every name, address and secret in the pools is made up."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

POOLS = Path(__file__).resolve().parent / "sample_data"


def pools(name: str) -> tuple[Any, ...]:
    """The pools of ``sample_data/<name>.yaml``, in the order the file lists them."""
    return tuple(yaml.safe_load((POOLS / f"{name}.yaml").read_text(encoding="utf-8")).values())

# The pools (tools/sample_data/*.yaml): taxonomies per PSA; concept -> category maps per PSA ("Path>Sub>Item *w |
# 14:Path>Sub *w": alternatives with relative weights, optional "scope:" prefix, modelling how technicians file the
# same problem differently); the fake MSP's clients and people; phrasings per concept ({placeholders} filled per
# ticket), some borrowing another category's vocabulary; non-English phrasings; monitoring alerts; noise mail;
# and the wrapping around user text (greetings, signatures, asides, secrets pasted for the redaction tests).
(CW_SERVICE_DESK, CW_ALERTS, CW_INACTIVE, AUTOTASK, AUTOTASK_INACTIVE, HALO_INCIDENT, HALO_SERVICE_REQUEST,
 HALO_INACTIVE) = pools("taxonomy")
(CW_MAP, AT_MAP, HALO_MAP) = pools("labels")
(MSP_TECHS, FEMALE, MALE, LAST, FOREIGN_NAMES, DISCLAIMERS, COMPANIES, INDUSTRY_LIMITS, TITLES, CLIENT_NOUN,
 LOCAL_OFFICES) = pools("people")
(WEIGHTS, PHRASES, FOREIGN, FOREIGN_GREETING, FOREIGN_CLOSING, FOREIGN_MONTHS) = pools("phrases")
(ALERTS, SERVICES, PROCESSES, THREATS, BACKUP_ERRORS, EVENT_LOG, KBS, RMM_VENDORS) = pools("alerts")
(FOLDERS, VENDORS, EXT_DOMAINS, PASSWORDS, API_KEYS, WEEKDAYS, MONTHS, NOISE, EXTERNAL_BANNER, GREETINGS, CLOSINGS,
 CONTEXT_LINES, REQUEST_CONCEPTS, POLITE_OPENERS, POLITE_CLOSERS, CROSS_MENTIONS_ANY, SECRET_LINES, TECH_NOTES,
 FOLLOWUPS, REPLY_ANSWERS, GENERIC_SUMMARIES, PORTAL_URGENCY, TYPO_WORDS, MSP_QUOTE_CLOSURES, MSP_QUOTE_QUESTIONS,
 FORWARD_NOTES, CROSS_MENTIONS, SECRET_KIND) = pools("wrapping")
REQUEST_CONCEPTS = set(REQUEST_CONCEPTS)


MSP_NAME = "Bluecrest IT"
MSP_SUPPORT = "support@bluecrest-it.example.net"


@dataclass(frozen=True)
class Company:
    """A client of the MSP."""

    name: str
    industry: str
    domain: str
    prefix: str
    address: tuple[str, str]
    apps: tuple[str, ...]
    disclaimer: str
    printers: tuple[str, ...]
    sites: tuple[str, ...]
    langs: tuple[str, ...] = ()
    weight: int = 3


COMPANIES = [Company(**fields) for fields in COMPANIES]


def typo(rng: random.Random, text: str, rate: float) -> str:
    """Introduce a few realistic typos (word swaps, transpositions, dropped/doubled letters)."""

    def one(m: re.Match[str]) -> str:
        w = m.group(0)
        if rng.random() > rate or "{" in w:
            return w
        low = w.lower()
        if low in TYPO_WORDS and w.islower():
            return TYPO_WORDS[low]
        if len(w) < 4 or not w.isalpha():
            return w
        i = rng.randrange(1, len(w) - 2)
        kind = rng.randrange(3)
        if kind == 0:
            return w[:i] + w[i + 1] + w[i] + w[i + 2 :]
        if kind == 1:
            return w[:i] + w[i + 1 :]
        return w[:i] + w[i] + w[i:]

    return re.sub(r"[A-Za-z']+", one, text)


# =====================================================================================
# Per-ticket slot filling
# =====================================================================================


def _email_of(first: str, last: str, domain: str, style: int) -> str:
    f = re.sub(r"[^a-z]", "", first.lower().translate(str.maketrans("äöüéèêëçñíóôáàú", "aoueeeecniooaau")))
    l_ = re.sub(r"[^a-z]", "", last.lower().translate(str.maketrans("äöüéèêëçñíóôáàú", "aoueeeecniooaau")))
    return [f"{f}.{l_}", f"{f[0]}{l_}", f"{f}"][style] + "@" + domain


class Slots(dict[str, str]):
    """Lazily generated, per-ticket consistent values for the {placeholders}."""

    def __init__(self, rng: random.Random, company: Company, lang: str, when: datetime, psa: str) -> None:
        super().__init__()
        self.rng, self.company, self.when, self.psa, self.lang = rng, company, when, psa, lang
        if lang in FOREIGN_NAMES:
            fem, mal, lasts = FOREIGN_NAMES[lang]
            first = rng.choice(fem + mal)
            last = rng.choice(lasts)
        else:
            first, last = rng.choice(FEMALE + MALE), rng.choice(LAST)
        self.used = {first}
        style = rng.choice([0, 0, 1, 1, 2])
        self.update(
            first=first,
            last=last,
            full=f"{first} {last}",
            company=company.name,
            domain=company.domain,
            prefix=company.prefix,
            email=_email_of(first, last, company.domain, style),
        )

    def _person(self, pool: list[str]) -> str:
        rng = self.rng
        for _ in range(20):
            first = rng.choice(pool)
            if first not in self.used:
                break
        self.used.add(first)
        return f"{first} {rng.choice(LAST)}"

    def __missing__(self, key: str) -> str:
        value = self._make(key)
        self[key] = value
        return value

    def _make(self, key: str) -> str:
        maker = SLOT_MAKERS.get(key)
        if maker is None:
            raise KeyError(key)
        return maker(self)


def _pick(pool: list[Any]) -> Callable[[Slots], str]:
    return lambda s: str(s.rng.choice(pool))


def _number(low: int, high: int) -> Callable[[Slots], str]:
    return lambda s: str(s.rng.randint(low, high))


def _host(s: Slots) -> str:
    rng, p, n = s.rng, s.company.prefix, s.rng.randint(1, 160)
    desktop = "DESKTOP-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(7))
    return rng.choice([f"{p}-LT{n:03d}", f"{p}-WS-{n:02d}", f"{p}-PC{n:02d}", desktop, f"{p}-FRONT-{n % 6 + 1:02d}",
                       f"{p}-NB-{n:03d}"])


def _srv(s: Slots) -> str:
    role = s.rng.choice(["DC01", "FS01", "SQL01", "APP01", "RDS01", "HV01", "DC02", "FS02"])
    return s.rng.choice([f"{s.company.prefix}-{role}", f"SRV-{role}", f"{s.company.prefix}-SRV-{role}"])


def _date(key: str) -> Callable[[Slots], str]:
    def make(s: Slots) -> str:
        base = s.when + timedelta(days=s.rng.randint(2, 20) + (10 if key == "date2" else 0))
        if s.lang == "de":
            return f"{base.day}. {FOREIGN_MONTHS['de'][base.month - 1]}"
        if s.lang in ("es", "fr", "nl"):
            sep = " de " if s.lang == "es" else " "
            return f"{base.day}{sep}{FOREIGN_MONTHS[s.lang][base.month - 1]}"
        return f"{MONTHS[base.month - 1]} {base.day}"

    return make


def _time(s: Slots) -> str:
    clock = s.rng.choice(["9", "9:30", "10", "10:30", "11", "1", "1:30", "2", "3", "3:30", "4"])
    half = "am" if clock.split(":")[0] in ("9", "10", "11") else "pm"
    return clock + s.rng.choice([half, " " + half, "", "" if ":" in clock else ":00"])


def _phone(s: Slots) -> str:
    rng = s.rng
    num = f"555-01{rng.randint(0, 99):02d}"
    return rng.choice([f"+1 {num}", f"+1 {num}", num, f"+1 {num} ext {rng.randint(101, 299)}", f"(+1) {num}"])


def _event(key: str) -> Callable[[Slots], str]:
    def make(s: Slots) -> str:
        src, eid, msg = s.rng.choice(EVENT_LOG)
        s.update(evsrc=src, eventid=eid, evmsg=msg)
        return s[key]

    return make


#: Alerts that come from a workstation as often as from a server.
HOST_ALERTS = ("alert_disk", "alert_cpu", "alert_memory", "alert_offline", "alert_agent_offline", "alert_patch",
               "alert_reboot")
JOBS = ["Nightly-SQL", "Nightly-FileServer", "DC Daily", "Offsite Copy", "M365 Mailboxes", "{prefix} Servers",
        "Hourly-Incremental"]
#: How each {placeholder} is made (once per ticket; the order of random draws is part of the seeded output).
SLOT_MAKERS: dict[str, Callable[[Slots], str]] = {
    **dict.fromkeys(["colleague", "mgr", "newhire"], lambda s: s._person(FEMALE + MALE)),
    **dict.fromkeys(["colleague_f", "newhire_f"], lambda s: s._person(FEMALE)),
    "colleague_m": lambda s: s._person(MALE),
    "tech_first": lambda s: s.rng.choice(MSP_TECHS).split()[0],
    "newlast": _pick(LAST),
    "title": lambda s: s.rng.choice(TITLES[s.company.industry]),
    "clients": lambda s: CLIENT_NOUN[s.company.industry],
    "host": _host,
    "srv": _srv,
    "ip": lambda s: s.rng.choice([f"192.0.2.{s.rng.randint(2, 250)}", f"198.51.100.{s.rng.randint(2, 250)}"]),
    "ext_ip": lambda s: f"203.0.113.{s.rng.randint(2, 250)}",
    "printer": lambda s: s.rng.choice(s.company.printers),
    "app": lambda s: s.rng.choice(s.company.apps),
    "day": _pick(WEEKDAYS),
    "date": _date("date"),
    "date2": _date("date2"),
    "time": _time,
    "site": lambda s: s.rng.choice(s.company.sites),
    "folder": _pick(FOLDERS),
    "ext": _number(101, 299),
    "phone": _phone,
    "ext_domain": _pick(EXT_DOMAINS),
    "ext_email": lambda s: _email_of(s.rng.choice(FEMALE + MALE), s.rng.choice(LAST), s["ext_domain"],
                                     s.rng.randrange(3)),
    "vendor": _pick(VENDORS),
    "pw": _pick(PASSWORDS),
    "apikey": _pick(API_KEYS),
    "ref": lambda s: ticket_ref(s.rng, s.psa, s.when),
    "disclaimer": lambda s: s.company.disclaimer,
    # monitoring values
    "drive": _pick(["C:", "C:", "D:", "E:"]),
    "pct": _number(2, 9),
    "thr": _pick(["10", "10", "15"]),
    "used": lambda s: str(100 - int(s["pct"])),
    "uthr": _pick(["90", "85"]),
    "total_gb": _pick(["119", "237", "476", "931", "1862"]),
    "free_gb": lambda s: f"{int(s['total_gb']) * int(s['pct']) / 100:.1f}",
    "cpu": _number(95, 100),
    "mem": _number(92, 99),
    "mins": _pick([5, 10, 15, 15, 20, 30, 45]),
    "hhmm": lambda s: f"{s.rng.randint(0, 23):02d}:{s.rng.randint(0, 59):02d}",
    "proc": _pick(PROCESSES),
    "svc": _pick(SERVICES),
    "job": lambda s: s.rng.choice(JOBS).format(prefix=s.company.prefix),
    "berr": _pick(BACKUP_ERRORS),
    "hours": _pick([26, 30, 48, 52, 72]),
    "threat": _pick(THREATS),
    "user": lambda s: re.sub(r"[^a-z.]", "", s["email"].split("@")[0]),
    "file": _pick(["invoice_0231.pdf.exe", "setup_x64.exe", "update.js", "mimi.exe", "AnyDesk.exe"]),
    "count": _number(6, 240),
    "npatch": _number(1, 14),
    "kb": _pick(KBS),
    "days": _pick([3, 5, 7, 9, 14, 21]),
    "ups": _pick(["APC Smart-UPS 1500", "UPS-SRVRM-01", "Eaton 5PX 2200"]),
    "cap": _number(40, 99),
    "temp": _number(43, 51),
    "url": lambda s: s.rng.choice(["www." + s.company.domain, "portal." + s.company.domain,
                                   "mail." + s.company.domain]),
    **{key: _event(key) for key in ("eventid", "evsrc", "evmsg")},
}


def fill(template: str, slots: Slots) -> str:
    return template.format_map(slots)


def ticket_ref(rng: random.Random, psa: str, when: datetime) -> str:
    back = when - timedelta(days=rng.randint(1, 40))
    if psa == "connectwise":
        return f"Ticket #{rng.randint(410000, 499999)}"
    if psa == "autotask":
        return f"[Ticket#T{back:%Y%m%d}.{rng.randint(1, 140):04d}]"
    return f"[#{rng.randint(30000, 48000):07d}]"


def outlook_date(d: datetime) -> str:
    hour = d.hour % 12 or 12
    return f"{d:%A}, {MONTHS[d.month - 1]} {d.day}, {d.year} {hour}:{d:%M} {'AM' if d.hour < 12 else 'PM'}"


def short_date(d: datetime) -> str:
    hour = d.hour % 12 or 12
    return f"{d:%a}, {d:%b} {d.day}, {d.year} at {hour}:{d:%M} {'AM' if d.hour < 12 else 'PM'}"


def signature(rng: random.Random, s: Slots) -> str:
    c = s.company
    full = rng.random() < 0.55
    lines = [s["full"]]
    office = LOCAL_OFFICES.get(c.prefix, {}).get(s.lang)
    name, address = (office[0], office[1:]) if office else (c.name, c.address)
    if full:
        lines.append(rng.choice([f"{s['title']} | {name}", s["title"], f"{s['title']}\n{name}"]))
        if rng.random() < 0.6:
            lines.extend(address)
        lines.append(
            rng.choice(
                [
                    f"P: {s['phone']}",
                    f"Direct: {s['phone']}",
                    f"Tel {s['phone']}",
                    f"Office: {s['phone']} | Fax: +1 555-01{rng.randint(0, 99):02d}",
                ]
            )
        )
        if rng.random() < 0.4:
            lines.append(rng.choice([f"www.{c.domain}", s["email"]]))
        if rng.random() < 0.2:
            lines.append(f"[cid:image00{rng.randint(1, 4)}.png@01DC{rng.randint(1000, 9999)}.5E2A7B30]")
    elif rng.random() < 0.3:
        lines = [s["first"]]
    return "\n".join(lines)


def pick_company(rng: random.Random, concept: str, lang: str) -> Company:
    pool = COMPANIES
    if concept in INDUSTRY_LIMITS:
        pool = [c for c in pool if c.industry in INDUSTRY_LIMITS[concept]]
    if lang != "en":
        pool = [c for c in COMPANIES if lang in c.langs]
    return rng.choices(pool, weights=[c.weight for c in pool])[0]


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if p.strip() and p.strip() not in ("Hi,", "Hello,", "Thanks", "Thanks,")]


def _quote(text: str, prefix: str = "> ") -> str:
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


def email_text(rng: random.Random, s: Slots, core: str, lang: str) -> str:
    parts: list[str] = []
    if lang == "en":
        if rng.random() < 0.65 and not core.startswith(("Hi", "Hello", "Good")):
            parts.append(fill(rng.choice(GREETINGS), s))
    elif not core.startswith(tuple(FOREIGN_GREETING[lang])) and rng.random() < 0.5:
        parts.append(rng.choice(FOREIGN_GREETING[lang]))
    if lang == "en" and rng.random() < 0.15 and len(core) < 400 and core[:1].isupper():
        core = rng.choice(POLITE_OPENERS) + " " + core + "\n\n" + rng.choice(POLITE_CLOSERS)
    parts.append(core)
    r = rng.random()
    closing = rng.choice(CLOSINGS) if lang == "en" else rng.choice(FOREIGN_CLOSING[lang])
    if r < 0.55:
        parts.append(closing + "\n" + signature(rng, s))
    elif r < 0.75:
        parts.append(closing + "\n" + s["first"])
    elif r < 0.85:
        parts.append(s["first"])
    if rng.random() < 0.1:
        parts.append(
            rng.choice(
                ["Sent from my iPhone", "Get Outlook for Android", "Sent from my Galaxy", "Sent from Mail for Windows"]
            )
        )
    disclaimer_p = 0.75 if s.company.industry in ("law", "accounting") else 0.35
    if rng.random() < disclaimer_p:
        parts.append(rng.choice(["", "________________________________\n", "--\n"]) + s.company.disclaimer)
    return "\n\n".join(parts)


def wrap_thread(
    rng: random.Random, psa: str, s: Slots, summary: str, text: str, core: str, when: datetime
) -> tuple[str, str]:
    kind = rng.choices(["reopen", "forward", "reply"], weights=[4, 3, 3])[0]
    back = (when - timedelta(days=rng.randint(1, 12))).replace(hour=rng.randint(7, 17), minute=rng.randrange(60))
    if back.weekday() >= 5:
        back -= timedelta(days=back.weekday() - 4)
    tech = rng.choice(MSP_TECHS)
    ref = s["ref"]
    if kind == "reopen":
        new_summary = rng.choice([f"RE: {ref} {summary}", f"RE: {summary} {ref}", f"Re: {ref} - {summary} [Closed]"])
        msp = f"Hi {s['first']},\n\n{rng.choice(MSP_QUOTE_CLOSURES)}\n\n{tech}\n{MSP_NAME} | Service Desk\n+1 555-0100"
        if rng.random() < 0.5:
            quoted = (
                f"-----Original Message-----\nFrom: {MSP_NAME} Support <{MSP_SUPPORT}>\n"
                f"Sent: {outlook_date(back)}\nTo: {s['full']} <{s['email']}>\nSubject: {ref} {summary}\n\n{msp}"
            )
        else:
            quoted = f"On {short_date(back)} {MSP_NAME} Support <{MSP_SUPPORT}> wrote:\n{_quote(msp)}"
        return new_summary, f"{rng.choice(FOLLOWUPS)}\n\n{text}\n\n{quoted}"
    if kind == "forward":
        orig_full, orig_email = s["full"], s["email"]
        mgr = s["mgr"]
        mfirst, mlast = mgr.split(" ", 1)
        mgr_email = _email_of(mfirst, mlast, s.company.domain, 0)
        note = fill(rng.choice(FORWARD_NOTES), s)
        if "tech_first" in s:
            text = text.replace(f"Hi {s['tech_first']},", f"Hi {mfirst},")
        if rng.random() < 0.5:
            header = (
                f"---------- Forwarded message ---------\nFrom: {orig_full} <{orig_email}>\n"
                f"Date: {short_date(back)}\nSubject: {summary}\nTo: {mgr} <{mgr_email}>"
            )
        else:
            header = (
                f"________________________________\nFrom: {orig_full} <{orig_email}>\n"
                f"Sent: {outlook_date(back)}\nTo: {mgr} <{mgr_email}>\nSubject: {summary}"
            )
        body = f"{note}\n\n{mfirst}\n\n{header}\n\n{text}"
        return rng.choice(["FW: ", "Fwd: ", "FW: "]) + summary, body
    question = rng.choice(MSP_QUOTE_QUESTIONS)
    answer = fill(rng.choice(REPLY_ANSWERS), s)
    quoted = (
        f"On {short_date(back + timedelta(hours=2))} {tech} <{MSP_SUPPORT}> wrote:\n"
        f"> Hi {s['first']},\n>\n{_quote(question)}\n>\n> {tech}\n> {MSP_NAME}\n>\n"
        f"> On {short_date(back)}, {s['full']} <{s['email']}> wrote:\n{_quote(core, '> > ')}"
    )
    return "RE: " + summary, f"{answer}\n\n{s['first']}\n\n{quoted}"


def _user_core(rng: random.Random, concept: str, lang: str, body: str, s: Slots) -> str:
    """The user's own text: the phrasing plus the asides, pasted secrets, typos and lowercase rants users add."""
    extras: list[str] = []
    if lang == "en":
        groups = CONTEXT_LINES[2:] if concept in REQUEST_CONCEPTS else CONTEXT_LINES
        for group in rng.sample(groups, 2):
            if rng.random() < 0.35:
                extras.append(fill(rng.choice(group), s))
        if rng.random() < 0.2:
            extras.append(rng.choice(CROSS_MENTIONS_ANY if concept in REQUEST_CONCEPTS else CROSS_MENTIONS))
    if rng.random() < 0.03:
        kind = SECRET_KIND.get(concept, "any") if rng.random() < 0.6 else "any"
        extras.append(fill(rng.choice(SECRET_LINES[kind]), s))
    core = body
    if extras:
        sep = rng.choice([" ", " ", "\n\n"])
        if "\n\n" in body and sep == " ":
            sep = "\n\n"
        core = body + sep + " ".join(dict.fromkeys(extras))
    if lang == "en":
        if rng.random() < 0.3:
            core = typo(rng, core, 0.04)
        if rng.random() < 0.08 and len(core) < 260:
            core = core.lower().rstrip(".")
    return core


def _via_email(rng: random.Random, c: UserContext, summary: str, core: str) -> tuple[str, str]:
    details = email_text(rng, c.slots, core, c.lang)
    if rng.random() < 0.16:
        summary, details = wrap_thread(rng, c.psa, c.slots, summary, details, core, c.when)
    elif rng.random() < 0.1:
        details = EXTERNAL_BANNER + "\n\n" + details
        summary = "[EXTERNAL] " + summary
    return summary, details


def _via_portal(rng: random.Random, c: UserContext, summary: str, core: str) -> tuple[str, str]:
    s, company = c.slots, c.slots.company
    r = rng.random()
    if r < 0.45:
        fields = [f"Contact: {s['full']}", f"Email: {s['email']}", f"Phone: {s['phone']}", f"Company: {company.name}"]
        if rng.random() < 0.6:
            fields.append(f"Affected device: {s['host']}")
        urgency = PORTAL_URGENCY[:2] if c.concept in REQUEST_CONCEPTS else PORTAL_URGENCY
        fields.append(f"Urgency: {rng.choice(urgency)}")
        return summary, "\n".join(fields) + "\n\nDescription:\n" + core
    if r < 0.7:
        return summary, f"Submitted via Client Portal by {s['full']} ({company.name})\n\n{core}"
    return summary, core


def _via_phone(rng: random.Random, c: UserContext, summary: str, core: str) -> tuple[str, str]:
    s, company = c.slots, c.slots.company
    tech = rng.choice(MSP_TECHS)
    note = fill(rng.choice(TECH_NOTES), s)
    r = rng.random()
    if r < 0.4:
        details = (f"Caller: {s['full']} ({company.name})\nCallback: {s['phone']}\nIssue: {core}\n\n"
                   f"Notes: {note}").rstrip()
    elif r < 0.75:
        details = f'{s["first"]} called in from {company.name}, callback {s["phone"]}.\nUser says: "{core}"'
        if note:
            details += f"\n{note} -{tech.split()[0][0]}{tech.split()[1][0]}"
    else:
        details = f"Call from {s['full']}: {core}"
    if rng.random() < 0.4:
        summary = rng.choice([f"{s['first']} - {summary}", f"{summary} (phone)", f"Call: {summary}"])
    return summary, details


def _via_chat(rng: random.Random, c: UserContext, summary: str, core: str) -> tuple[str, str]:
    s = c.slots
    sentences = _sentences(core) or [core]
    t = c.when
    lines = [f"[{t:%H:%M}] {s['full']}: hi" if rng.random() < 0.5 else ""]
    for i, sent in enumerate(sentences):
        lines.append(f"[{t:%H:%M}] {s['full']}: {sent}")
        if i == 0:
            lines.append(f"[{t:%H:%M}] {MSP_NAME} Bot: Thanks! A technician will be with you shortly. "
                         "Please describe the issue.")
            t += timedelta(minutes=1)
    details = "\n".join(line for line in lines if line)
    if rng.random() < 0.5:
        summary = "Chat: " + (sentences[0][:60] + ("..." if len(sentences[0]) > 60 else ""))
    return summary, details


def _subject_noise(rng: random.Random, summary: str, lang: str) -> str:
    if lang != "en" or summary.startswith(("RE:", "Re:", "FW", "Chat:")):
        return summary
    r = rng.random()
    if r < 0.07:
        return str(rng.choice(GENERIC_SUMMARIES))
    if r < 0.12:
        return rng.choice(["URGENT - ", "Urgent: ", "ASAP: ", ""]) + summary + rng.choice(["", " !!!", "!!"])
    if r < 0.22:
        return summary.lower()
    if r < 0.3:
        return typo(rng, summary, 0.25)
    return summary


@dataclass(frozen=True)
class UserContext:
    """What the channel renderers of one user ticket share."""

    psa: str
    concept: str
    lang: str
    when: datetime
    slots: Slots


CHANNELS = {"email": _via_email, "portal": _via_portal, "phone": _via_phone, "chat": _via_chat}


def compose_user(rng: random.Random, psa: str, concept: str, when: datetime, lang: str) -> dict[str, Any]:
    """A ticket a person wrote: a phrasing, the user's own noise, then the channel it came through."""
    s = Slots(rng, pick_company(rng, concept, lang), lang, when, psa)
    if lang != "en":
        _, summary_t, body_t = rng.choice([f for f in FOREIGN[concept] if f[0] == lang])
    else:
        summary_t, body_t = rng.choice(PHRASES[concept])
    summary, body = fill(summary_t, s), fill(body_t, s)
    core = _user_core(rng, concept, lang, body, s)
    weights = [55, 20, 15, 10] if lang == "en" else [80, 20, 0, 0]
    source = rng.choices(["email", "portal", "phone", "chat"], weights=weights)[0]
    summary, details = CHANNELS[source](rng, UserContext(psa, concept, lang, when, s), summary, core)
    return {"summary": _subject_noise(rng, summary, lang), "details": details, "source": source, "lang": lang}


def compose_alert(rng: random.Random, psa: str, concept: str, when: datetime) -> dict[str, Any]:
    """A monitoring alert in one of the RMM vendors' formats."""
    company = pick_company(rng, concept, "en")
    s = Slots(rng, company, "en", when, psa)
    if concept in HOST_ALERTS and rng.random() < 0.35:
        s["srv"] = s["host"]
    if concept == "alert_av":
        s["srv"] = s["host"]
    a = ALERTS[concept]
    ts = when - timedelta(minutes=rng.randint(1, 4))
    if a["special"] and rng.random() < 0.4:
        summary_t, body_t = rng.choice(a["special"])
        summary, details = fill(summary_t, s), fill(body_t, s)
    else:
        title = fill(rng.choice(a["titles"]), s)
        desc = fill(rng.choice(a["descs"]), s)
        check = fill(rng.choice(a["check"]), s)
        vendor = rng.choice(RMM_VENDORS)
        prio = rng.choice(["Critical", "High", "Moderate", "High"])
        if vendor == "datto":
            summary = rng.choice([f"ALERT: {title}", f"[Datto RMM] {s['srv']} - {title}", f"Alert: {title}"])
            details = (
                f"Datto RMM Alert\n\nSite: {company.name}\nDevice: {s['srv']}\nMonitor: {check}\n"
                f"Priority: {prio}\nDescription: {desc}\nAlert time: {ts:%Y-%m-%d %H:%M:%S} UTC\n\n"
                f"View device: https://rmm.example.net/device/{rng.randint(100000, 999999)}\n\n"
                "This alert was generated automatically. Do not reply to this email."
            )
        elif vendor == "ninja":
            summary = rng.choice([f"{s['srv']} | {title}", f"NinjaOne: {title}", f"Condition triggered: {title}"])
            kind = "Servers" if re.search(r"DC|FS|SQL|APP|RDS|HV|SRV", s["srv"]) else "Workstations"
            details = (
                f"Organization: {company.name}\nLocation: {fill('{site}', s)}\n"
                f"Device: {s['srv']} ({s['ip']})\nCondition: {check}\nSeverity: {prio}\n"
                f"Triggered: {ts:%m/%d/%Y %I:%M %p}\n\n{desc}\n\nPolicy: {company.prefix} - "
                f"{rng.choice([kind, kind, 'Default'])}"
            )
        elif vendor == "nable":
            summary = f"FAILED - {company.name} - {s['srv']} - {check}"
            details = (
                f"N-sight RMM Alert\n\nCheck: {check}\nStatus: FAILED\nClient: {company.name}\n"
                f"Site: {fill('{site}', s)}\nDevice: {s['srv']}\nExtra: {desc}\n\nThis check has failed "
                f"{rng.randint(1, 4)} consecutive time(s)."
            )
        else:
            summary = f"{company.name} - {s['srv']} - {title}"
            details = (
                f"Monitor: {check}\nComputer: {company.prefix}\\{s['srv']}\nClient: {company.name}\n"
                f"Result: FAILED\n{desc}\n\n-- RMM Automate"
            )
    return {"summary": summary, "details": details, "source": "rmm", "lang": "en"}


def compose_noise(rng: random.Random, psa: str, kind: str, when: datetime) -> dict[str, Any]:
    company = pick_company(rng, "misc", "en")
    s = Slots(rng, company, "en", when, psa)
    orig_concept = rng.choice([c for c in PHRASES if WEIGHTS[c] >= 5])
    orig = fill(rng.choice(PHRASES[orig_concept])[0], s)
    s["orig"] = orig
    summary_t, body_t = rng.choice(NOISE[kind])
    source = "email"
    return {
        "summary": fill(summary_t, s).replace("  ", " "),
        "details": fill(body_t, s),
        "category": None,
        "source": source,
        "lang": "en",
        "noise": kind,
    }
