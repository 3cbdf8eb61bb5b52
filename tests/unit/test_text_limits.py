"""Hostile ticket text: every text function reads a bounded amount, never recurses, and strips control characters.

No timings here (they live in tools/bench_text.py): these inputs used to raise RecursionError or run for minutes;
they must now simply finish with the right result."""

from __future__ import annotations

import pytest

from autotriage.classifier.view import prompt_view
from autotriage.core.models import Ticket
from autotriage.core.tenants import Policy
from autotriage.core.text.clean import (
    FORWARD_CUE,
    MAX_FORWARDED_CHARS,
    MAX_TEXT_CHARS,
    clean_summary,
    clean_ticket_text,
    plain_text,
    strip_controls,
)
from autotriage.core.text.pii import Redactor
from autotriage.core.text.prepare import PreparedTicket, prepare_ticket, prepare_ticket_text
from autotriage.policy.noise import detect_noise

NESTED = "Please see the thread below, the scanner on floor 2 still fails to email.\n\n" + (
    "-----Original Message-----\nFrom: Ops <ops@example.com>\nSent: Monday, March 2, 2026 9:00 AM\n"
    "To: Help <help@example.com>\nSubject: RE: scanner\n\nstill broken\n\n") * 1500


def test_a_thousand_nested_original_messages_do_not_recurse() -> None:
    assert clean_ticket_text(NESTED) == "Please see the thread below, the scanner on floor 2 still fails to email."


@pytest.mark.parametrize("unit", [
    "password ", "Thanks\n", "> ", "<script>", "<", "<p class='x' <div ", "<!-- ", "\U0001f600", "\x00",
    "On Mon, Bob <b@example.com> wrote:\n> x\n", "-----BEGIN RSA PRIVATE KEY-----\n", "my password is ",
])
def test_a_megabyte_of_one_pattern_finishes_and_stays_bounded(unit: str) -> None:
    text = unit * (1_048_576 // len(unit))
    cleaned = clean_ticket_text(text)
    assert len(cleaned) <= MAX_TEXT_CHARS + MAX_FORWARDED_CHARS + 200
    assert "\x00" not in cleaned
    assert len(Redactor().redact(text)) < 20_000
    detect_noise(Ticket(id="1", scope="1", summary=text[:5000], description=text))
    view = prompt_view(Ticket(id="1", scope="1", summary="printer", description=text), Policy(), 1200)
    assert view.noise is not None or isinstance(view.ticket, PreparedTicket)


def test_control_and_bidi_characters_never_reach_the_prompt() -> None:
    evil = "Invoice\u202egnp.exe attached\x00\x07, pay\u200b now\u2066 \ufeffplease\r\nthanks"
    assert strip_controls(evil) == "Invoicegnp.exe attached, pay now please\nthanks"
    summary, description = prepare_ticket_text(
        Ticket(id="1", scope="1", summary="RE:\x00 Invoice\u202e", description=evil), 1200)
    for bad in ("\x00", "\x07", "\u202e", "\u200b", "\u2066", "\ufeff"):
        assert bad not in summary + description
    assert plain_text("<p>pay&#8238;fdp.exe&#8203;</p>").strip() == "payfdp.exe"  # entities decode to bidi


def test_html_soup_without_closing_tags_is_dropped_to_the_end() -> None:
    assert clean_ticket_text("<html><body><p>Printer offline</p><script>var x = '<p>' " + "x" * 50_000) == (
        "Printer offline")
    assert clean_ticket_text("<div>VPN down<style>p{color:red}</style> since 9am</div>") == "VPN down since 9am"


OUTLOOK_FORWARD = """\
is this real??

-----Original Message-----
From: Microsoft 365 Security <no-reply@m365-secure-login.example>
Sent: Tuesday, March 3, 2026 8:14 AM
To: Dana Kim <dana.kim@harborlaw.example.com>
Subject: Action required: your mailbox will be suspended

Your mailbox storage is full. Verify your account within 24 hours to avoid suspension:
https://m365-secure-login.example/verify

Microsoft 365 Team"""

NEW_STARTER = """\
Hi team, can you set this up for Monday please, laptop and the usual accounts. HR says it is confirmed.

From: Priya Shah <priya.shah@harborlaw.example.com>
Sent: Wednesday, March 4, 2026 3:12 PM
To: Office Manager <office@harborlaw.example.com>
Subject: New starter - Tom Alvarez

Tom Alvarez starts on 9 March as a paralegal. He needs a laptop, M365 licence, access to the Litigation share and
the case management system.

Thanks
Priya Shah
HR Coordinator | Harbor Law LLP
+1 555-0147"""


def test_outlook_forward_keeps_the_forwarded_evidence_and_the_cue() -> None:
    text = clean_ticket_text(OUTLOOK_FORWARD, forwarded=True)
    assert text.startswith("is this real??\n\n" + FORWARD_CUE)
    assert "From: Microsoft 365 Security" in text and "Subject: Action required" in text
    assert "Verify your account within 24 hours" in text
    summary, description = prepare_ticket_text(
        Ticket(id="1", scope="1", summary="FW: Action required: your mailbox will be suspended",
               description=OUTLOOK_FORWARD), 1200)
    assert summary == "FW: Action required: your mailbox will be suspended"
    assert "Verify your account" in description


def test_note_over_a_forwarded_request_keeps_the_request_without_its_signature() -> None:
    text = clean_ticket_text(NEW_STARTER, forwarded=True)
    assert text.startswith("Hi team, can you set this up for Monday please")
    assert "Tom Alvarez starts on 9 March as a paralegal" in text
    assert "HR Coordinator" not in text and "555-0147" not in text and "Sent:" not in text


def test_a_reply_without_the_forward_cue_is_still_trimmed() -> None:
    reply = NEW_STARTER.replace("Hi team, can you set this up for Monday please, laptop and the usual accounts.",
                                "Done on our side, the laptop is imaged and the accounts are created now.")
    assert clean_ticket_text(reply) == (
        "Done on our side, the laptop is imaged and the accounts are created now. HR says it is confirmed.")


@pytest.mark.parametrize(("body", "kept", "gone"), [
    ("The label printer prints blank pages since the driver update.\n\nMaria Lopez\nShipping Supervisor\n"
     "Northwind Logistics | T: +1 555-0188", "prints blank pages", "Shipping Supervisor"),
    ("Outlook asks for my password every 10 minutes.\n\nBest regards,\nSam Carter\nSenior Accountant\n"
     "Carter & Webb CPAs\n1200 Main St, Suite 400\nSpringfield, IL 62701\nDirect: +1 555-0102\n"
     "Mobile: +1 555-0103\nFax: +1 555-0104\nwww.carterwebb.example.com", "every 10 minutes", "Senior Accountant"),
])
def test_signature_blocks_with_name_and_title_are_dropped(body: str, kept: str, gone: str) -> None:
    text = clean_ticket_text(body)
    assert kept in text and gone not in text


def test_a_name_line_inside_the_text_is_not_a_signature() -> None:
    body = "Please add these users to the Finance group:\n\nJohn Miller\nAnna Berg\nMike Chen"
    assert clean_ticket_text(body) == body


def test_prepared_tickets_are_not_cleaned_again() -> None:
    ticket = Ticket(id="1", scope="1", summary="RE: FW: printer", description="> quoted only\nPrinter jams on tray 2")
    prepared = prepare_ticket(ticket, 1200)
    assert isinstance(prepared, PreparedTicket) and prepare_ticket(prepared, 1200) is prepared
    assert prepared.summary == "FW: printer"
    assert clean_summary("FW: printer") == "FW: printer"


def test_a_subject_of_endless_prefixes_is_bounded() -> None:
    assert len(clean_summary("RE: " * 50_000 + "printer")) <= 1_000  # only the first 1,000 characters are read
    assert len(clean_summary("FW: RE: " * 50_000)) <= 1_005
    assert clean_summary("RE: " * 20 + "printer") == "printer"
    assert clean_summary("FW:RE:AW:WG: Drucker offline") == "FW: Drucker offline"
