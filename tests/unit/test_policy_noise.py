"""The noise pre-filter: what mail systems generate is skipped, real tickets that talk about it are not."""

from __future__ import annotations

import pytest

from autotriage.core.models import Ticket
from autotriage.policy.noise import detect_noise
from autotriage.sandbox.common import load_sample


def ticket(summary: str, body: str = "", headers: dict[str, str] | None = None, contact: str = "") -> Ticket:
    return Ticket(id="1", summary=summary, description=body, scope="1", headers=headers or {}, contact_email=contact)


EXCHANGE_NDR = (
    "Delivery has failed to these recipients or groups:\n\njdoe@client.example\nThe email address you entered "
    "couldn't be found.\n\nDiagnostic information for administrators:\nRemote Server returned '550 5.1.1 "
    "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'"
)
RMM_ALERT = (
    "Datto RMM Alert\n\nSite: Bayside Dental\nDevice: SRV-FS01\nMonitor: Disk C: free space < 10%\nPriority: High\n"
    "This alert was generated automatically. Do not reply to this email."
)

NOISE = [
    # headers (RFC 3834 and the common vendor ones)
    ("auto-submitted", ticket("RE: [#4411] Printer", "Thanks!", {"Auto-Submitted": "auto-replied"}), "auto_reply"),
    ("x-autoreply", ticket("Your request", "We got it.", {"X-Autoreply": "yes"}), "auto_reply"),
    ("precedence auto_reply", ticket("RE: ticket", "Received.", {"Precedence": "auto_reply"}), "auto_reply"),
    ("auto-replied + ooo text", ticket("RE: [#1] VPN", "I am out of the office until Monday.",
                                       {"Auto-Submitted": "auto-replied"}), "out_of_office"),
    ("suppress header + ooo text", ticket("RE: [#1] VPN", "I'm currently away and will return on 12 May.",
                                          {"X-Auto-Response-Suppress": "All"}), "out_of_office"),
    ("bulk + unsubscribe", ticket("Spring webinar series", "Join our experts. Unsubscribe here.",
                                  {"Precedence": "bulk"}), "spam"),
    # out-of-office / automatic replies in several languages
    ("outlook en", ticket("Automatic reply: [#0036441] dock issue",
                          "I'm currently on vacation and will return on Wednesday."), "out_of_office"),
    ("outlook de", ticket("Abwesenheitsnotiz: Drucker defekt",
                          "Ich bin bis 12.03. nicht im Büro. In dringenden Fällen wenden Sie sich an ..."),
     "out_of_office"),
    ("outlook de 2", ticket("Automatische Antwort: AW: [#0412] VPN", "Vielen Dank für Ihre Nachricht."), "auto_reply"),
    ("outlook es", ticket("Respuesta automática: Ticket 7731",
                          "Estoy fuera de la oficina hasta el lunes. En caso de urgencia llame a ..."),
     "out_of_office"),
    ("outlook fr", ticket("Réponse automatique : Ticket 7731",
                          "Je suis absent du bureau jusqu'au 3 mai. En cas d'urgence ..."), "out_of_office"),
    ("nl", ticket("Afwezig: Ticket 7731", "Ik ben niet op kantoor tot maandag."), "out_of_office"),
    ("out of office: + text", ticket("Out of Office: Ticket #471340 cant print",
                                     "I am out of the office from March 12 until March 22 with limited access to "
                                     "email. For urgent matters please contact Derek."), "out_of_office"),
    ("unmonitored mailbox", ticket("Automatic reply: Ticket #492379 Dentrix report",
                                   "Thanks for your email! This mailbox is not monitored."), "auto_reply"),
    ("ooo body only", ticket("RE: [#0039] new laptop",
                             "I am out of the office until 14 April with no access to email. I will respond upon my "
                             "return. For urgent matters please contact the front desk."), "out_of_office"),
    # delivery failures
    ("exchange ndr", ticket("Undeliverable: RE: [#0039651] New starter", EXCHANGE_NDR), "delivery_failure"),
    ("german ndr", ticket("Unzustellbar: Ihr Ticket", "Die Nachricht konnte nicht zugestellt werden."),
     "delivery_failure"),
    ("gmail dsn", ticket("Delivery Status Notification (Failure)",
                         "Mail Delivery Subsystem\nAddress not found"), "delivery_failure"),
    ("exim", ticket("Mail delivery failed: returning message to sender",
                    "This message was created automatically by mail delivery software."), "delivery_failure"),
    ("bounce sender", ticket("Returned", "see attached", contact="MAILER-DAEMON@mx.example.net"), "delivery_failure"),
    ("ndr text + weak header", ticket("RE: [#1]", EXCHANGE_NDR, {"Auto-Submitted": "auto-generated"}),
     "delivery_failure"),
    # spam
    ("seo", ticket("Boost your Google ranking - limited offer",
                   "We can get you on the first page of Google in 30 days. Reply YES for a free audit."), "spam"),
    ("list seller", ticket("MSP decision makers list 2026",
                           "Would you be interested in acquiring an email list of IT decision makers? 25,000 verified "
                           "contacts. Reply \"unsubscribe\" to opt out."), "spam"),
    ("phishing", ticket("Your mailbox password expires today",
                        "The password for support@example.net expires today. Click below to keep using your current "
                        "password.\n\n[ KEEP SAME PASSWORD ]"), "spam"),
    ("invoice fraud", ticket("RE: Invoice #INV-20931 overdue",
                             "Kindly remit payment today to avoid service interruption.\n\nView document: "
                             "https://docs-share.example.net/view?id=88231"), "spam"),
    # empty
    ("empty", ticket("", ""), "empty"),
    ("no subject", ticket("(no subject)", "  \n "), "empty"),
    ("re only", ticket("RE:", ""), "empty"),
]

REAL = [
    # the false-positive case from the brief: talks about out-of-office, is a real ticket
    ("ooo won't turn on", ticket("Out of office not working", "my out of office won't turn on in Outlook")),
    ("ooo subject with colon", ticket("Out of office: won't turn on",
                                      "I will be on vacation from Friday and my out of office won't turn on in Outlook."
                                      " Can you help?")),
    ("set up automatic reply", ticket("Automatic reply for Jane",
                                      "Jane is on leave until 3 May, please set an automatic reply on her mailbox.")),
    ("auto reply subject typed by a person", ticket("Auto reply: please set one up for me",
                                                    "I'm on holiday next week, can you set up an auto reply?")),
    ("outlook prefix but a request", ticket("Automatic reply: not working",
                                            "Outlook automatic replies are not working since the update, can you "
                                            "check?")),
    ("traveling user", ticket("VPN before my trip", "I'll be out of office next week, please make sure the VPN "
                                                     "works on my laptop before Friday.")),
    ("german ooo setup", ticket("Abwesenheitsnotiz einrichten", "Bitte Abwesenheitsnotiz für Frau Maier einrichten.")),
    # bounces a user asks about
    ("forwarded ndr", ticket("FW: Undeliverable: Invoice March",
                             "I keep getting this when I email our client, can you check?\n\n" + EXCHANGE_NDR)),
    ("bouncing mail", ticket("Emails to client bouncing",
                             "Every mail to our supplier comes back with 'Delivery has failed to these recipients' "
                             "and 550 5.1.1. Please help.")),
    ("ndr prefix typed by a person", ticket("Undeliverable: emails to gmail",
                                            "Since this morning emails to gmail addresses are not working, can you "
                                            "look into it?")),
    # spam/phishing a user reports (a security ticket)
    ("forwarded phishing", ticket("FW: Your mailbox password expires today",
                                  "Is this legit? The password for support@example.net expires today. Click below to "
                                  "keep using your current password. [ KEEP SAME PASSWORD ]")),
    ("unsubscribe question", ticket("Too many newsletters", "How do I unsubscribe from vendor newsletters?")),
    # automated but real
    ("rmm alert with generated headers", ticket("ALERT: SRV-FS01 low disk space", RMM_ALERT,
                                                {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All",
                                                 "Precedence": "bulk"})),
    ("short real ticket", ticket("printer", "")),
    ("body only", ticket("", "Outlook crashes when I open the calendar")),
]


@pytest.mark.parametrize(("name", "tkt", "kind"), NOISE, ids=[n[0] for n in NOISE])
def test_noise_is_recognised(name: str, tkt: Ticket, kind: str) -> None:
    found = detect_noise(tkt)
    assert found is not None, name
    assert found.kind == kind, found
    assert found.reason == f"noise:{kind}"


@pytest.mark.parametrize(("name", "tkt"), REAL, ids=[r[0] for r in REAL])
def test_real_tickets_are_kept(name: str, tkt: Ticket) -> None:
    assert detect_noise(tkt) is None


@pytest.mark.parametrize("psa", ["halo", "connectwise", "autotask"])
def test_bundled_sample_data(psa: str) -> None:
    """Every labelled noise ticket of the sample data is found with its kind; no real ticket is dropped."""
    sample = load_sample(psa)
    wrong = []
    for t in sample.history + sample.new:
        found = detect_noise(Ticket(id=t.id, summary=t.summary, description=t.details, scope=str(t.scope)))
        if (found.kind if found else None) != t.noise:
            wrong.append((t.id, t.noise, found, t.summary))
    assert sum(1 for t in sample.new if t.noise) >= 4
    assert wrong == []


@pytest.mark.parametrize("source", ["Phone", "Walk In", "Client Portal", "Voice Mail"])
def test_a_ticket_a_person_entered_is_never_mail_noise(source: str) -> None:
    """The PSA's source field (filled by the adapters) says who wrote the ticket: a technician typing a phone
    call "customer's out of office reply bounces" is a real ticket."""
    typed = Ticket(id="1", scope="1", summary="Automatic reply: not working",
                   description="I am out of the office until Monday. For urgent matters call reception.",
                   source=source)
    assert detect_noise(typed) is None
    assert detect_noise(typed.model_copy(update={"source": "Email"})) is not None
    assert detect_noise(Ticket(id="2", scope="1", summary="", description="", source=source)) is not None  # empty
