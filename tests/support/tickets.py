"""Small, hand-written taxonomies and tickets for pipeline tests (the bundled sample data is bigger)."""

from __future__ import annotations

from autotriage.sandbox.common import SampleData, SampleTicket

HALO_SCOPES = [
    {
        "id": 1,
        "name": "Incident",
        "paths": [
            ["Hardware", "Laptop"],
            ["Hardware", "Printer"],
            ["Network", "VPN"],
            ["Network", "WiFi"],
            ["Email", "Outlook"],
            ["Accounts", "Password reset"],
            ["Software", "Install"],
            ["Backup", "Failure"],
        ],
        "inactive_paths": [["Legacy", "Fax"]],
    },
    {"id": 3, "name": "Service Request", "paths": [["Accounts", "New starter"], ["Software", "Install"]]},
]

#: (summary, details) per category path, phrased so that a word-overlap model can find the category.
TEXTS: dict[tuple[str, ...], list[tuple[str, str]]] = {
    ("Hardware", "Laptop"): [("Laptop will not boot", "my laptop shows a black screen since this morning")],
    ("Hardware", "Printer"): [("Printer jammed again", "the printer on floor 2 jams on every page")],
    ("Network", "VPN"): [("VPN keeps dropping", "cannot stay connected to the vpn from home")],
    ("Network", "WiFi"): [("wifi down in meeting room", "no wifi signal in the boardroom")],
    ("Email", "Outlook"): [("Outlook crashes", "outlook closes when I open the calendar")],
    ("Accounts", "Password reset"): [("password reset please", "locked out, need a password reset")],
    ("Software", "Install"): [("install Adobe Reader", "please install adobe reader software on my pc")],
    ("Backup", "Failure"): [("Backup job failed", "backup failure on SRV-FS01 last night")],
}


def halo_sample() -> SampleData:
    """The small Halo taxonomy with no history."""
    return SampleData(scopes=HALO_SCOPES)


def new_tickets(count: int) -> list[SampleTicket]:
    """``count`` tickets cycling through the categories of scope 1."""
    paths = list(TEXTS)
    out = []
    for i in range(count):
        path = paths[i % len(paths)]
        summary, details = TEXTS[path][0]
        out.append(SampleTicket(id=f"T{i}", scope=1, summary=f"{summary} #{i}", details=details, category=path))
    return out
