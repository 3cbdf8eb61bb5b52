"""Ticket text cleaning on realistic MSP helpdesk emails, and trimming to the token budget."""

from __future__ import annotations

import pytest

from autotriage.core.models import Ticket
from autotriage.core.text.clean import clean_summary, clean_ticket_text, collapse_whitespace
from autotriage.core.text.prepare import prepare_ticket_text
from autotriage.core.text.tokens import TRIM_MARKER, count_tokens

OUTLOOK_REPLY = """\
This is happening again, the echo is back on every call. The other person hears themselves.

It started after the weekend, all three phones in the front office.

Kind regards,
Yuki Murphy
Office Manager | Okafor Legal Group
2200 Peachtree Rd NE, Suite 310
Atlanta, GA 30309
Tel +1 555-0155

CONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the sole use of the intended \
recipient(s) and may contain confidential and privileged information. Any unauthorized review, use, disclosure \
or distribution is prohibited.

-----Original Message-----
From: Bluecrest IT Support <support@bluecrest-it.example.net>
Sent: Friday, September 26, 2025 10:02 AM
To: Yuki Murphy <yuki.murphy@okaforlegal.example.org>
Subject: Ticket #450481 echo on calls

Hi Yuki,

We haven't heard back from you, so we're closing this ticket. Printer toner was also replaced.

Keisha Brooks
Bluecrest IT | Service Desk"""

GMAIL_REPLY = """\
Reopening this please.

Hi Ana,

Please add Derek Okafor to the VPN Users and Remote Desktop Users groups.

Cheers,
Ashley Vasquez

On Wed, Oct 1, 2025 at 7:05 AM Bluecrest IT Support <support@bluecrest-it.example.net> wrote:
> Hi Ashley,
>
> This ticket has been marked resolved. If the problem persists, reply within 7 days.
>
> Tom Lindqvist"""

FORWARD = """\
Can you guys look at this? See below.

Tom

---------- Forwarded message ---------
From: Deb Achebe <deb@harpervance.example.com>
Date: Mon, Nov 24, 2025 at 7:09 AM
Subject: Outlook error on start
To: Tom Baptiste <tom.baptiste@harpervance.example.com>

Good morning,

Getting "Cannot start Microsoft Outlook. The set of folders cannot be opened." on HV-PC151.

Thank you,
Deb

--
The information contained in this email is intended only for the person or entity to which it is addressed \
and may contain confidential material. If you received this in error, please contact the sender."""

THIN_OUTLOOK_FORWARD = """\
FYI

________________________________
From: Rosa Garcia <rgarcia@meridiantax.example.org>
Sent: Thursday, November 13, 2025 9:25 AM
To: Raj Castillo <raj.castillo@meridiantax.example.org>
Subject: OneDrive not syncing

Some files in my Documents folder disappeared. OneDrive shows them in the web version but not on my PC.

Rosa"""

MOBILE = """\
CAUTION: This email originated from outside of the organization. Do not click links or open attachments unless \
you recognize the sender and know the content is safe.

Hello IT,

The QuickBooks Desktop server is really slow, reports that took 1 min take 15.   I'm around all afternoon.
[cid:image003.png@01DC2168.5E2A7B30]

Thanks,
Sofia Quinn

Sent from my iPhone

________________________________
IRS Circular 230 Disclosure: To ensure compliance with requirements imposed by the IRS, we inform you that any \
U.S. federal tax advice contained in this communication is not intended or written to be used."""

SIG_DELIMITER = """\
Please disable Steve Murphy's access IMMEDIATELY. He was let go this morning. Also change the alarm code -- I know \
that's not you guys.

-- \nJane Doe
Practice Administrator
+1 555-0100"""


def test_outlook_reply_keeps_the_first_message_only() -> None:
    text = clean_ticket_text(OUTLOOK_REPLY)
    assert text == ("This is happening again, the echo is back on every call. The other person hears themselves.\n\n"
                    "It started after the weekend, all three phones in the front office.")


def test_gmail_reply_drops_the_attribution_and_quoted_lines() -> None:
    assert clean_ticket_text(GMAIL_REPLY) == (
        "Reopening this please.\n\nPlease add Derek Okafor to the VPN Users and Remote Desktop Users groups.")


def test_forward_keeps_the_note_and_the_forwarded_request() -> None:
    text = clean_ticket_text(FORWARD)
    assert text.startswith("Can you guys look at this? See below.")
    assert 'Getting "Cannot start Microsoft Outlook.' in text
    assert "---------- Forwarded message ----------\nFrom: Deb Achebe" in text  # the forward stays a cue
    assert "Subject: Outlook error on start" in text
    for gone in ("Date:", "To:", "Thank you", "intended only", "Good morning"):
        assert gone not in text


def test_thin_top_message_keeps_the_first_quoted_message() -> None:
    text = clean_ticket_text(THIN_OUTLOOK_FORWARD)
    assert text == ("FYI\n\nSome files in my Documents folder disappeared. OneDrive shows them in the web version but "
                    "not on my PC.\n\nRosa")


def test_banner_mobile_footer_image_and_disclaimer_are_removed() -> None:
    assert clean_ticket_text(MOBILE) == (
        "The QuickBooks Desktop server is really slow, reports that took 1 min take 15. I'm around all afternoon.")


def test_signature_delimiter_cuts_the_rest_but_not_inline_dashes() -> None:
    text = clean_ticket_text(SIG_DELIMITER)
    assert text.endswith("that's not you guys.") and "alarm code -- I know" in text and "Jane" not in text


@pytest.mark.parametrize(("body", "expected"), [
    ("Thanks, the printer works again but the scanner does not.", "Thanks, the printer works again but the scanner "
     "does not."),
    ("Hi, my laptop will not boot.", "Hi, my laptop will not boot."),
    ("> only a quote\nthe real line", "the real line"),
    ("The copier is down.\n\nI received this in error message on the copier: error J-0102",
     "The copier is down.\n\nI received this in error message on the copier: error J-0102"),
    ("The folder is confidential, only the partners may see it.", "The folder is confidential, only the partners "
     "may see it."),
    ("Best,\nthe whole team cannot print since the update and we have a deadline today, can you please look? "
     "It is urgent because payroll has to go out tonight and nothing prints at all.",
     "Best,\nthe whole team cannot print since the update and we have a deadline today, can you please look? "
     "It is urgent because payroll has to go out tonight and nothing prints at all."),
])
def test_content_is_not_mistaken_for_boilerplate(body: str, expected: str) -> None:
    assert clean_ticket_text(body) == expected


def test_html_and_whitespace_are_normalized() -> None:
    html = "<html><body><p>Hello,</p><p>The&nbsp;VPN\u200b drops   every 5 minutes.</p><br><br><br>" \
           "<p>Regards,<br>Ann</p></body></html>"
    assert clean_ticket_text(html) == "The VPN drops every 5 minutes."
    assert collapse_whitespace("a  \t b\n\n\n\nc  ") == "a b\n\nc"


def test_only_boilerplate_falls_back_to_the_text() -> None:
    assert clean_ticket_text("Thanks,\nBob") == "Thanks,\nBob"
    assert clean_ticket_text("   ") == ""


def test_summary_prefixes_are_removed() -> None:
    assert clean_summary("RE: [EXTERNAL] printer jam") == "printer jam"
    assert clean_summary("RE: FW: [EXTERNAL] printer jam") == "FW: printer jam"  # the forward is a cue
    assert clean_summary("Fwd: Re[2]: VPN down") == "FW: VPN down"
    assert clean_summary("AW: WG: Drucker") == "FW: Drucker"
    assert clean_summary("Regarding the new laptop") == "Regarding the new laptop"


def test_prepare_ticket_text_cleans_then_trims_to_the_budget() -> None:
    long_body = OUTLOOK_REPLY.replace("It started", "It started " + "and it keeps happening " * 200)
    ticket = Ticket(id="1", scope="1", summary="RE: echo on calls", description=long_body)
    summary, description = prepare_ticket_text(ticket, 150)
    assert summary == "echo on calls"
    assert description.endswith(TRIM_MARKER) and description.startswith("This is happening again")
    assert count_tokens(summary) + count_tokens(description) <= 150 + count_tokens(TRIM_MARKER)
    assert "Original Message" not in description

    short = Ticket(id="2", scope="1", summary="printer", description=MOBILE)
    assert prepare_ticket_text(short, 1200)[1] == clean_ticket_text(MOBILE)
