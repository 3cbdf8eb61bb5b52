#!/usr/bin/env python3
"""Generate the synthetic sample data bundled under ``libs/autotriage/sandbox/data/``.

Everything written by this script is SYNTHETIC: every person, company, host name, address,
phone number, password and key below is made up. The tickets are composed from a large
hand-written pool of phrasings per concept (several distinct phrasings each, written in the voice
of end users, office managers, technicians and monitoring systems), wrapped in realistic noise:
greetings, e-mail signatures, confidentiality disclaimers, forwarded/quoted threads, phone-call
notes, portal forms, chat transcripts, typos, lowercase rants and RMM alert formats. A share of
the labels is deliberately inconsistent (as with real technicians) so that a text classifier
cannot be perfect.

Output, per PSA (``halo``, ``connectwise``, ``autotask``):

* ``taxonomy.json``  - PSA-neutral taxonomy: ``{"scopes": [{"id", "name", "paths", "inactive_paths"}]}``
* ``history.jsonl``  - labelled historical tickets
* ``new.jsonl``      - 40 new tickets (labelled, plus a few noise tickets with ``category: null``)

Stdlib only and deterministic (fixed seeds): running it twice produces identical files.

    python3 tools/gen_sample_data.py            # (re)write the data
    python3 tools/gen_sample_data.py --check    # also report a TF-IDF + LogisticRegression
                                                # hold-out accuracy (needs scikit-learn)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "libs" / "autotriage" / "sandbox" / "data"

HISTORY_COUNT = {"halo": 1300, "connectwise": 2200, "autotask": 1300}
NEW_COUNT = 40
NOISE_KINDS = ("auto_reply", "out_of_office", "delivery_failure", "spam")
SEEDS = {"halo": 1103, "connectwise": 2207, "autotask": 3301}
POOLS = Path(__file__).resolve().parent / "sample_data"


def pools(name: str) -> tuple[Any, ...]:
    """The pools of ``sample_data/<name>.yaml``, in the order the file lists them."""
    return tuple(yaml.safe_load((POOLS / f"{name}.yaml").read_text(encoding="utf-8")).values())

# =====================================================================================
# Taxonomies
# =====================================================================================

# ConnectWise: board -> type -> subType -> [items]. Every (type, subType) and every
# (type, subType, item) is an active combination.
(CW_SERVICE_DESK, CW_ALERTS, CW_INACTIVE, AUTOTASK, AUTOTASK_INACTIVE, HALO_INCIDENT, HALO_SERVICE_REQUEST, HALO_INACTIVE) = pools("taxonomy")

AUTOTASK_QUEUE = 29682833



def _cw_paths(board: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    paths: list[list[str]] = []
    for typ, subs in board.items():
        for sub, items in subs.items():
            paths.append([typ, sub])
            paths.extend([typ, sub, item] for item in items)
    return paths


def build_taxonomies() -> dict[str, dict[str, Any]]:
    at_paths = [[t, s] for t, subs in AUTOTASK.items() for s in subs]
    return {
        "connectwise": {
            "scopes": [
                {
                    "id": 12,
                    "name": "Service Desk",
                    "paths": _cw_paths(CW_SERVICE_DESK),
                    "inactive_paths": CW_INACTIVE[12],
                },
                {"id": 14, "name": "Alerts", "paths": _cw_paths(CW_ALERTS), "inactive_paths": CW_INACTIVE[14]},
            ]
        },
        "autotask": {
            "scopes": [
                {"id": AUTOTASK_QUEUE, "name": "Tier 1 Queue", "paths": at_paths, "inactive_paths": AUTOTASK_INACTIVE},
            ]
        },
        "halo": {
            "scopes": [
                {
                    "id": 1,
                    "name": "Incident",
                    "paths": [p.split(">") for p in HALO_INCIDENT],
                    "inactive_paths": [p.split(">") for p in HALO_INACTIVE[1]],
                },
                {
                    "id": 3,
                    "name": "Service Request",
                    "paths": [p.split(">") for p in HALO_SERVICE_REQUEST],
                    "inactive_paths": [p.split(">") for p in HALO_INACTIVE[3]],
                },
            ]
        },
    }


DEFAULT_SCOPE = {"connectwise": 12, "autotask": AUTOTASK_QUEUE, "halo": 1}

# =====================================================================================
# Concept -> category mappings, per PSA.
#
# "Path>Sub>Item *w | 14:Path>Sub *w": alternatives with relative weights (default 1), optional
# "scope:" prefix (default scope above). Alternatives model the way real technicians file the
# same kind of problem under different categories.
# =====================================================================================

(CW_MAP, AT_MAP, HALO_MAP) = pools("labels")



MAPS = {"connectwise": CW_MAP, "autotask": AT_MAP, "halo": HALO_MAP}
# The first alternative is what a careful reviewer would pick. Historical tickets were filed by busy
# technicians: the other alternatives are used with their weight scaled by HISTORY_ALT_SCALE, and ConnectWise
# technicians sometimes stop at (type, subType) without picking an item. new.jsonl is the reviewed "gold"
# set for the demo's accuracy figure, so it is much closer to the first alternative.
HISTORY_ALT_SCALE = 0.4
NEW_ALT_SCALE = 0.1
CW_DROP_ITEM_P = {"history": 0.05, "new": 0.02}

# =====================================================================================
# The (fake) world: the MSP, its clients, people
# =====================================================================================

MSP_NAME = "Bluecrest IT"
MSP_SUPPORT = "support@bluecrest-it.example.net"
(MSP_TECHS, FEMALE, MALE, LAST, FOREIGN_NAMES, DISCLAIMERS, COMPANIES, INDUSTRY_LIMITS, TITLES, CLIENT_NOUN, LOCAL_OFFICES) = pools("people")



@dataclass(frozen=True)
class Company:
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




# Which client industries a concept can come from (default: any).

# What the people a client serves are called (used as {clients} in phrasings).
# Local offices of the clients whose staff write in other languages.
(FOLDERS, VENDORS, EXT_DOMAINS, PASSWORDS, API_KEYS, WEEKDAYS, MONTHS, NOISE, EXTERNAL_BANNER, GREETINGS, CLOSINGS, CONTEXT_LINES, REQUEST_CONCEPTS, POLITE_OPENERS, POLITE_CLOSERS, CROSS_MENTIONS_ANY, SECRET_LINES, TECH_NOTES, FOLLOWUPS, REPLY_ANSWERS, GENERIC_SUMMARIES, PORTAL_URGENCY, TYPO_WORDS, MSP_QUOTE_CLOSURES, MSP_QUOTE_QUESTIONS, FORWARD_NOTES) = pools("wrapping")
REQUEST_CONCEPTS = set(REQUEST_CONCEPTS)

# =====================================================================================
# Hand-written phrasings: concept -> [(summary, body)]. Placeholders in {braces} are filled per
# ticket (people, hosts, apps...). Bodies are the "core" of a message; greetings, signatures,
# threads and the like are added around them later.
# =====================================================================================

(WEIGHTS, PHRASES, FOREIGN, FOREIGN_GREETING, FOREIGN_CLOSING, FOREIGN_MONTHS) = pools("phrases")


# More phrasings, many of them deliberately borrowing another category's vocabulary (the password in an
# Outlook ticket, the wifi in a printer ticket...) so that no single keyword gives the answer away.

# Non-English phrasings (about 5% of the user tickets): concept -> [(lang, summary, body)].


# =====================================================================================
# Monitoring alerts
# =====================================================================================

(ALERTS, SERVICES, PROCESSES, THREATS, BACKUP_ERRORS, EVENT_LOG, KBS, RMM_VENDORS) = pools("alerts")


# =====================================================================================
# Noise tickets (only in new.jsonl): mail that reaches the helpdesk but is not a request.
# =====================================================================================


# =====================================================================================
# Noise elements around the user text
# =====================================================================================

# Small additions users make; at most one line per group so they never contradict each other. The first
# two groups only make sense when something is broken (not for requests).
# Asides that borrow another category's vocabulary. The first list fits any ticket, the second only tickets
# about something that is broken.
CROSS_MENTIONS = [
    *CROSS_MENTIONS_ANY,
    "(Not a password thing, I already reset it last week.)",
    "Outlook is fine, it's just this.",
    "I'm on the VPN if that matters.",
    "The internet is working fine otherwise.",
    "wifi seems ok.",
    "Teams has been crashing too but that's a separate issue.",
    "My screen flickered once too but whatever.",
    "Not sure if related but we had a power blip this morning.",
    "The backup light on the server is green so I don't think it's that.",
    "I can still get into my email on my phone.",
    "Phones are working.",
    "My laptop is new, you guys set it up last month.",
    "Is this related to the Microsoft outage on the news?",
    "Excel is doing it too sometimes.",
    "I did get a Windows update last night.",
]
# Secrets users paste into tickets (for the redaction tests): generic ones, plus a few that only make sense
# for some concepts.
SECRET_KIND = {
    **dict.fromkeys(
        [
            "firewall_rule",
            "lob_practice",
            "lob_accounting",
            "lob_legal",
            "lob_erp",
            "software_install",
            "software_update",
            "backup_m365",
            "app_access",
        ],
        "vendor",
    ),
    **dict.fromkeys(["printer_offline", "scan_to_email", "paper_jam", "print_quality", "print_driver"], "printer"),
}


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
        rng, c = self.rng, self.company
        if key in ("colleague", "mgr", "newhire"):
            return self._person(FEMALE + MALE)
        if key in ("colleague_f", "newhire_f"):
            return self._person(FEMALE)
        if key == "colleague_m":
            return self._person(MALE)
        if key == "tech_first":
            return rng.choice(MSP_TECHS).split()[0]
        if key == "newlast":
            return rng.choice(LAST)
        if key == "title":
            return rng.choice(TITLES[c.industry])
        if key == "clients":
            return CLIENT_NOUN[c.industry]
        if key == "host":
            n = rng.randint(1, 160)
            return rng.choice(
                [
                    f"{c.prefix}-LT{n:03d}",
                    f"{c.prefix}-WS-{n:02d}",
                    f"{c.prefix}-PC{n:02d}",
                    "DESKTOP-" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(7)),
                    f"{c.prefix}-FRONT-{n % 6 + 1:02d}",
                    f"{c.prefix}-NB-{n:03d}",
                ]
            )
        if key == "srv":
            role = rng.choice(["DC01", "FS01", "SQL01", "APP01", "RDS01", "HV01", "DC02", "FS02"])
            return rng.choice([f"{c.prefix}-{role}", f"SRV-{role}", f"{c.prefix}-SRV-{role}"])
        if key == "ip":
            return rng.choice([f"192.0.2.{rng.randint(2, 250)}", f"198.51.100.{rng.randint(2, 250)}"])
        if key == "ext_ip":
            return f"203.0.113.{rng.randint(2, 250)}"
        if key == "printer":
            return rng.choice(c.printers)
        if key == "app":
            return rng.choice(c.apps)
        if key == "day":
            return rng.choice(WEEKDAYS)
        if key in ("date", "date2"):
            base = self.when + timedelta(days=rng.randint(2, 20) + (10 if key == "date2" else 0))
            if self.lang == "de":
                return f"{base.day}. {FOREIGN_MONTHS['de'][base.month - 1]}"
            if self.lang in ("es", "fr", "nl"):
                sep = " de " if self.lang == "es" else " "
                return f"{base.day}{sep}{FOREIGN_MONTHS[self.lang][base.month - 1]}"
            return f"{MONTHS[base.month - 1]} {base.day}"
        if key == "time":
            clock = rng.choice(["9", "9:30", "10", "10:30", "11", "1", "1:30", "2", "3", "3:30", "4"])
            half = "am" if clock.split(":")[0] in ("9", "10", "11") else "pm"
            return clock + rng.choice([half, " " + half, "", "" if ":" in clock else ":00"])
        if key == "site":
            return rng.choice(c.sites)
        if key == "folder":
            return rng.choice(FOLDERS)
        if key == "ext":
            return str(rng.randint(101, 299))
        if key == "phone":
            num = f"555-01{rng.randint(0, 99):02d}"
            return rng.choice([f"+1 {num}", f"+1 {num}", num, f"+1 {num} ext {rng.randint(101, 299)}", f"(+1) {num}"])
        if key == "ext_domain":
            return rng.choice(EXT_DOMAINS)
        if key == "ext_email":
            return _email_of(rng.choice(FEMALE + MALE), rng.choice(LAST), self["ext_domain"], rng.randrange(3))
        if key == "vendor":
            return rng.choice(VENDORS)
        if key == "pw":
            return rng.choice(PASSWORDS)
        if key == "apikey":
            return rng.choice(API_KEYS)
        if key == "ref":
            return ticket_ref(rng, self.psa, self.when)
        if key == "disclaimer":
            return c.disclaimer
        # --- monitoring values
        if key == "drive":
            return rng.choice(["C:", "C:", "D:", "E:"])
        if key == "pct":
            return str(rng.randint(2, 9))
        if key == "thr":
            return rng.choice(["10", "10", "15"])
        if key == "used":
            return str(100 - int(self["pct"]))
        if key == "uthr":
            return rng.choice(["90", "85"])
        if key == "total_gb":
            return rng.choice(["119", "237", "476", "931", "1862"])
        if key == "free_gb":
            return f"{int(self['total_gb']) * int(self['pct']) / 100:.1f}"
        if key == "cpu":
            return str(rng.randint(95, 100))
        if key == "mem":
            return str(rng.randint(92, 99))
        if key == "mins":
            return str(rng.choice([5, 10, 15, 15, 20, 30, 45]))
        if key == "hhmm":
            return f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        if key == "proc":
            return rng.choice(PROCESSES)
        if key == "svc":
            return rng.choice(SERVICES)
        if key == "job":
            return rng.choice(
                [
                    "Nightly-SQL",
                    "Nightly-FileServer",
                    "DC Daily",
                    "Offsite Copy",
                    "M365 Mailboxes",
                    f"{c.prefix} Servers",
                    "Hourly-Incremental",
                ]
            )
        if key == "berr":
            return rng.choice(BACKUP_ERRORS)
        if key == "hours":
            return str(rng.choice([26, 30, 48, 52, 72]))
        if key == "threat":
            return rng.choice(THREATS)
        if key == "user":
            return re.sub(r"[^a-z.]", "", self["email"].split("@")[0])
        if key == "file":
            return rng.choice(["invoice_0231.pdf.exe", "setup_x64.exe", "update.js", "mimi.exe", "AnyDesk.exe"])
        if key == "count":
            return str(rng.randint(6, 240))
        if key == "npatch":
            return str(rng.randint(1, 14))
        if key == "kb":
            return rng.choice(KBS)
        if key == "days":
            return str(rng.choice([3, 5, 7, 9, 14, 21]))
        if key == "ups":
            return rng.choice(["APC Smart-UPS 1500", "UPS-SRVRM-01", "Eaton 5PX 2200"])
        if key == "cap":
            return str(rng.randint(40, 99))
        if key == "temp":
            return str(rng.randint(43, 51))
        if key == "url":
            return rng.choice(["www." + c.domain, "portal." + c.domain, "mail." + c.domain])
        if key in ("eventid", "evsrc", "evmsg"):
            src, eid, msg = rng.choice(EVENT_LOG)
            self.update(evsrc=src, eventid=eid, evmsg=msg)
            return self[key]
        raise KeyError(key)


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


# =====================================================================================
# Composition
# =====================================================================================



@dataclass
class Alternative:
    scope: int
    path: list[str]
    weight: float


def parse_alternatives(spec: str, default_scope: int) -> list[Alternative]:
    out = []
    for raw in spec.split("|"):
        part = raw.strip()
        weight = 1.0
        m = re.search(r"\s\*(\d+(?:\.\d+)?)$", part)
        if m:
            weight = float(m.group(1))
            part = part[: m.start()].strip()
        scope = default_scope
        m = re.match(r"^(\d+):(.*)$", part)
        if m:
            scope, part = int(m.group(1)), m.group(2)
        out.append(Alternative(scope, part.split(">"), weight))
    return out


def pick_label(rng: random.Random, psa: str, concept: str, gold: bool) -> tuple[int, list[str]]:
    alts = parse_alternatives(MAPS[psa][concept], DEFAULT_SCOPE[psa])
    scale = NEW_ALT_SCALE if gold else HISTORY_ALT_SCALE
    alt = rng.choices(alts, weights=[a.weight * (1 if i == 0 else scale) for i, a in enumerate(alts)])[0]
    path = list(alt.path)
    drop_p = CW_DROP_ITEM_P["new" if gold else "history"]
    if psa == "connectwise" and len(path) == 3 and rng.random() < drop_p:
        path = path[:2]
    return alt.scope, path


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


def compose_user(rng: random.Random, psa: str, concept: str, when: datetime, lang: str, gold: bool) -> dict[str, Any]:
    company = pick_company(rng, concept, lang)
    s = Slots(rng, company, lang, when, psa)
    if lang != "en":
        _, summary_t, body_t = rng.choice([f for f in FOREIGN[concept] if f[0] == lang])
    else:
        pool = PHRASES[concept]
        summary_t, body_t = rng.choice(pool)
    summary, body = fill(summary_t, s), fill(body_t, s)

    # User-side noise on the core text
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

    source = rng.choices(
        ["email", "portal", "phone", "chat"], weights=[55, 20, 15, 10] if lang == "en" else [80, 20, 0, 0]
    )[0]
    if source == "email":
        details = email_text(rng, s, core, lang)
        if rng.random() < 0.16:
            summary, details = wrap_thread(rng, psa, s, summary, details, core, when)
        elif rng.random() < 0.1:
            details = EXTERNAL_BANNER + "\n\n" + details
            summary = "[EXTERNAL] " + summary
    elif source == "portal":
        r = rng.random()
        if r < 0.45:
            fields = [
                f"Contact: {s['full']}",
                f"Email: {s['email']}",
                f"Phone: {s['phone']}",
                f"Company: {company.name}",
            ]
            if rng.random() < 0.6:
                fields.append(f"Affected device: {s['host']}")
            fields.append(
                f"Urgency: {rng.choice(PORTAL_URGENCY[:2] if concept in REQUEST_CONCEPTS else PORTAL_URGENCY)}"
            )
            details = "\n".join(fields) + "\n\nDescription:\n" + core
        elif r < 0.7:
            details = f"Submitted via Client Portal by {s['full']} ({company.name})\n\n{core}"
        else:
            details = core
    elif source == "phone":
        tech = rng.choice(MSP_TECHS)
        note = fill(rng.choice(TECH_NOTES), s)
        r = rng.random()
        if r < 0.4:
            details = (
                f"Caller: {s['full']} ({company.name})\nCallback: {s['phone']}\nIssue: {core}\n\nNotes: {note}"
            ).rstrip()
        elif r < 0.75:
            details = f'{s["first"]} called in from {company.name}, callback {s["phone"]}.\nUser says: "{core}"'
            if note:
                details += f"\n{note} -{tech.split()[0][0]}{tech.split()[1][0]}"
        else:
            details = f"Call from {s['full']}: {core}"
        if rng.random() < 0.4:
            summary = rng.choice([f"{s['first']} - {summary}", f"{summary} (phone)", f"Call: {summary}"])
    else:  # chat
        sentences = _sentences(core) or [core]
        t = when
        lines = [f"[{t:%H:%M}] {s['full']}: hi" if rng.random() < 0.5 else ""]
        for i, sent in enumerate(sentences):
            lines.append(f"[{t:%H:%M}] {s['full']}: {sent}")
            if i == 0:
                lines.append(
                    f"[{t:%H:%M}] {MSP_NAME} Bot: Thanks! A technician will be with you shortly. "
                    "Please describe the issue."
                )
                t += timedelta(minutes=1)
        details = "\n".join(line for line in lines if line)
        if rng.random() < 0.5:
            summary = "Chat: " + (sentences[0][:60] + ("..." if len(sentences[0]) > 60 else ""))

    # Subject line noise
    if lang == "en" and not summary.startswith(("RE:", "Re:", "FW", "Chat:")):
        r = rng.random()
        if r < 0.07:
            summary = rng.choice(GENERIC_SUMMARIES)
        elif r < 0.12:
            summary = rng.choice(["URGENT - ", "Urgent: ", "ASAP: ", ""]) + summary + rng.choice(["", " !!!", "!!"])
        elif r < 0.22:
            summary = summary.lower()
        elif r < 0.3:
            summary = typo(rng, summary, 0.25)
    scope, path = pick_label(rng, psa, concept, gold)
    return {"scope": scope, "summary": summary, "details": details, "category": path, "source": source, "lang": lang}


def compose_alert(rng: random.Random, psa: str, concept: str, when: datetime, gold: bool) -> dict[str, Any]:
    company = pick_company(rng, concept, "en")
    s = Slots(rng, company, "en", when, psa)
    if (
        concept
        in (
            "alert_disk",
            "alert_cpu",
            "alert_memory",
            "alert_offline",
            "alert_agent_offline",
            "alert_patch",
            "alert_reboot",
        )
        and rng.random() < 0.35
    ):
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
    scope, path = pick_label(rng, psa, concept, gold)
    return {"scope": scope, "summary": summary, "details": details, "category": path, "source": "rmm", "lang": "en"}


def compose_noise(rng: random.Random, psa: str, kind: str, when: datetime) -> dict[str, Any]:
    company = pick_company(rng, "misc", "en")
    s = Slots(rng, company, "en", when, psa)
    orig_concept = rng.choice([c for c in PHRASES if WEIGHTS[c] >= 5])
    orig = fill(rng.choice(PHRASES[orig_concept])[0], s)
    s["orig"] = orig
    summary_t, body_t = rng.choice(NOISE[kind])
    source = "email"
    return {
        "scope": DEFAULT_SCOPE[psa],
        "summary": fill(summary_t, s).replace("  ", " "),
        "details": fill(body_t, s),
        "category": None,
        "source": source,
        "lang": "en",
        "noise": kind,
    }


# =====================================================================================
# Sampling
# =====================================================================================


def random_times(rng: random.Random, n: int, start: datetime, days: int, alert_flags: list[bool]) -> list[datetime]:
    out = []
    for is_alert in alert_flags[:n]:
        while True:
            d = start + timedelta(days=rng.randrange(days))
            if is_alert:
                t = d + timedelta(minutes=rng.randrange(24 * 60))
                break
            if d.weekday() >= 5 and rng.random() > 0.08:
                continue
            hour = rng.choices(range(6, 21), weights=[1, 4, 9, 10, 9, 8, 6, 7, 8, 7, 6, 4, 2, 1, 1])[0]
            t = d + timedelta(hours=hour, minutes=rng.randrange(60))
            break
        out.append(t)
    return out


def make_ticket(
    rng: random.Random, psa: str, concept: str, when: datetime, lang: str = "en", gold: bool = False
) -> dict[str, Any]:
    if concept in ALERTS:
        return compose_alert(rng, psa, concept, when, gold)
    return compose_user(rng, psa, concept, when, lang, gold)


def choose_lang(rng: random.Random, concept: str) -> str:
    if concept in FOREIGN and rng.random() < 0.17:
        return rng.choice([f[0] for f in FOREIGN[concept]])
    return "en"


def iso(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:00Z")


def finish(ticket: dict[str, Any], tid: str, when: datetime) -> dict[str, Any]:
    out = {
        "id": tid,
        "scope": ticket["scope"],
        "summary": ticket["summary"][:150].strip(),
        "details": ticket["details"].strip(),
        "category": ticket["category"],
        "source": ticket["source"],
        "lang": ticket["lang"],
        "created_at": iso(when),
    }
    if "noise" in ticket:
        out["noise"] = ticket["noise"]
    return out


def validate_maps(taxonomies: dict[str, dict[str, Any]]) -> None:
    concepts = set(WEIGHTS)
    assert set(PHRASES) | set(ALERTS) == concepts, concepts ^ (set(PHRASES) | set(ALERTS))
    assert set(FOREIGN) <= set(PHRASES)
    assert not REQUEST_CONCEPTS - set(PHRASES) and not set(INDUSTRY_LIMITS) - concepts
    for psa, mapping in MAPS.items():
        assert set(mapping) == concepts, (psa, concepts ^ set(mapping))
        active = {(sc["id"], tuple(p)) for sc in taxonomies[psa]["scopes"] for p in sc["paths"]}
        for concept, spec in mapping.items():
            for alt in parse_alternatives(spec, DEFAULT_SCOPE[psa]):
                assert (alt.scope, tuple(alt.path)) in active, (psa, concept, alt)


ID_PREFIX = {"halo": "H", "connectwise": "CW", "autotask": "AT"}


def generate(psa: str, taxonomy: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(SEEDS[psa])
    active = {(sc["id"], tuple(p)) for sc in taxonomy["scopes"] for p in sc["paths"]}
    concepts = sorted(WEIGHTS)
    n = HISTORY_COUNT[psa]
    plan = list(concepts)  # every concept at least once
    plan += rng.choices(concepts, weights=[WEIGHTS[c] for c in concepts], k=n - len(plan))
    rng.shuffle(plan)
    times = random_times(rng, n, datetime(2025, 10, 1, tzinfo=UTC), 150, [c in ALERTS for c in plan])
    rows = []
    for concept, when in zip(plan, times, strict=True):
        t = make_ticket(rng, psa, concept, when, choose_lang(rng, concept))
        assert (t["scope"], tuple(t["category"])) in active
        rows.append((when, t))
    rows.sort(key=lambda r: r[0])
    history = [finish(t, f"{ID_PREFIX[psa]}-{10001 + i}", when) for i, (when, t) in enumerate(rows)]

    counts = Counter((h["scope"], tuple(h["category"])) for h in history)
    start_new = datetime(2026, 3, 2, tzinfo=UTC)
    new_rows: list[tuple[datetime, dict[str, Any]]] = []
    labelled = NEW_COUNT - len(NOISE_KINDS)
    foreign_done = 0
    while len(new_rows) < labelled:
        concept = rng.choices(concepts, weights=[WEIGHTS[c] for c in concepts])[0]
        lang = "en"
        if foreign_done < 2 and concept in FOREIGN and len(new_rows) >= 6 * (foreign_done + 1):
            lang = rng.choice([f[0] for f in FOREIGN[concept]])
        when = random_times(rng, 1, start_new, 5, [concept in ALERTS])[0]
        t = make_ticket(rng, psa, concept, when, lang, gold=True)
        if counts[(t["scope"], tuple(t["category"]))] < 3:
            continue
        foreign_done += lang != "en"
        new_rows.append((when, t))
    for kind in NOISE_KINDS:
        when = random_times(rng, 1, start_new, 5, [True])[0]
        new_rows.append((when, compose_noise(rng, psa, kind, when)))
    new_rows.sort(key=lambda r: r[0])
    new = [finish(t, f"{ID_PREFIX[psa]}-{20001 + i}", when) for i, (when, t) in enumerate(new_rows)]
    return history, new


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def check_accuracy(out_dir: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import FeatureUnion, make_pipeline

    def load(p: Path) -> list[dict[str, Any]]:
        return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]

    def model() -> Any:
        feats = FeatureUnion(
            [
                ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)),
            ]
        )
        return make_pipeline(feats, LogisticRegression(C=100, max_iter=2000))

    def text(t: dict[str, Any]) -> str:
        return f"{t['summary']}\n{t['details']}"

    def label(t: dict[str, Any]) -> str:
        return f"{t['scope']}|{'>'.join(t['category'])}"

    for psa in ("halo", "connectwise", "autotask"):
        hist = load(out_dir / psa / "history.jsonl")
        new = [t for t in load(out_dir / psa / "new.jsonl") if t["category"] is not None]
        x, y = [text(t) for t in hist], [label(t) for t in hist]
        scores = []
        for seed in range(3):  # each fit takes a minute or three
            xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=seed)
            m = model().fit(xtr, ytr)
            scores.append(sum(a == b for a, b in zip(m.predict(xte), yte, strict=True)) / len(yte))
        m = model().fit(x, y)
        new_acc = sum(a == label(t) for a, t in zip(m.predict([text(t) for t in new]), new, strict=True)) / len(new)
        print(
            f"{psa:12s} history 80/20 accuracy: {sum(scores) / len(scores):.3f} "
            f"(splits: {', '.join(f'{s:.3f}' for s in scores)}); train=history -> new.jsonl: {new_acc:.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="report a TF-IDF + LogisticRegression accuracy")
    args = parser.parse_args(argv)
    taxonomies = build_taxonomies()
    validate_maps(taxonomies)
    for psa in ("halo", "connectwise", "autotask"):
        folder = args.out / psa
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "taxonomy.json").write_text(
            json.dumps(taxonomies[psa], indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        history, new = generate(psa, taxonomies[psa])
        write_jsonl(folder / "history.jsonl", history)
        write_jsonl(folder / "new.jsonl", new)
        n_paths = sum(len(s["paths"]) for s in taxonomies[psa]["scopes"])
        used = len({(h["scope"], tuple(h["category"])) for h in history})
        foreign = sum(h["lang"] != "en" for h in history)
        print(
            f"{psa:12s} scopes={len(taxonomies[psa]['scopes'])} active_paths={n_paths} history={len(history)} "
            f"(categories used={used}, non-English={foreign}) new={len(new)} "
            f"(noise={sum(1 for t in new if t['category'] is None)})",
            file=sys.stderr,
        )
    if args.check:
        check_accuracy(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
