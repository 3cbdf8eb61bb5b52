"""PII minimisation: realistic ticket text loses every personal value and credential, keeps what classifies it."""

from __future__ import annotations

import re

import pytest

from autotriage.core.models import Ticket
from autotriage.core.text.pii import Redactor, iter_placeholders, redact_ticket
from autotriage.sandbox.common import load_sample

SIGNATURE = """Hi team, Outlook keeps asking for my password since this morning.

Kind regards,
Jane Doe
Office Manager | Bayside Dental
T: +1 (555) 201-4477 | M: 0171 2345678 | Fax 030 1234 5678
jane.doe@bayside-dental.example.com"""

PASSWORD = """Can't log in to the vendor portal. username jdoe, password: Summer2024!
My new password is Winter2025# if you need it. Temp password they gave me was Bluecrest1!
You can log in as me: kim@pinecrestvet.example.com / Spring2026$"""

RMM = """Device: SRV-FS01 (192.168.10.25)
Condition: Backup job failed on SRV-FS01; target NAS at 10.20.0.7, gateway fe80::1ff:fe23:4567:890a%eth0,
replication peer 2001:db8:85a3::8a2e:370:7334
Triggered: 03/04/2026 02:15 AM"""

CARD = ("Please update the card on file for the Microsoft 365 invoice: 4111 1111 1111 1111, exp 12/27. "
        "Amex 3782-822463-10005 too.")

KEYS = """The integration stopped. Our config:
OPENAI_API_KEY=sk-proj-Ab3dEf9hIjK1mNoP4qRsT7uVwX2yZ
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
GitHub token ghp_1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU6v
curl -H "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P"
Storage AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==
webhook secret Xk9pQ2mZ7vR4tL8wN3bH6jF1"""

CASES = {
    "signature": (SIGNATURE, ["+1 (555) 201-4477", "0171 2345678", "030 1234 5678", "jane.doe@bayside-dental"],
                  {"PHONE", "EMAIL"}),
    "password": (PASSWORD, ["Summer2024!", "Winter2025#", "Bluecrest1!", "Spring2026$", "kim@pinecrestvet"],
                 {"SECRET", "EMAIL"}),
    "rmm": (RMM, ["192.168.10.25", "10.20.0.7", "fe80::1ff:fe23:4567:890a", "2001:db8:85a3::8a2e:370:7334"], {"IP"}),
    "card": (CARD, ["4111 1111 1111 1111", "3782-822463-10005"], {"CARD"}),
    "keys": (KEYS, ["sk-proj-Ab3dEf9hIjK1mNoP4qRsT7uVwX2yZ", "AKIAIOSFODNN7EXAMPLE",
                    "ghp_1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU6v", "eyJhbGciOiJIUzI1NiJ9", "Eby8vdM02xNOcqFlq",
                    "Xk9pQ2mZ7vR4tL8wN3bH6jF1"], {"SECRET"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_realistic_text_loses_every_value(name: str) -> None:
    text, values, kinds = CASES[name]
    redactor = Redactor()
    out = redactor.redact(text)
    for value in values:
        assert value not in out, (value, out)
    assert set(redactor.counts) == kinds, out
    assert {p.split("_")[0].strip("[") for p in iter_placeholders(out)} == kinds


def test_what_classifies_the_ticket_survives() -> None:
    text = ("Error 0x80070005 on 10.2.3 build, ticket 12345 / #0039651 / T20260206.0131, host SRV-DC01, since "
            "2026-03-03 08:15 (03/03/2026 8:15 AM, 12.04.2026), KB5034441, Windows 10.0.19045.3803, Office "
            "16.0.17328.20162, firmware version 1.2.3.4, SMTP 550 5.1.1, Intune 80180014, "
            "GUID 3f2504e0-4f89-11d3-9a0c-0305e82c3301, 2 TB disk at 95%, port 443, my password expired, "
            "password reset please, PIN reset please, my password doesn't work, at 10:30:45, "
            "Error:0x80070005 in C:\\Users\\bob, http://srv01:8080/app, the password is expired")
    redactor = Redactor()
    assert redactor.redact(text) == text
    assert not redactor.counts


def test_numbering_is_consistent_within_a_ticket() -> None:
    t = Ticket(
        id="7", scope="1", summary="Call back jane@example.com on +44 20 7946 0958",
        description="Reach me at JANE@example.com or +44 20 7946 0958; my colleague bob@example.com too.",
        contact_email="jane@example.com", headers={"From": "Jane <jane@example.com>"}, native={"user": "Jane Doe"},
    )
    safe, counts = redact_ticket(t)
    assert safe.summary == "Call back [EMAIL_1] on [PHONE_1]"
    assert safe.description == "Reach me at [EMAIL_1] or [PHONE_1]; my colleague [EMAIL_2] too."
    assert safe.contact_email == "[EMAIL_1]"
    assert safe.headers == {} and safe.native == {}
    assert counts == {"EMAIL": 3, "PHONE": 2}  # the contact field itself is not counted as a finding
    assert (safe.id, safe.scope, safe.category) == (t.id, t.scope, t.category)


def test_luhn_and_brand_checked_cards_only() -> None:
    redactor = Redactor()
    text = "order 4111 1111 1111 1112 and serial 1234567890123456 and card 5555555555554444"
    assert redactor.redact(text) == "order 4111 1111 1111 1112 and serial 1234567890123456 and card [CARD_1]"


def test_redaction_is_idempotent() -> None:
    once = Redactor().redact(SIGNATURE + PASSWORD + RMM + CARD + KEYS)
    assert Redactor().redact(once) == once


def test_bundled_sample_data_keeps_no_email_phone_or_pasted_password() -> None:
    """The sample tickets carry signatures, phone numbers, RMM IPs and pasted passwords."""
    leaks = []
    found = 0
    for psa in ("halo", "connectwise", "autotask"):
        sample = load_sample(psa)
        for t in sample.history + sample.new:
            safe, counts = redact_ticket(Ticket(id=t.id, summary=t.summary, description=t.details, scope="1"))
            found += sum(counts.values())
            text = f"{safe.summary}\n{safe.description}"
            leaks += re.findall(r"[\w.+-]+@[\w-]+\.example\.(?:com|org|net)", text)
            leaks += re.findall(r"555-01\d\d", text)
            leaks += re.findall(r"\b(?:198\.51\.100|192\.0\.2|203\.0\.113)\.\d+", text)
            leaks += re.findall(r"Winter2025#|Spring2026\$|Dentist#2026|P@ssw0rd123|Bluecrest1!|Tr0ub4dor&3", text)
    assert leaks == []
    assert found > 1000


LEAKS = {
    "short parenthesised phone": ("Please call me back on (555) 0123, I'm at my desk.", ["0123"], {"PHONE": 1}),
    "phone with extension": ("Reception (555) 201-4477 ext. 4412; my mobile +1 555 010 0199 x12",
                             ["4412", "201-4477", "0199", "x12"], {"PHONE": 2}),
    "keyed phone with extension": ("Tel: 555-0100 Ext: 22", ["0100", "22"], {"PHONE": 1}),
    "voicemail pin": ("Can you reset my voicemail? My voicemail PIN is 4821 and it says wrong PIN.", ["4821"],
                      {"SECRET": 1}),
    "door code": ("New starter needs the door code, current passcode: 738291, alarm code 1990", ["738291", "1990"],
                  {"SECRET": 2}),
    "plain word wifi password": ("Guests can't join. The Wi-Fi password is bluefish according to the sign.",
                                 ["bluefish"], {"SECRET": 1}),
    "password for x is": ("the password for the guest wifi is sunflower99 but it fails", ["sunflower99"],
                          {"SECRET": 1}),
    "user colon password": ("NAS login admin:Pa55word! stopped working after the update", ["Pa55word!"],
                            {"SECRET": 1}),
    "mac addresses": ("Please whitelist 00:1A:2B:3C:4D:5E and 00-1a-2b-3c-4d-5f and Cisco 001a.2b3c.4d60",
                      ["00:1A:2B", "00-1a-2b", "001a.2b3c"], {"MAC": 3}),
}


@pytest.mark.parametrize("name", list(LEAKS))
def test_former_leaks_are_closed(name: str) -> None:
    text, values, counts = LEAKS[name]
    redactor = Redactor()
    out = redactor.redact(text)
    for value in values:
        assert value not in out, (value, out)
    assert dict(redactor.counts) == counts, out


@pytest.mark.parametrize("text", [
    "My password doesn't work since Monday.",
    "my password isn't accepted and I can't log in",
    "Password is expired, please reset.",
    "PIN reset please, the card reader locks me out",
    "The password is wrong according to Outlook",
])
def test_prose_after_a_keyword_is_kept(text: str) -> None:
    assert Redactor().redact(text) == text


def test_placeholders_are_stable_per_value() -> None:
    redactor = Redactor()
    out = redactor.redact("Call 555-0100 or (555) 0100? Mail JO@x.example.com, jo@x.example.com, ann@x.example.com")
    assert out == "Call [PHONE_1] or [PHONE_1]? Mail [EMAIL_1], [EMAIL_1], [EMAIL_2]"


def test_text_past_the_cap_is_dropped_not_leaked() -> None:
    from autotriage.core.text.pii import CUT_MARKER, MAX_REDACT_CHARS

    text = "word " * (MAX_REDACT_CHARS // 5) + "jane@example.com"
    out = Redactor().redact(text)
    assert "jane@" not in out and out.endswith(CUT_MARKER) and len(out) <= MAX_REDACT_CHARS + len(CUT_MARKER)
