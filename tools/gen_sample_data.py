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

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "libs" / "autotriage" / "sandbox" / "data"

HISTORY_COUNT = {"halo": 1300, "connectwise": 2200, "autotask": 1300}
NEW_COUNT = 40
NOISE_KINDS = ("auto_reply", "out_of_office", "delivery_failure", "spam")
SEEDS = {"halo": 1103, "connectwise": 2207, "autotask": 3301}

# =====================================================================================
# Taxonomies
# =====================================================================================

# ConnectWise: board -> type -> subType -> [items]. Every (type, subType) and every
# (type, subType, item) is an active combination.
CW_SERVICE_DESK: dict[str, dict[str, list[str]]] = {
    "Hardware": {
        "Laptop": ["Won't boot", "Battery / Charging", "Screen / Display", "Keyboard / Trackpad", "Slow Performance"],
        "Desktop": ["Won't boot", "Slow Performance", "Overheating / Noise"],
        "Monitor": ["No Signal", "Flickering / Display"],
        "Docking Station": ["Displays not detected", "USB / Ethernet"],
        "Peripherals": ["Keyboard / Mouse", "Headset / Webcam", "Scanner"],
        "Mobile Device": ["Phone", "Tablet"],
    },
    "Software": {
        "Microsoft Office": ["Excel", "Word", "Activation / Licensing"],
        "Line of Business App": ["Practice Management", "Accounting / Tax", "Legal / Document Mgmt", "ERP / CAD"],
        "Install / Update": [],
        "Adobe": ["Acrobat"],
        "Browser": [],
        "Windows OS": ["Updates", "Blue Screen", "Profile / Login"],
    },
    "Network": {
        "VPN": ["Can't connect", "Slow / Dropping"],
        "Wi-Fi": ["Can't connect", "Weak signal"],
        "Internet Outage": ["Site down", "Slow"],
        "Firewall": ["Rule Change Request", "Blocked Website"],
        "Switch / Cabling": [],
        "DNS / DHCP": [],
    },
    "Security": {
        "Phishing": ["Reported Email", "Clicked Link"],
        "Malware / Virus": ["Detection", "Ransomware"],
        "Compromised Account": [],
        "Antivirus / EDR": ["Alert", "False Positive"],
        "Security Awareness": [],
    },
    "Email & Collaboration": {
        "Outlook": ["Won't open / Crashing", "Search", "Calendar / Shared Mailbox"],
        "Email Delivery": ["Not receiving", "Bounce-backs", "Spam / Quarantine"],
        "Teams": ["Calls / Audio", "Chat / Channels"],
        "SharePoint / OneDrive": ["Sync issue", "Permissions"],
        "Distribution Lists": [],
    },
    "Accounts & Access": {
        "Password Reset": ["Locked Out", "Expired"],
        "MFA": ["New Phone", "Not receiving prompt"],
        "Permissions": ["Shared Drive", "Application"],
        "Active Directory": [],
    },
    "Printing": {
        "Printer": ["Offline", "Paper Jam", "Print Quality", "Toner / Supplies"],
        "Scan to Email": [],
        "Print Queue / Driver": [],
    },
    "Phone / VoIP": {
        "Desk Phone": ["No dial tone", "Registration"],
        "Call Quality": [],
        "Voicemail": [],
        "Call Routing / Hunt Group": [],
        "Softphone": [],
    },
    "Backup & DR": {
        "Backup Failure": ["Server", "M365 / Cloud"],
        "Restore Request": ["File", "Mailbox"],
        "DR Test": [],
    },
    "Server & Infrastructure": {
        "Server": ["Performance", "Disk Space", "Hardware Failure"],
        "Virtualization": ["Hyper-V", "VMware"],
        "File Share": [],
        "Certificate / SSL": [],
        "Patching": [],
    },
    "Cloud / M365": {
        "Licensing": ["Assign License", "Remove License"],
        "Exchange Online": [],
        "Azure / Entra ID": [],
        "Intune / MDM": [],
        "Tenant Admin": [],
    },
    "Onboarding / Offboarding": {
        "New User": ["Account Setup", "Equipment"],
        "Termination": ["Disable Account", "Mailbox Conversion"],
        "Name Change": [],
    },
    "Request / Procurement": {
        "Quote": ["Hardware", "Software"],
        "Software Install": [],
        "New Equipment": [],
        "Move / Add / Change": [],
    },
    "Monitoring Alert": {
        "Disk Space": [],
        "CPU / Memory": [],
        "Agent Offline": [],
        "Service Stopped": [],
    },
    "General": {
        "How-To Question": [],
        "Other": [],
    },
}
CW_ALERTS: dict[str, dict[str, list[str]]] = {
    "Disk": {"Low Space": [], "SMART Failure": [], "RAID Degraded": []},
    "Performance": {"CPU": [], "Memory": []},
    "Availability": {"Device Offline": [], "Agent Offline": [], "Website Down": []},
    "Service": {"Service Stopped": [], "Event Log Error": []},
    "Backup": {"Job Failed": [], "Job Missed": [], "Screenshot Verification Failed": []},
    "Security": {"AV Threat": [], "Failed Logins": []},
    "Patch": {"Install Failed": [], "Reboot Pending": []},
    "Hardware": {"UPS On Battery": [], "Temperature": []},
    "Certificate": {"Expiring": []},
}
CW_INACTIVE = {
    12: [
        ["Legacy", "Fax"],
        ["Legacy", "Novell"],
        ["Hardware", "Pager"],
        ["Software", "Windows 7"],
        ["Network", "ISDN"],
        ["Phone / VoIP", "Desk Phone", "Polycom SoundPoint"],
    ],
    14: [["Backup", "Tape Rotation"], ["Availability", "Modem"]],
}

AUTOTASK_QUEUE = 29682833
AUTOTASK: dict[str, list[str]] = {
    "Hardware": ["Laptop", "Desktop", "Monitor / Peripherals", "Docking Station", "Mobile Device"],
    "Software": [
        "Microsoft Office",
        "Line of Business Application",
        "Windows OS",
        "Install / Update",
        "Adobe / PDF",
        "Browser",
    ],
    "Network": ["VPN", "Wi-Fi", "Internet Outage", "Firewall", "Switch / Cabling", "DNS / DHCP"],
    "Security": ["Phishing", "Malware / Virus", "Compromised Account", "EDR / Antivirus Alert", "Security Awareness"],
    "Email": ["Outlook", "Delivery / Bounce", "Spam / Quarantine", "Shared Mailbox / Calendar"],
    "Collaboration": ["Teams", "SharePoint / OneDrive"],
    "User Account": [
        "Password Reset / Lockout",
        "MFA",
        "Permissions / Access",
        "New User",
        "Termination",
        "Name Change",
    ],
    "Printing": ["Printer Issue", "Scanning", "Toner / Supplies"],
    "Phone System": ["Desk Phone", "Call Quality", "Voicemail", "Call Routing", "Softphone / App"],
    "Backup": ["Backup Failure", "Restore Request", "DR Test"],
    "Server": ["Performance", "Storage", "Hardware", "Virtualization", "File Share", "Patching", "Certificates"],
    "Cloud Services": ["M365 Licensing", "Exchange Online Admin", "Entra ID / Azure", "Intune"],
    "Procurement": ["Hardware Quote", "Software Quote", "Software Install Request", "Move / Add / Change"],
    "Monitoring Alert": [
        "Disk Space",
        "Performance",
        "Device Offline",
        "Backup Job",
        "Service Stopped",
        "Security / AV",
        "Patch Failure",
        "Hardware / Environment",
    ],
    "General": ["How-To", "Other"],
}
AUTOTASK_INACTIVE = [
    ["Legacy", "Fax"],
    ["Hardware", "BlackBerry"],
    ["Software", "Windows XP"],
    ["Phone System", "Analog Lines"],
]

HALO_INCIDENT = [
    "Hardware>Laptop",
    "Hardware>Desktop",
    "Hardware>Monitor & Peripherals",
    "Hardware>Mobile Device",
    "Software>Microsoft Office",
    "Software>Line of Business",
    "Software>Windows",
    "Software>Other Application",
    "Network>VPN",
    "Network>Wi-Fi",
    "Network>Internet",
    "Network>Firewall",
    "Network>LAN / Switching",
    "Security>Phishing",
    "Security>Malware",
    "Security>Compromised Account",
    "Email>Outlook",
    "Email>Delivery",
    "Email>Spam Filter",
    "Collaboration>Teams",
    "Collaboration>SharePoint & OneDrive",
    "Accounts>Password Reset",
    "Accounts>MFA",
    "Accounts>Access Issue",
    "Printing>Printer",
    "Printing>Scanning",
    "Telephony>Desk Phone",
    "Telephony>Call Quality",
    "Backup>Backup Failure",
    "Server>Performance",
    "Server>Storage",
    "Server>Hardware",
    "Server>Virtualisation",
    "Server>Certificates",
    "Server>File Share",
    "Alert>Disk Space",
    "Alert>Performance",
    "Alert>Offline",
    "Alert>Service",
    "Alert>Backup",
    "Alert>Antivirus",
    "Alert>Patching",
    "Alert>Hardware",
    "General>Question",
]
HALO_SERVICE_REQUEST = [
    "Accounts>Password Reset",
    "Accounts>MFA",
    "Accounts>New Starter",
    "Accounts>Leaver",
    "Accounts>Access Request",
    "Hardware>New Equipment",
    "Hardware>Mobile Device",
    "Software>Installation",
    "Software>Licensing",
    "Backup>Restore Request",
    "Telephony>Changes",
    "Email>Mailbox Changes",
    "Network>Firewall Change",
    "Procurement>Quote",
    "General>Question",
]
HALO_INACTIVE = {1: ["Legacy>Fax", "Hardware>BlackBerry"], 3: ["Legacy>Fax Line Request"]}


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

CW_MAP = {
    # accounts
    "password_locked": "Accounts & Access>Password Reset>Locked Out *9 | Accounts & Access>Password Reset *1",
    "password_expired": "Accounts & Access>Password Reset>Expired *8 | Accounts & Access>Password Reset>Locked Out *2",
    "vague_login": "Accounts & Access>Password Reset>Locked Out *5 | Accounts & Access>MFA>Not receiving prompt *1"
    " | Software>Windows OS>Profile / Login *2 | Accounts & Access>Password Reset *2",
    "mfa_new_phone": "Accounts & Access>MFA>New Phone *9 | Accounts & Access>MFA *1",
    "mfa_no_prompt": "Accounts & Access>MFA>Not receiving prompt *8 | Accounts & Access>MFA>New Phone *2",
    "share_drive_permission": "Accounts & Access>Permissions>Shared Drive *8 | Server & Infrastructure>File Share *2",
    "app_access": "Accounts & Access>Permissions>Application *8 | Software>Line of Business App *2",
    "ad_change": "Accounts & Access>Active Directory *8 | Accounts & Access>Permissions *2",
    # email & collaboration
    "outlook_crash": "Email & Collaboration>Outlook>Won't open / Crashing *8 | Software>Microsoft Office *2",
    "outlook_search": "Email & Collaboration>Outlook>Search *9 | Email & Collaboration>Outlook *1",
    "shared_mailbox_request": "Email & Collaboration>Outlook>Calendar / Shared Mailbox *7 | Cloud / M365>Exchange Online *3",
    "calendar_issue": "Email & Collaboration>Outlook>Calendar / Shared Mailbox *8 | Email & Collaboration>Outlook *2",
    "email_not_receiving": "Email & Collaboration>Email Delivery>Not receiving *9 | Email & Collaboration>Email Delivery *1",
    "email_bounce": "Email & Collaboration>Email Delivery>Bounce-backs *9 | Email & Collaboration>Email Delivery>Not receiving *1",
    "spam_quarantine": "Email & Collaboration>Email Delivery>Spam / Quarantine *9 | Security>Phishing>Reported Email *1",
    "teams_calls": "Email & Collaboration>Teams>Calls / Audio *8 | Phone / VoIP>Softphone *1 | Hardware>Peripherals>Headset / Webcam *1",
    "teams_chat": "Email & Collaboration>Teams>Chat / Channels *9 | Email & Collaboration>Teams *1",
    "onedrive_sync": "Email & Collaboration>SharePoint / OneDrive>Sync issue",
    "sharepoint_permissions": "Email & Collaboration>SharePoint / OneDrive>Permissions *8 | Accounts & Access>Permissions *2",
    "distribution_list": "Email & Collaboration>Distribution Lists *8 | Cloud / M365>Exchange Online *2",
    "mailbox_full": "Cloud / M365>Exchange Online *5 | Email & Collaboration>Outlook *5",
    "exo_admin": "Cloud / M365>Exchange Online *8 | Email & Collaboration>Outlook>Calendar / Shared Mailbox *2",
    # printing
    "printer_offline": "Printing>Printer>Offline *9 | Printing>Print Queue / Driver *1",
    "paper_jam": "Printing>Printer>Paper Jam",
    "print_quality": "Printing>Printer>Print Quality *8 | Printing>Printer>Toner / Supplies *2",
    "toner": "Printing>Printer>Toner / Supplies *8 | Request / Procurement>New Equipment *2",
    "scan_to_email": "Printing>Scan to Email",
    "print_driver": "Printing>Print Queue / Driver *8 | Printing>Printer>Offline *2",
    # hardware
    "laptop_no_boot": "Hardware>Laptop>Won't boot",
    "laptop_battery": "Hardware>Laptop>Battery / Charging",
    "laptop_screen": "Hardware>Laptop>Screen / Display",
    "laptop_keyboard": "Hardware>Laptop>Keyboard / Trackpad",
    "pc_slow": "Hardware>Laptop>Slow Performance *4 | Hardware>Desktop>Slow Performance *4 | Software>Windows OS *2",
    "desktop_no_boot": "Hardware>Desktop>Won't boot",
    "desktop_noise": "Hardware>Desktop>Overheating / Noise",
    "monitor_nosignal": "Hardware>Monitor>No Signal",
    "monitor_flicker": "Hardware>Monitor>Flickering / Display",
    "dock_displays": "Hardware>Docking Station>Displays not detected *9 | Hardware>Monitor>No Signal *1",
    "dock_usb": "Hardware>Docking Station>USB / Ethernet",
    "peripheral": "Hardware>Peripherals>Keyboard / Mouse",
    "headset_webcam": "Hardware>Peripherals>Headset / Webcam *7 | Email & Collaboration>Teams>Calls / Audio *3",
    "scanner_device": "Hardware>Peripherals>Scanner",
    "mobile_phone": "Hardware>Mobile Device>Phone *8 | Cloud / M365>Intune / MDM *2",
    "tablet": "Hardware>Mobile Device>Tablet",
    # software
    "excel": "Software>Microsoft Office>Excel",
    "word": "Software>Microsoft Office>Word",
    "office_activation": "Software>Microsoft Office>Activation / Licensing *7 | Cloud / M365>Licensing>Assign License *3",
    "lob_practice": "Software>Line of Business App>Practice Management",
    "lob_accounting": "Software>Line of Business App>Accounting / Tax",
    "lob_legal": "Software>Line of Business App>Legal / Document Mgmt",
    "lob_erp": "Software>Line of Business App>ERP / CAD",
    "adobe_pdf": "Software>Adobe>Acrobat",
    "browser_issue": "Software>Browser *8 | Security>Malware / Virus>Detection *2",
    "windows_update": "Software>Windows OS>Updates",
    "bsod": "Software>Windows OS>Blue Screen *8 | Hardware>Laptop>Won't boot *1 | Hardware>Desktop *1",
    "windows_profile": "Software>Windows OS>Profile / Login",
    "software_update": "Software>Install / Update",
    # network
    "vpn_connect": "Network>VPN>Can't connect",
    "vpn_slow": "Network>VPN>Slow / Dropping",
    "wifi_connect": "Network>Wi-Fi>Can't connect",
    "wifi_weak": "Network>Wi-Fi>Weak signal",
    "internet_down": "Network>Internet Outage>Site down",
    "internet_slow": "Network>Internet Outage>Slow",
    "firewall_rule": "Network>Firewall>Rule Change Request",
    "blocked_website": "Network>Firewall>Blocked Website",
    "switch_cabling": "Network>Switch / Cabling",
    "dns_dhcp": "Network>DNS / DHCP",
    # security
    "phishing_report": "Security>Phishing>Reported Email *8 | Email & Collaboration>Email Delivery>Spam / Quarantine *2",
    "phishing_clicked": "Security>Phishing>Clicked Link *7 | Security>Compromised Account *3",
    "malware_detect": "Security>Malware / Virus>Detection *8 | Security>Antivirus / EDR>Alert *2",
    "ransomware": "Security>Malware / Virus>Ransomware",
    "compromised_account": "Security>Compromised Account",
    "edr_fp": "Security>Antivirus / EDR>False Positive",
    "security_training": "Security>Security Awareness",
    # phones
    "deskphone": "Phone / VoIP>Desk Phone>No dial tone *7 | Phone / VoIP>Desk Phone>Registration *3",
    "call_quality": "Phone / VoIP>Call Quality",
    "voicemail": "Phone / VoIP>Voicemail",
    "call_routing": "Phone / VoIP>Call Routing / Hunt Group",
    "softphone": "Phone / VoIP>Softphone",
    # backup
    "restore_file": "Backup & DR>Restore Request>File",
    "restore_mailbox": "Backup & DR>Restore Request>Mailbox",
    "backup_failure_user": "Backup & DR>Backup Failure>Server",
    "backup_m365": "Backup & DR>Backup Failure>M365 / Cloud",
    "dr_test": "Backup & DR>DR Test",
    # server
    "server_slow": "Server & Infrastructure>Server>Performance",
    "server_disk": "Server & Infrastructure>Server>Disk Space",
    "server_hw": "Server & Infrastructure>Server>Hardware Failure",
    "hyperv": "Server & Infrastructure>Virtualization>Hyper-V",
    "vmware": "Server & Infrastructure>Virtualization>VMware",
    "file_share": "Server & Infrastructure>File Share *7 | Accounts & Access>Permissions>Shared Drive *3",
    "ssl_cert": "Server & Infrastructure>Certificate / SSL",
    "server_patching": "Server & Infrastructure>Patching",
    # cloud
    "license_assign": "Cloud / M365>Licensing>Assign License",
    "license_remove": "Cloud / M365>Licensing>Remove License *8 | Onboarding / Offboarding>Termination *2",
    "intune": "Cloud / M365>Intune / MDM",
    "entra": "Cloud / M365>Azure / Entra ID",
    "tenant_admin": "Cloud / M365>Tenant Admin",
    # on/offboarding and requests
    "new_user": "Onboarding / Offboarding>New User>Account Setup *9 | Onboarding / Offboarding>New User *1",
    "new_user_equipment": "Onboarding / Offboarding>New User>Equipment *8 | Request / Procurement>New Equipment *2",
    "termination": "Onboarding / Offboarding>Termination>Disable Account *8 | Onboarding / Offboarding>Termination>Mailbox Conversion *2",
    "name_change": "Onboarding / Offboarding>Name Change",
    "quote_hw": "Request / Procurement>Quote>Hardware",
    "quote_sw": "Request / Procurement>Quote>Software",
    "software_install": "Request / Procurement>Software Install *7 | Software>Install / Update *3",
    "new_equipment": "Request / Procurement>New Equipment *8 | Request / Procurement>Quote>Hardware *2",
    "mac_move": "Request / Procurement>Move / Add / Change",
    "howto": "General>How-To Question",
    "misc": "General>Other",
    "vague_cant_work": "General>Other *4 | Network>Internet Outage>Site down *3 | Hardware>Desktop>Won't boot *3",
    # alerts
    "alert_disk": "14:Disk>Low Space *8 | 12:Monitoring Alert>Disk Space *2",
    "alert_cpu": "14:Performance>CPU *8 | 12:Monitoring Alert>CPU / Memory *2",
    "alert_memory": "14:Performance>Memory *8 | 12:Monitoring Alert>CPU / Memory *2",
    "alert_offline": "14:Availability>Device Offline *9 | 14:Availability>Agent Offline *1",
    "alert_agent_offline": "14:Availability>Agent Offline *7 | 12:Monitoring Alert>Agent Offline *3",
    "alert_website": "14:Availability>Website Down",
    "alert_service": "14:Service>Service Stopped *8 | 12:Monitoring Alert>Service Stopped *2",
    "alert_eventlog": "14:Service>Event Log Error",
    "alert_backup_failed": "14:Backup>Job Failed *8 | 12:Backup & DR>Backup Failure>Server *2",
    "alert_backup_missed": "14:Backup>Job Missed *8 | 14:Backup>Job Failed *2",
    "alert_screenshot": "14:Backup>Screenshot Verification Failed",
    "alert_av": "14:Security>AV Threat *8 | 12:Security>Antivirus / EDR>Alert *2",
    "alert_failed_logins": "14:Security>Failed Logins",
    "alert_patch": "14:Patch>Install Failed",
    "alert_reboot": "14:Patch>Reboot Pending",
    "alert_ups": "14:Hardware>UPS On Battery",
    "alert_temp": "14:Hardware>Temperature",
    "alert_smart": "14:Disk>SMART Failure",
    "alert_raid": "14:Disk>RAID Degraded",
    "alert_cert": "14:Certificate>Expiring *8 | 12:Server & Infrastructure>Certificate / SSL *2",
}

AT_MAP = {
    "password_locked": "User Account>Password Reset / Lockout",
    "password_expired": "User Account>Password Reset / Lockout",
    "vague_login": "User Account>Password Reset / Lockout *6 | User Account>MFA *2 | Software>Windows OS *2",
    "mfa_new_phone": "User Account>MFA",
    "mfa_no_prompt": "User Account>MFA",
    "share_drive_permission": "User Account>Permissions / Access *8 | Server>File Share *2",
    "app_access": "User Account>Permissions / Access *8 | Software>Line of Business Application *2",
    "ad_change": "User Account>Permissions / Access *7 | User Account>Name Change *3",
    "outlook_crash": "Email>Outlook *8 | Software>Microsoft Office *2",
    "outlook_search": "Email>Outlook",
    "shared_mailbox_request": "Email>Shared Mailbox / Calendar *7 | Cloud Services>Exchange Online Admin *3",
    "calendar_issue": "Email>Shared Mailbox / Calendar *7 | Email>Outlook *3",
    "email_not_receiving": "Email>Delivery / Bounce",
    "email_bounce": "Email>Delivery / Bounce",
    "spam_quarantine": "Email>Spam / Quarantine *9 | Security>Phishing *1",
    "teams_calls": "Collaboration>Teams *9 | Hardware>Monitor / Peripherals *1",
    "teams_chat": "Collaboration>Teams",
    "onedrive_sync": "Collaboration>SharePoint / OneDrive",
    "sharepoint_permissions": "Collaboration>SharePoint / OneDrive *7 | User Account>Permissions / Access *3",
    "distribution_list": "Cloud Services>Exchange Online Admin *6 | Email>Shared Mailbox / Calendar *4",
    "mailbox_full": "Email>Outlook *5 | Cloud Services>Exchange Online Admin *5",
    "exo_admin": "Cloud Services>Exchange Online Admin *8 | Email>Shared Mailbox / Calendar *2",
    "printer_offline": "Printing>Printer Issue",
    "paper_jam": "Printing>Printer Issue",
    "print_quality": "Printing>Printer Issue *7 | Printing>Toner / Supplies *3",
    "toner": "Printing>Toner / Supplies",
    "scan_to_email": "Printing>Scanning",
    "print_driver": "Printing>Printer Issue",
    "laptop_no_boot": "Hardware>Laptop",
    "laptop_battery": "Hardware>Laptop",
    "laptop_screen": "Hardware>Laptop",
    "laptop_keyboard": "Hardware>Laptop",
    "pc_slow": "Hardware>Laptop *3 | Hardware>Desktop *3 | Software>Windows OS *3",
    "desktop_no_boot": "Hardware>Desktop",
    "desktop_noise": "Hardware>Desktop",
    "monitor_nosignal": "Hardware>Monitor / Peripherals *8 | Hardware>Docking Station *2",
    "monitor_flicker": "Hardware>Monitor / Peripherals",
    "dock_displays": "Hardware>Docking Station *8 | Hardware>Monitor / Peripherals *2",
    "dock_usb": "Hardware>Docking Station",
    "peripheral": "Hardware>Monitor / Peripherals",
    "headset_webcam": "Hardware>Monitor / Peripherals *7 | Collaboration>Teams *3",
    "scanner_device": "Printing>Scanning *6 | Hardware>Monitor / Peripherals *4",
    "mobile_phone": "Hardware>Mobile Device *8 | Cloud Services>Intune *2",
    "tablet": "Hardware>Mobile Device",
    "excel": "Software>Microsoft Office",
    "word": "Software>Microsoft Office",
    "office_activation": "Software>Microsoft Office *6 | Cloud Services>M365 Licensing *4",
    "lob_practice": "Software>Line of Business Application",
    "lob_accounting": "Software>Line of Business Application",
    "lob_legal": "Software>Line of Business Application",
    "lob_erp": "Software>Line of Business Application",
    "adobe_pdf": "Software>Adobe / PDF",
    "browser_issue": "Software>Browser *8 | Security>Malware / Virus *2",
    "windows_update": "Software>Windows OS",
    "bsod": "Software>Windows OS *7 | Hardware>Laptop *3",
    "windows_profile": "Software>Windows OS",
    "software_update": "Software>Install / Update",
    "vpn_connect": "Network>VPN",
    "vpn_slow": "Network>VPN",
    "wifi_connect": "Network>Wi-Fi",
    "wifi_weak": "Network>Wi-Fi",
    "internet_down": "Network>Internet Outage",
    "internet_slow": "Network>Internet Outage",
    "firewall_rule": "Network>Firewall",
    "blocked_website": "Network>Firewall",
    "switch_cabling": "Network>Switch / Cabling",
    "dns_dhcp": "Network>DNS / DHCP",
    "phishing_report": "Security>Phishing *8 | Email>Spam / Quarantine *2",
    "phishing_clicked": "Security>Phishing *7 | Security>Compromised Account *3",
    "malware_detect": "Security>Malware / Virus *7 | Security>EDR / Antivirus Alert *3",
    "ransomware": "Security>Malware / Virus",
    "compromised_account": "Security>Compromised Account",
    "edr_fp": "Security>EDR / Antivirus Alert",
    "security_training": "Security>Security Awareness",
    "deskphone": "Phone System>Desk Phone",
    "call_quality": "Phone System>Call Quality",
    "voicemail": "Phone System>Voicemail",
    "call_routing": "Phone System>Call Routing",
    "softphone": "Phone System>Softphone / App",
    "restore_file": "Backup>Restore Request",
    "restore_mailbox": "Backup>Restore Request",
    "backup_failure_user": "Backup>Backup Failure",
    "backup_m365": "Backup>Backup Failure",
    "dr_test": "Backup>DR Test",
    "server_slow": "Server>Performance",
    "server_disk": "Server>Storage",
    "server_hw": "Server>Hardware",
    "hyperv": "Server>Virtualization",
    "vmware": "Server>Virtualization",
    "file_share": "Server>File Share *7 | User Account>Permissions / Access *3",
    "ssl_cert": "Server>Certificates",
    "server_patching": "Server>Patching",
    "license_assign": "Cloud Services>M365 Licensing",
    "license_remove": "Cloud Services>M365 Licensing *8 | User Account>Termination *2",
    "intune": "Cloud Services>Intune",
    "entra": "Cloud Services>Entra ID / Azure",
    "tenant_admin": "Cloud Services>Entra ID / Azure *6 | Cloud Services>Exchange Online Admin *4",
    "new_user": "User Account>New User",
    "new_user_equipment": "User Account>New User *6 | Procurement>Hardware Quote *4",
    "termination": "User Account>Termination",
    "name_change": "User Account>Name Change",
    "quote_hw": "Procurement>Hardware Quote",
    "quote_sw": "Procurement>Software Quote",
    "software_install": "Procurement>Software Install Request *7 | Software>Install / Update *3",
    "new_equipment": "Procurement>Hardware Quote",
    "mac_move": "Procurement>Move / Add / Change",
    "howto": "General>How-To",
    "misc": "General>Other",
    "vague_cant_work": "General>Other *4 | Network>Internet Outage *3 | Hardware>Desktop *3",
    "alert_disk": "Monitoring Alert>Disk Space *9 | Server>Storage *1",
    "alert_cpu": "Monitoring Alert>Performance *9 | Server>Performance *1",
    "alert_memory": "Monitoring Alert>Performance",
    "alert_offline": "Monitoring Alert>Device Offline",
    "alert_agent_offline": "Monitoring Alert>Device Offline",
    "alert_website": "Monitoring Alert>Device Offline *6 | Network>Internet Outage *4",
    "alert_service": "Monitoring Alert>Service Stopped",
    "alert_eventlog": "Monitoring Alert>Service Stopped",
    "alert_backup_failed": "Monitoring Alert>Backup Job *7 | Backup>Backup Failure *3",
    "alert_backup_missed": "Monitoring Alert>Backup Job",
    "alert_screenshot": "Monitoring Alert>Backup Job",
    "alert_av": "Monitoring Alert>Security / AV *7 | Security>EDR / Antivirus Alert *3",
    "alert_failed_logins": "Monitoring Alert>Security / AV *6 | Security>Compromised Account *4",
    "alert_patch": "Monitoring Alert>Patch Failure",
    "alert_reboot": "Monitoring Alert>Patch Failure",
    "alert_ups": "Monitoring Alert>Hardware / Environment",
    "alert_temp": "Monitoring Alert>Hardware / Environment",
    "alert_smart": "Monitoring Alert>Hardware / Environment *6 | Server>Hardware *4",
    "alert_raid": "Server>Hardware *5 | Monitoring Alert>Hardware / Environment *5",
    "alert_cert": "Server>Certificates",
}

HALO_MAP = {
    "password_locked": "1:Accounts>Password Reset *9 | 3:Accounts>Password Reset *1",
    "password_expired": "1:Accounts>Password Reset *8 | 3:Accounts>Password Reset *2",
    "vague_login": "Accounts>Password Reset *6 | Accounts>MFA *2 | Software>Windows *2",
    "mfa_new_phone": "3:Accounts>MFA *8 | 1:Accounts>MFA *2",
    "mfa_no_prompt": "1:Accounts>MFA",
    "share_drive_permission": "3:Accounts>Access Request *8 | 1:Accounts>Access Issue *2",
    "app_access": "3:Accounts>Access Request *7 | 1:Accounts>Access Issue *3",
    "ad_change": "3:Accounts>Access Request *7 | 3:Email>Mailbox Changes *3",
    "outlook_crash": "Email>Outlook *8 | Software>Microsoft Office *2",
    "outlook_search": "Email>Outlook",
    "shared_mailbox_request": "3:Email>Mailbox Changes *8 | 3:Accounts>Access Request *2",
    "calendar_issue": "1:Email>Outlook *8 | 3:Email>Mailbox Changes *2",
    "email_not_receiving": "Email>Delivery",
    "email_bounce": "Email>Delivery",
    "spam_quarantine": "Email>Spam Filter *9 | Security>Phishing *1",
    "teams_calls": "Collaboration>Teams *9 | Hardware>Monitor & Peripherals *1",
    "teams_chat": "Collaboration>Teams",
    "onedrive_sync": "Collaboration>SharePoint & OneDrive",
    "sharepoint_permissions": "1:Collaboration>SharePoint & OneDrive *7 | 3:Accounts>Access Request *3",
    "distribution_list": "3:Email>Mailbox Changes",
    "mailbox_full": "1:Email>Outlook *7 | 3:Email>Mailbox Changes *3",
    "exo_admin": "3:Email>Mailbox Changes",
    "printer_offline": "Printing>Printer",
    "paper_jam": "Printing>Printer",
    "print_quality": "Printing>Printer",
    "toner": "1:Printing>Printer *8 | 3:Procurement>Quote *2",
    "scan_to_email": "Printing>Scanning",
    "print_driver": "Printing>Printer",
    "laptop_no_boot": "Hardware>Laptop",
    "laptop_battery": "Hardware>Laptop",
    "laptop_screen": "Hardware>Laptop",
    "laptop_keyboard": "Hardware>Laptop",
    "pc_slow": "Hardware>Laptop *3 | Hardware>Desktop *3 | Software>Windows *3",
    "desktop_no_boot": "Hardware>Desktop",
    "desktop_noise": "Hardware>Desktop",
    "monitor_nosignal": "Hardware>Monitor & Peripherals",
    "monitor_flicker": "Hardware>Monitor & Peripherals",
    "dock_displays": "Hardware>Monitor & Peripherals *8 | Hardware>Laptop *2",
    "dock_usb": "Hardware>Monitor & Peripherals *8 | Hardware>Laptop *2",
    "peripheral": "Hardware>Monitor & Peripherals",
    "headset_webcam": "Hardware>Monitor & Peripherals *7 | Collaboration>Teams *3",
    "scanner_device": "Printing>Scanning *6 | Hardware>Monitor & Peripherals *4",
    "mobile_phone": "1:Hardware>Mobile Device *9 | 3:Hardware>Mobile Device *1",
    "tablet": "1:Hardware>Mobile Device",
    "excel": "Software>Microsoft Office",
    "word": "Software>Microsoft Office",
    "office_activation": "1:Software>Microsoft Office *8 | 3:Software>Licensing *2",
    "lob_practice": "Software>Line of Business",
    "lob_accounting": "Software>Line of Business",
    "lob_legal": "Software>Line of Business",
    "lob_erp": "Software>Line of Business",
    "adobe_pdf": "1:Software>Other Application *8 | 3:Software>Licensing *2",
    "browser_issue": "Software>Other Application *7 | Security>Malware *3",
    "windows_update": "Software>Windows",
    "bsod": "Software>Windows *7 | Hardware>Laptop *3",
    "windows_profile": "Software>Windows",
    "software_update": "3:Software>Installation *7 | 1:Software>Other Application *3",
    "vpn_connect": "Network>VPN",
    "vpn_slow": "Network>VPN",
    "wifi_connect": "Network>Wi-Fi",
    "wifi_weak": "Network>Wi-Fi",
    "internet_down": "Network>Internet",
    "internet_slow": "Network>Internet",
    "firewall_rule": "3:Network>Firewall Change",
    "blocked_website": "1:Network>Firewall *6 | 3:Network>Firewall Change *4",
    "switch_cabling": "Network>LAN / Switching",
    "dns_dhcp": "Network>LAN / Switching",
    "phishing_report": "Security>Phishing *8 | Email>Spam Filter *2",
    "phishing_clicked": "Security>Phishing *7 | Security>Compromised Account *3",
    "malware_detect": "Security>Malware",
    "ransomware": "Security>Malware",
    "compromised_account": "Security>Compromised Account",
    "edr_fp": "Security>Malware *6 | Alert>Antivirus *4",
    "security_training": "1:General>Question *6 | 1:Security>Phishing *4",
    "deskphone": "Telephony>Desk Phone",
    "call_quality": "Telephony>Call Quality",
    "voicemail": "3:Telephony>Changes *6 | 1:Telephony>Desk Phone *4",
    "call_routing": "3:Telephony>Changes",
    "softphone": "1:Telephony>Desk Phone *7 | 1:Telephony>Call Quality *3",
    "restore_file": "3:Backup>Restore Request",
    "restore_mailbox": "3:Backup>Restore Request",
    "backup_failure_user": "1:Backup>Backup Failure",
    "backup_m365": "1:Backup>Backup Failure",
    "dr_test": "3:Backup>Restore Request",
    "server_slow": "Server>Performance",
    "server_disk": "Server>Storage",
    "server_hw": "Server>Hardware",
    "hyperv": "Server>Virtualisation",
    "vmware": "Server>Virtualisation",
    "file_share": "1:Server>File Share *7 | 1:Accounts>Access Issue *3",
    "ssl_cert": "Server>Certificates",
    "server_patching": "1:Alert>Patching *7 | 1:Software>Windows *3",
    "license_assign": "3:Software>Licensing",
    "license_remove": "3:Software>Licensing *7 | 3:Accounts>Leaver *3",
    "intune": "1:Hardware>Mobile Device *7 | 1:Software>Windows *3",
    "entra": "3:Accounts>Access Request *6 | 1:Accounts>Access Issue *4",
    "tenant_admin": "3:General>Question *6 | 3:Accounts>Access Request *4",
    "new_user": "3:Accounts>New Starter",
    "new_user_equipment": "3:Accounts>New Starter *6 | 3:Hardware>New Equipment *4",
    "termination": "3:Accounts>Leaver",
    "name_change": "3:Email>Mailbox Changes *8 | 3:Accounts>Access Request *2",
    "quote_hw": "3:Procurement>Quote",
    "quote_sw": "3:Procurement>Quote *7 | 3:Software>Licensing *3",
    "software_install": "3:Software>Installation",
    "new_equipment": "3:Hardware>New Equipment *7 | 3:Procurement>Quote *3",
    "mac_move": "3:Hardware>New Equipment *4 | 3:Telephony>Changes *3 | 3:General>Question *3",
    "howto": "1:General>Question *8 | 3:General>Question *2",
    "misc": "1:General>Question",
    "vague_cant_work": "General>Question *4 | Network>Internet *3 | Hardware>Desktop *3",
    "alert_disk": "Alert>Disk Space *9 | Server>Storage *1",
    "alert_cpu": "Alert>Performance *9 | Server>Performance *1",
    "alert_memory": "Alert>Performance",
    "alert_offline": "Alert>Offline",
    "alert_agent_offline": "Alert>Offline",
    "alert_website": "Alert>Offline",
    "alert_service": "Alert>Service",
    "alert_eventlog": "Alert>Service",
    "alert_backup_failed": "Alert>Backup *6 | Backup>Backup Failure *4",
    "alert_backup_missed": "Alert>Backup",
    "alert_screenshot": "Alert>Backup",
    "alert_av": "Alert>Antivirus *7 | Security>Malware *3",
    "alert_failed_logins": "Security>Compromised Account *6 | Alert>Antivirus *4",
    "alert_patch": "Alert>Patching",
    "alert_reboot": "Alert>Patching",
    "alert_ups": "Alert>Hardware",
    "alert_temp": "Alert>Hardware",
    "alert_smart": "Alert>Hardware *5 | Server>Hardware *5",
    "alert_raid": "Server>Hardware *5 | Alert>Hardware *5",
    "alert_cert": "Server>Certificates",
}

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
MSP_TECHS = ["Marcus Reyes", "Priya Natarajan", "Dan Kowalski", "Keisha Brooks", "Tom Lindqvist", "Ana Ferreira"]

FEMALE = [
    "Jennifer",
    "Maria",
    "Linda",
    "Patricia",
    "Emily",
    "Sarah",
    "Jessica",
    "Ashley",
    "Megan",
    "Rachel",
    "Laura",
    "Nicole",
    "Kim",
    "Denise",
    "Tanya",
    "Grace",
    "Olivia",
    "Sofia",
    "Aisha",
    "Mei",
    "Priscilla",
    "Brenda",
    "Carmen",
    "Hannah",
    "Chloe",
    "Fatima",
    "Rosa",
    "Yuki",
    "Deb",
    "Lucia",
    "Ingrid",
    "Tamara",
    "Shanice",
    "Beth",
    "Margaret",
    "Anjali",
    "Nadia",
    "Claire",
]
MALE = [
    "James",
    "Robert",
    "Michael",
    "David",
    "Chris",
    "Brian",
    "Kevin",
    "Jason",
    "Matt",
    "Tyler",
    "Jose",
    "Luis",
    "Ahmed",
    "Wei",
    "Raj",
    "Tom",
    "Greg",
    "Derek",
    "Marcus",
    "Samuel",
    "Omar",
    "Andre",
    "Paul",
    "Steve",
    "Hector",
    "Ivan",
    "Kenji",
    "Frank",
    "Nathan",
    "Trevor",
    "Dmitri",
]
LAST = [
    "Smith",
    "Johnson",
    "Garcia",
    "Nguyen",
    "Patel",
    "Okafor",
    "Kowalski",
    "Murphy",
    "Rossi",
    "Hernandez",
    "Kim",
    "Chen",
    "O'Brien",
    "Schultz",
    "Dubois",
    "Haddad",
    "Novak",
    "Larsen",
    "Brooks",
    "Adeyemi",
    "Whitaker",
    "Delgado",
    "Fitzgerald",
    "Yamamoto",
    "Ivanova",
    "Castillo",
    "Moreau",
    "Bergstrom",
    "Abernathy",
    "Pham",
    "Singh",
    "Mendes",
    "Holloway",
    "Quinn",
    "Baptiste",
    "Lindgren",
    "McAllister",
    "Vasquez",
    "Thornton",
    "Achebe",
    "Kaur",
    "Reinholt",
    "Sato",
    "Petrov",
]
FOREIGN_NAMES = {
    "de": (
        ["Anna", "Katrin", "Sabine", "Julia"],
        ["Thomas", "Jürgen", "Stefan", "Markus"],
        ["Müller", "Schneider", "Becker", "Hoffmann", "Wagner"],
    ),
    "es": (
        ["Lucía", "María José", "Guadalupe", "Carmen"],
        ["Alejandro", "Javier", "Miguel", "Luis"],
        ["García", "Martínez", "Hernández", "López", "Ramírez"],
    ),
    "fr": (
        ["Camille", "Élodie", "Nathalie", "Sophie"],
        ["Julien", "François", "Mathieu", "Olivier"],
        ["Tremblay", "Gagnon", "Roy", "Côté", "Bouchard"],
    ),
    "nl": (
        ["Sanne", "Lotte", "Femke", "Anouk"],
        ["Daan", "Joost", "Pieter", "Ruud"],
        ["de Vries", "Jansen", "Bakker", "Visser", "van Dijk"],
    ),
}


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


DISCLAIMERS = {
    "law": (
        "CONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the sole use of "
        "the intended recipient(s) and may contain confidential and privileged information protected by "
        "the attorney-client privilege or the attorney work product doctrine. Any unauthorized review, "
        "use, disclosure or distribution is prohibited. If you are not the intended recipient, please "
        "contact the sender by reply e-mail and destroy all copies of the original message."
    ),
    "dental": (
        "This message may contain protected health information (PHI) that is privileged and confidential "
        "under HIPAA. If you are not the intended recipient, you are hereby notified that any review, "
        "dissemination or copying is strictly prohibited. If you received this message in error, please "
        "notify the sender immediately and delete it."
    ),
    "accounting": (
        "IRS Circular 230 Disclosure: To ensure compliance with requirements imposed by the IRS, we inform "
        "you that any U.S. federal tax advice contained in this communication (including any attachments) "
        "is not intended or written to be used, and cannot be used, for the purpose of avoiding penalties. "
        "Please never send Social Security numbers or bank details by unencrypted e-mail - use our secure "
        "client portal."
    ),
    "manufacturing": (
        "This e-mail and any files transmitted with it are confidential and intended solely for the use "
        "of the individual or entity to whom they are addressed. If you have received this e-mail in "
        "error please notify the system manager. Please consider the environment before printing this "
        "e-mail."
    ),
    "generic": (
        "The information contained in this email is intended only for the person or entity to which it "
        "is addressed and may contain confidential material. If you received this in error, please "
        "contact the sender and delete the material from any computer."
    ),
}

COMPANIES = [
    Company(
        "Bright Smile Dental",
        "dental",
        "brightsmiledental.example.com",
        "BSD",
        ("1420 Maple Ave, Suite 200", "Springfield, IL 62704"),
        ("Dentrix", "Dexis"),
        DISCLAIMERS["dental"],
        ("the Brother printer at the front desk", "the Ricoh copier in the back", "the label printer"),
        ("front desk", "Oak Park office"),
        ("es",),
        5,
    ),
    Company(
        "Lakeside Family Dentistry",
        "dental",
        "lakesidedentistry.example.org",
        "LFD",
        ("88 Shoreline Dr", "Madison, WI 53703"),
        ("Open Dental", "Sidexis"),
        DISCLAIMERS["dental"],
        ("the HP in the sterilization hallway", "the front office printer"),
        ("front office", "Op 4"),
    ),
    Company(
        "Harper & Vance LLP",
        "law",
        "harpervance.example.com",
        "HV",
        ("500 Commerce St, 14th Floor", "Dallas, TX 75202"),
        ("Clio", "Worldox", "PCLaw"),
        DISCLAIMERS["law"],
        ("the Canon copier on 14", "the HP LaserJet by the kitchen", "my desk printer"),
        ("14th floor", "Fort Worth office"),
        (),
        5,
    ),
    Company(
        "Okafor Legal Group",
        "law",
        "okaforlegal.example.org",
        "OLG",
        ("2200 Peachtree Rd NE, Suite 310", "Atlanta, GA 30309"),
        ("NetDocuments", "PCLaw", "Clio"),
        DISCLAIMERS["law"],
        ("the Xerox in the file room", "the printer by reception"),
        ("main office", "Decatur office"),
    ),
    Company(
        "Whitfield & Moss CPAs",
        "accounting",
        "whitfieldmoss.example.com",
        "WM",
        ("310 N Main St", "Columbus, OH 43215"),
        ("QuickBooks Desktop", "Drake Tax", "CCH Axcess"),
        DISCLAIMERS["accounting"],
        ("the big Konica copier", "the HP upstairs"),
        ("upstairs", "downstairs"),
        (),
        5,
    ),
    Company(
        "Meridian Tax & Advisory",
        "accounting",
        "meridiantax.example.org",
        "MTA",
        ("75 Harbor View Blvd", "Tampa, FL 33602"),
        ("Lacerte", "UltraTax", "QuickBooks Online"),
        DISCLAIMERS["accounting"],
        ("the Sharp copier", "the printer in the partners' hallway"),
        ("main office", "Clearwater satellite office"),
        ("es",),
    ),
    Company(
        "Kessler Precision Machining",
        "manufacturing",
        "kesslerprecision.example.com",
        "KPM",
        ("4100 Industrial Pkwy", "Grand Rapids, MI 49512"),
        ("Epicor", "SolidWorks", "Mastercam"),
        DISCLAIMERS["manufacturing"],
        ("the shop floor Zebra printer", "the plotter in engineering", "the Kyocera in the office"),
        ("shop floor", "Stuttgart sales office", "Eindhoven office"),
        ("de", "nl"),
        5,
    ),
    Company(
        "Northgate Plastics Inc.",
        "manufacturing",
        "northgateplastics.example.org",
        "NGP",
        ("901 Ridge Rd", "Akron, OH 44311"),
        ("JobBOSS", "SolidWorks"),
        DISCLAIMERS["manufacturing"],
        ("the shipping printer", "the copier in the front office"),
        ("plant 2", "Monterrey plant"),
        ("es",),
    ),
    Company(
        "Pinecrest Veterinary Hospital",
        "vet",
        "pinecrestvet.example.com",
        "PVH",
        ("16 Birch Ln", "Bend, OR 97701"),
        ("AVImark", "IDEXX VetConnect"),
        DISCLAIMERS["generic"],
        ("the front desk printer", "the lab printer"),
        ("front desk", "surgery"),
    ),
    Company(
        "Alder Street Property Management",
        "property",
        "alderstreetpm.example.org",
        "ASP",
        ("1208 Alder St", "Portland, OR 97205"),
        ("AppFolio", "QuickBooks Online"),
        DISCLAIMERS["generic"],
        ("the Canon in the leasing office", "the printer by my desk"),
        ("leasing office", "main office"),
    ),
    Company(
        "Cobalt Ridge Architects",
        "architecture",
        "cobaltridge.example.com",
        "CRA",
        ("42 Granite Way", "Denver, CO 80202"),
        ("Revit", "AutoCAD", "Bluebeam"),
        DISCLAIMERS["generic"],
        ("the big plotter", "the Ricoh in the studio"),
        ("studio", "Montréal office"),
        ("fr",),
        4,
    ),
    Company(
        "Hopewell Community Foundation",
        "nonprofit",
        "hopewellcf.example.org",
        "HCF",
        ("9 Chapel St", "Providence, RI 02903"),
        ("Raiser's Edge", "QuickBooks Online"),
        DISCLAIMERS["generic"],
        ("the copier", "the printer in the program office"),
        ("main office",),
    ),
]

# Which client industries a concept can come from (default: any).
INDUSTRY_LIMITS = {
    "lob_practice": ("dental", "vet"),
    "lob_accounting": ("accounting", "nonprofit", "property"),
    "lob_legal": ("law",),
    "lob_erp": ("manufacturing", "architecture"),
    "tablet": ("dental", "vet", "property"),
    "scanner_device": ("dental", "accounting", "law", "property"),
}

TITLES = {
    "dental": [
        "Office Manager",
        "Dental Hygienist",
        "Front Desk Coordinator",
        "Dental Assistant",
        "Billing Specialist",
        "Practice Administrator",
        "Treatment Coordinator",
    ],
    "vet": ["Practice Manager", "Veterinary Technician", "Client Service Representative", "Associate Veterinarian"],
    "law": [
        "Paralegal",
        "Legal Assistant",
        "Senior Associate",
        "Partner",
        "Office Administrator",
        "Docketing Clerk",
        "Legal Secretary",
    ],
    "accounting": [
        "Staff Accountant",
        "Tax Manager",
        "Senior Auditor",
        "Bookkeeper",
        "Office Manager",
        "Controller",
        "Client Services Coordinator",
    ],
    "manufacturing": [
        "Production Supervisor",
        "Quality Engineer",
        "Purchasing Manager",
        "CAD Designer",
        "Shipping Coordinator",
        "Plant Manager",
        "Inside Sales",
        "HR Generalist",
    ],
    "property": ["Leasing Agent", "Property Manager", "Maintenance Coordinator", "Accounts Receivable Specialist"],
    "architecture": ["Project Architect", "Designer", "Studio Manager", "BIM Coordinator", "Principal"],
    "nonprofit": [
        "Program Coordinator",
        "Development Director",
        "Grants Manager",
        "Executive Director",
        "Finance Manager",
    ],
}
# What the people a client serves are called (used as {clients} in phrasings).
CLIENT_NOUN = {
    "dental": "patients",
    "vet": "clients",
    "law": "clients",
    "accounting": "clients",
    "manufacturing": "customers",
    "property": "tenants",
    "architecture": "clients",
    "nonprofit": "visitors",
}
# Local offices of the clients whose staff write in other languages.
LOCAL_OFFICES = {
    ("KPM", "de"): ("Kessler Precision GmbH", "Königstraße 12", "70173 Stuttgart"),
    ("KPM", "nl"): ("Kessler Precision B.V.", "Stationsplein 8", "5611 AB Eindhoven"),
    ("CRA", "fr"): ("Cobalt Ridge Architectes", "1250 rue Peel, bureau 400", "Montréal (QC) H3B 4W8"),
    ("NGP", "es"): ("Northgate Plásticos de México", "Av. Constitución 1500", "Monterrey, N.L. 64000"),
}
FOREIGN_MONTHS = {
    "de": [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    "es": [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "nl": [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
}
FOLDERS = [
    "Clients\\2025\\Tax Returns",
    "HR\\Payroll",
    "Projects\\2026\\Riverside Clinic",
    "Accounting\\AP Invoices",
    "Marketing\\Logos",
    "Shared\\Forms",
    "Closing Binders",
    "Engineering\\Drawings\\Rev C",
    "Patient Forms",
    "Leases\\2026 Renewals",
    "Grants\\FY26",
    "Litigation\\Morrison v. Delacroix",
    "Quality\\ISO Audit",
]
VENDORS = [
    "Henry Schein",
    "Patterson Dental",
    "Grainger",
    "Uline",
    "ADP",
    "Paychex",
    "Staples",
    "McMaster-Carr",
    "Thomson Reuters",
    "CDW",
    "the landlord",
]
EXT_DOMAINS = [
    "lakeview-holdings.example.org",
    "summitpartners.example.com",
    "clientmail.example.net",
    "acme-supply.example.com",
    "rivera-family.example.org",
    "midwestbank.example.com",
]
PASSWORDS = [
    "Summer2026!",
    "Welcome2026!",
    "Winter2025#",
    "P@ssw0rd123",
    "Spring2026$",
    "Bluecrest1!",
    "Tr0ub4dor&3",
    "Harbor#2026",
]
API_KEYS = ["4f9d2c7e81b04a6e9c3d5f7a1b2e8c60", "d41c8e5b7a2f49c0b3e6a9d1f0c27b58", "9b2e7f10c4ad4e6bb5c1d8e3a7f09d42"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

# =====================================================================================
# Hand-written phrasings: concept -> [(summary, body)]. Placeholders in {braces} are filled per
# ticket (people, hosts, apps...). Bodies are the "core" of a message; greetings, signatures,
# threads and the like are added around them later.
# =====================================================================================

WEIGHTS = {
    "password_locked": 34,
    "password_expired": 12,
    "vague_login": 6,
    "mfa_new_phone": 13,
    "mfa_no_prompt": 8,
    "share_drive_permission": 9,
    "app_access": 7,
    "ad_change": 3,
    "outlook_crash": 17,
    "outlook_search": 5,
    "shared_mailbox_request": 9,
    "calendar_issue": 7,
    "email_not_receiving": 12,
    "email_bounce": 8,
    "spam_quarantine": 10,
    "teams_calls": 8,
    "teams_chat": 4,
    "onedrive_sync": 10,
    "sharepoint_permissions": 5,
    "distribution_list": 4,
    "mailbox_full": 5,
    "exo_admin": 5,
    "printer_offline": 17,
    "paper_jam": 6,
    "print_quality": 5,
    "toner": 7,
    "scan_to_email": 9,
    "print_driver": 5,
    "laptop_no_boot": 8,
    "laptop_battery": 5,
    "laptop_screen": 5,
    "laptop_keyboard": 3,
    "pc_slow": 11,
    "desktop_no_boot": 4,
    "desktop_noise": 2,
    "monitor_nosignal": 5,
    "monitor_flicker": 3,
    "dock_displays": 6,
    "dock_usb": 2,
    "peripheral": 5,
    "headset_webcam": 6,
    "scanner_device": 2,
    "mobile_phone": 6,
    "tablet": 2,
    "excel": 7,
    "word": 4,
    "office_activation": 5,
    "lob_practice": 7,
    "lob_accounting": 6,
    "lob_legal": 4,
    "lob_erp": 5,
    "adobe_pdf": 5,
    "browser_issue": 4,
    "windows_update": 5,
    "bsod": 4,
    "windows_profile": 4,
    "software_update": 3,
    "vpn_connect": 12,
    "vpn_slow": 5,
    "wifi_connect": 6,
    "wifi_weak": 3,
    "internet_down": 7,
    "internet_slow": 4,
    "firewall_rule": 3,
    "blocked_website": 4,
    "switch_cabling": 3,
    "dns_dhcp": 2,
    "phishing_report": 13,
    "phishing_clicked": 4,
    "malware_detect": 3,
    "ransomware": 1,
    "compromised_account": 4,
    "edr_fp": 2,
    "security_training": 2,
    "deskphone": 5,
    "call_quality": 4,
    "voicemail": 4,
    "call_routing": 3,
    "softphone": 2,
    "restore_file": 7,
    "restore_mailbox": 2,
    "backup_failure_user": 2,
    "backup_m365": 1,
    "dr_test": 1,
    "server_slow": 3,
    "server_disk": 2,
    "server_hw": 1,
    "hyperv": 2,
    "vmware": 1,
    "file_share": 6,
    "ssl_cert": 2,
    "server_patching": 2,
    "license_assign": 6,
    "license_remove": 2,
    "intune": 3,
    "entra": 3,
    "tenant_admin": 1,
    "new_user": 12,
    "new_user_equipment": 4,
    "termination": 8,
    "name_change": 2,
    "quote_hw": 4,
    "quote_sw": 2,
    "software_install": 8,
    "new_equipment": 5,
    "mac_move": 3,
    "howto": 5,
    "misc": 3,
    "vague_cant_work": 4,
    # monitoring
    "alert_disk": 12,
    "alert_cpu": 6,
    "alert_memory": 4,
    "alert_offline": 8,
    "alert_agent_offline": 5,
    "alert_website": 2,
    "alert_service": 5,
    "alert_eventlog": 2,
    "alert_backup_failed": 9,
    "alert_backup_missed": 3,
    "alert_screenshot": 2,
    "alert_av": 4,
    "alert_failed_logins": 2,
    "alert_patch": 5,
    "alert_reboot": 2,
    "alert_ups": 2,
    "alert_temp": 1,
    "alert_smart": 2,
    "alert_raid": 2,
    "alert_cert": 2,
}

PHRASES: dict[str, list[tuple[str, str]]] = {
    "password_locked": [
        (
            "Locked out",
            "I'm locked out of my computer again. It says the account has been locked and to contact "
            "the administrator. Can someone unlock it asap, I have {clients} coming in at {time}.",
        ),
        (
            "can't log in!!!",
            "tried my password like 5 times and now it says my account is locked. i KNOW i typed it right. please fix",
        ),
        (
            "Account locked - {full}",
            "Good morning,\n\nI seem to have locked myself out after coming back from "
            "vacation. I think I may have used my old password out of habit. Could you please unlock my account "
            "and let me know if I need to reset it?",
        ),
        ("password reset", "need my password reset please. forgot it over the weekend"),
        (
            "Unable to sign in to {host}",
            'When I try to sign in to my PC ({host}) it says "The referenced '
            'account is currently locked out and may not be logged on to." I changed my password on my phone '
            "yesterday, not sure if that's related.",
        ),
        (
            "Locked out of everything",
            "I changed my password yesterday and now I'm locked out of my laptop, "
            "email and {app}. My phone keeps asking for the password too, maybe it's the phone locking me out with "
            "the old one?",
        ),
        (
            "pw reset for {colleague_f}",
            "Hi, {colleague_f} at the front desk is locked out and can't get into the "
            "computer. She's at ext {ext}. Can you reset it and call her with a temp password?",
        ),
        ("forgot password", "Hello, I forgot my password. Can you please reset it. Thank you"),
        (
            "locked out of windows",
            "It keeps saying incorrect password and then it locked me out. I did not change "
            "anything. Really need to get in, we have a filing deadline today.",
        ),
        (
            "Reset my password please",
            "Hi support, please reset the password for my account {email}. I'm working "
            "from home and the laptop won't accept my password anymore, I'm guessing it's locked.",
        ),
        ("cannot login", "Cant login. It says account locked out. I'm at the {site}, call me at {phone}"),
        (
            "Locked account",
            "My account got locked while I was on the remote desktop. Not sure what happened, I "
            "only tried once. Can you unlock it? I'll keep an eye on my cell.",
        ),
        ("Re: login", "still locked out, it's been an hour. can someone PLEASE call me back"),
        (
            "User locked out - {colleague_m}",
            "{colleague_m} locked himself out again (3rd time this month). Can "
            "you unlock him and maybe set a password he can actually remember lol. He's at {host}.",
        ),
    ],
    "password_expired": [
        (
            "Password expired",
            "My password expired this morning and when I try to change it, it says it doesn't "
            "meet the complexity requirements. What are the requirements??",
        ),
        (
            "password expiry message",
            "Keep getting a pop up saying my password will expire in 3 days. How do I "
            "change it from home? I'm not on the VPN.",
        ),
        (
            "can't change password",
            'It told me my password expired so I typed a new one and it says "Unable to '
            "update the password. The value provided for the new password does not meet the length, complexity, "
            "or history requirements of the domain.\" I've tried 4 different ones.",
        ),
        ("Expired pw", "pw expired, stuck at the change password screen, can't get past it. working remote"),
        (
            "Password change help",
            "Hi there,\n\nI got the notice that my password is expiring. Last time I changed "
            "it my Outlook and phone stopped working for a day. Can someone walk me through changing it so that "
            "doesn't happen again?",
        ),
        (
            "your password has expired",
            "Laptop says my password has expired and I must change it, but it won't "
            "let me because I'm not in the office. What do I do?",
        ),
    ],
    "vague_login": [
        ("can't get in", "can't get into anything this morning. help"),
        (
            "login problem",
            "Having trouble logging in since this morning. Not sure what's going on, it just keeps "
            "going back to the sign in screen.",
        ),
        ("Not able to log on", "I can't log on. I'm at the {site} today if that matters."),
        ("sign in issues", "Sign in isn't working for me. Tried a couple times. Can someone call me? {phone}"),
        (
            "Can't get into my computer",
            "Can't get in to my computer, it just says something went wrong. Tried restarting.",
        ),
    ],
    "mfa_new_phone": [
        (
            "New phone - authenticator",
            "I got a new phone over the weekend and now I can't get the Microsoft "
            "Authenticator codes. The old phone was traded in. How do I get back into my email?",
        ),
        (
            "MFA setup on new iPhone",
            "Hi,\n\nI upgraded to a new iPhone and need to move my authenticator over. I "
            "still have the old phone. Can you send instructions or reset my MFA so I can set it up again?",
        ),
        (
            "lost phone",
            "Lost my phone at the airport yesterday. I can't sign into anything because it wants the "
            "approval on my phone. Please help, I'm traveling until {day}.",
        ),
        (
            "authenticator app",
            "got a new samsung, the authenticator app is empty and it won't let me log in to "
            "outlook on the web. need mfa reset",
        ),
        (
            "Re-register MFA for {colleague_f}",
            "{colleague_f} broke her phone and got a replacement. She can't "
            "approve sign ins. Can you reset her multi-factor so she can re-enroll? She's in the office today.",
        ),
        (
            "new cell number",
            "I have a new cell number, the verification texts are still going to my old number. New number is {phone}.",
        ),
        ("2FA", "switched phones and now the two factor thing doesnt work. cant get into email or teams"),
    ],
    "mfa_no_prompt": [
        (
            "Not getting MFA prompt",
            "When I sign in to Office 365 it says it sent a notification to my phone but "
            "nothing shows up on the phone. Tried 3 times. The number matching thing never appears.",
        ),
        (
            "authenticator not working",
            "The authenticator keeps timing out. I'm getting the text code but it says "
            "the code is wrong. Yes I'm entering the latest one",
        ),
        (
            "verification code not arriving",
            "Not receiving the SMS verification code when logging into the "
            "portal. I've been waiting 10 minutes. My number hasn't changed.",
        ),
        (
            "approve sign in request never comes",
            'Outlook says "Approve sign in request - open your Authenticator '
            'app" and the app has nothing in it. Phone has signal, other apps work.',
        ),
    ],
    "share_drive_permission": [
        (
            "Access to {folder}",
            "Hi,\n\nCan you please give {colleague_f} read/write access to the {folder} folder "
            "on the S: drive? She's taking over some of my clients starting {day}.",
        ),
        (
            "access denied on shared drive",
            'I\'m getting "access denied" when I try to open the {folder} folder. I '
            "used to be able to get in there. Did something change?",
        ),
        (
            "Permissions request",
            "Please grant {newhire} access to the Accounting and HR folders on the file server. Approved by {mgr}.",
        ),
        (
            "can't save to S drive",
            "It lets me open files in {folder} but when I try to save it says I don't have "
            "permission. need this fixed today please",
        ),
        (
            "Remove access",
            "{colleague_f} moved to the warehouse team, please remove her access to the Finance "
            "share and give her the Shipping one instead.",
        ),
        (
            "folder permissions",
            "Can you lock down the {folder} folder so only me and {mgr} can see it? Right now "
            "the whole office can open it.",
        ),
    ],
    "app_access": [
        (
            "Need access to {app}",
            "Hi, I'm new in the billing department and need a login for {app}. My manager {mgr} approved it.",
        ),
        (
            "{app} permission error",
            'When I go to run the month end reports in {app} it says "you do not have '
            'permission to perform this action". I could do this last month.',
        ),
        ("Add user to {app}", "Please add {newhire} as a user in {app} with the same rights as {colleague}."),
        (
            "access to approve invoices",
            "I need to be able to approve invoices in {app} while {colleague_f} is on "
            "leave. Can you give me her permissions for 2 weeks?",
        ),
    ],
    "ad_change": [
        (
            "Update title in directory",
            "Can you update my job title in the company directory / Outlook address "
            "book to {title}? I was promoted last month. Thanks!",
        ),
        ("Add to security group", "Please add {colleague} to the VPN Users and Remote Desktop Users groups."),
        (
            "Manager field wrong",
            "In Teams and Outlook it still shows {mgr} as my manager but I report to "
            "{colleague} now. Can you update that?",
        ),
    ],
    "outlook_crash": [
        (
            "Outlook keeps crashing",
            "Outlook keeps crashing every time I open an email with an attachment. I get "
            'the "Microsoft Outlook has stopped working" message. Restarted twice already.',
        ),
        ("outlook not opening", "outlook wont open. just sits on the loading profile screen forever"),
        (
            "Outlook only opens in safe mode",
            "Hi,\n\nSince the update last night Outlook only opens in safe mode "
            "and my add-ins (the {app} toolbar) are gone. Can someone take a look when you get a chance?",
        ),
        (
            "OUTLOOK FROZE AGAIN",
            "this is the 3rd time this week outlook freezes and says not responding. i lose "
            "whatever email i was typing. this is really frustrating",
        ),
        (
            "Outlook disconnected",
            'Outlook says "Disconnected" at the bottom and no new emails are coming in but '
            "on my phone I have lots of new emails. Webmail works.",
        ),
        (
            "Outlook asking for password constantly",
            "Outlook keeps popping up asking for my password. I type it in "
            "and it comes right back a minute later. Already tried restarting the laptop.",
        ),
        (
            "new outlook",
            'My outlook changed to the "new Outlook" and I can\'t find my shared folders and '
            "signatures anymore. How do I get the old one back?",
        ),
        (
            "Outlook error on start",
            'Getting "Cannot start Microsoft Outlook. Cannot open the Outlook window. The '
            'set of folders cannot be opened." on {host}.',
        ),
        (
            "email program not working",
            "My email program is not working, it opens and then closes right away. "
            "I've been using webmail on my phone.",
        ),
        (
            "Outlook not responding",
            'Outlook goes white and "Not Responding" for a minute every time I switch '
            "folders. It's been getting worse all week.",
        ),
    ],
    "outlook_search": [
        (
            "Outlook search not working",
            "Search in Outlook doesn't return anything older than a couple weeks. I "
            "need to find an email from a client from last year.",
        ),
        (
            "can't find emails",
            "When I search for a name in outlook it says no results but I know the emails are there. Indexing?",
        ),
        ("search broken", 'outlook search shows "Something went wrong and your search couldn\'t be completed"'),
    ],
    "shared_mailbox_request": [
        (
            "Access to shared mailbox",
            "Please give me access to the billing@{domain} shared mailbox. {mgr} said it was OK.",
        ),
        (
            "Add {newhire} to front desk mailbox",
            "Hi, can you add {newhire} to the frontdesk mailbox and the "
            "scheduling calendar with edit rights? Thank you",
        ),
        (
            "calendar permissions",
            "I need {colleague_f} to be able to see and edit my calendar so she can schedule "
            "meetings for me. Can you set that up?",
        ),
        (
            "New shared mailbox",
            "We'd like a new shared mailbox for invoices@{domain} that the accounting team (3 "
            "people) can read and send from.",
        ),
        (
            "send as permission",
            'Can I get "send as" for the info@ mailbox? Replies currently go out from my own '
            "address and clients get confused.",
        ),
    ],
    "calendar_issue": [
        (
            "Shared calendar not showing",
            "The shared Appointments calendar disappeared from my Outlook. Everyone else can still see it.",
        ),
        (
            "meetings disappearing",
            "Meetings I accept are vanishing from my calendar. Happened twice this week, I "
            "missed a client call because of it.",
        ),
        (
            "Can't see {colleague_f}'s calendar",
            "When I try to open {colleague_f}'s calendar it says \"You do not "
            'have permission to see this calendar" but she says she shared it with me.',
        ),
        (
            "shared mailbox not updating",
            "The info@ shared mailbox in my Outlook hasn't updated since yesterday "
            "afternoon. The folder just shows old emails.",
        ),
        (
            "calendar invites wrong time",
            "All my calendar invites show up an hour off since last week. My computer clock is right.",
        ),
    ],
    "email_not_receiving": [
        (
            "Not receiving emails",
            "I haven't received any emails since about {time}. Sent myself a test from my gmail and it never arrived.",
        ),
        (
            "client says they emailed me",
            "A client says she sent me her documents twice yesterday but I never got "
            "them. Not in junk either. Can you check if something is blocking them? Her email is {ext_email}.",
        ),
        ("no email coming in", "no email coming in for the whole office since lunch?? sending works"),
        (
            "Missing emails from vendor",
            "Hi,\n\nWe stopped getting invoices from one of our suppliers ({vendor}). "
            "They say they're sending to ap@{domain}. Could you take a look at the logs?",
        ),
        ("emails delayed", "Emails are showing up 30-40 min late. Clients are calling to ask if I got their message."),
        (
            "Not getting emails from website form",
            "The contact form on our website used to email the front desk. Nothing has come through since {day}.",
        ),
    ],
    "email_bounce": [
        (
            "Undeliverable messages",
            "Every email I send to {ext_domain} comes back with an undeliverable message. "
            "Screenshot attached. It says something about 550 5.7.1 rejected.",
        ),
        ("bounce back", "my emails are bouncing back when I send to a client. worked last week"),
        (
            "Emails to clients rejected",
            "Several clients tell us our emails are going to their spam or getting "
            "rejected. One IT person mentioned our SPF or DKIM is failing. Can you check?",
        ),
        (
            "Mailbox unavailable error",
            "When I reply to {ext_email} I get \"Your message couldn't be delivered. "
            "The recipient's mailbox is full.\" Is that on their end or ours?",
        ),
        (
            "returned mail",
            "Getting returned mail saying message too large when I send the closing docs. It's only a few PDFs.",
        ),
    ],
    "spam_quarantine": [
        (
            "Lots of spam lately",
            "I'm getting a ton of spam the last few days, mostly fake invoices and \"your "
            'package is on hold" stuff. Can we tighten the filter?',
        ),
        (
            "email in quarantine",
            "I got a quarantine notification that an email from {ext_email} was held. It's a "
            "real client, can you release it and whitelist them?",
        ),
        (
            "legit emails going to junk",
            "Emails from our payroll company keep landing in Junk. Can you make sure they always come through?",
        ),
        (
            "quarantine digest",
            'What is this daily "quarantine digest" email I\'m getting? Is it safe to click release?',
        ),
        (
            "release held message",
            "There's a message held in quarantine from {vendor}, it's an invoice we need. Please release.",
        ),
    ],
    "teams_calls": [
        (
            "Teams audio not working",
            "In Teams meetings nobody can hear me. Mic works in other apps. I have a client meeting at {time}!!",
        ),
        (
            "teams call drops",
            "Teams calls keep dropping after about 5 minutes. Video freezes then it says reconnecting.",
        ),
        (
            "Can't hear in Teams",
            "Can't hear anyone on Teams calls but YouTube sound works fine. Headset is plugged in.",
        ),
        ("Teams camera", "Teams says no camera found even though the laptop has one. Other people can see me on Zoom."),
        ("screen share in teams", "When I share my screen in Teams people just see a black box."),
    ],
    "teams_chat": [
        (
            "Teams messages not syncing",
            "Teams chat on my laptop doesn't show messages I get on my phone. Signed out and in, didn't help.",
        ),
        (
            "Add me to Teams channel",
            "Can you add me to the Projects team in Teams? I can't see the channel {colleague} keeps mentioning.",
        ),
        (
            "Teams status stuck",
            "My Teams status is stuck on Away even when I'm working. Boss thinks I'm not at my desk lol",
        ),
    ],
    "onedrive_sync": [
        (
            "OneDrive not syncing",
            "OneDrive has a red X and says sync pending for 2 days. I'm worried my files aren't backed up.",
        ),
        (
            "files missing from OneDrive",
            "Some files in my Documents folder disappeared. OneDrive shows them in the web version but not on my PC.",
        ),
        (
            "sync conflicts",
            "I keep getting copies of excel files with my computer name at the end (-{host}). What "
            "is that and which one is the real one?",
        ),
        ("OneDrive full", "OneDrive says I'm out of space. I thought we had a terabyte?"),
        (
            "SharePoint library not syncing",
            "The Clients library from SharePoint stopped syncing to File Explorer. "
            'The green checkmarks are gone and it just says "Processing changes".',
        ),
    ],
    "sharepoint_permissions": [
        (
            "SharePoint access",
            'I\'m getting "You need permission to access this item" when clicking the link to '
            "the Procedures site. Can you give me access?",
        ),
        (
            "share folder with external",
            "How do I share a SharePoint folder with our outside auditor? It says "
            "sharing with external users is disabled.",
        ),
        (
            "Remove access from SharePoint",
            "Please remove {colleague} from the HR site in SharePoint, they should not have access anymore.",
        ),
    ],
    "distribution_list": [
        ("Add to distribution list", "Please add {newhire} to the allstaff@ and the {site} distribution lists."),
        ("Create email group", "Can we get an email group sales@{domain} that goes to me, {colleague} and {mgr}?"),
        ("DL not working", "Emails sent to team@ aren't reaching {colleague_f}. Is she on the list?"),
    ],
    "mailbox_full": [
        ("Mailbox full", "I'm getting a message that my mailbox is full and I can't send emails."),
        (
            "mailbox size",
            "Outlook says mailbox almost full, 49.5 GB of 50. What can I delete? I need to keep "
            "client emails for 7 years.",
        ),
        ("can't send - storage", "Can't send anything, it says my storage is full. Do I need to buy more?"),
    ],
    "exo_admin": [
        ("Forward email", "{colleague_f} is on maternity leave, please forward her emails to me until {date}."),
        ("Add email alias", "Can I get an alias billing@{domain} added to my mailbox?"),
        (
            "set up auto reply for {colleague_f}",
            "{colleague_f} left without setting an out of office. Can you set one up that says to contact {mgr}?",
        ),
    ],
    "printer_offline": [
        (
            "Printer offline",
            "The printer in the front office says offline on everyone's computer. We can't print anything.",
        ),
        ("cant print", "cant print. its says printer error. i restarted it already"),
        (
            "Printing issue - {printer}",
            "Hi,\n\nNone of my print jobs are going through to {printer}. They just "
            "sit in the queue. Others seem to be able to print though.",
        ),
        (
            "PRINTER!!!",
            "the printer is not working AGAIN. we have {clients} waiting for their paperwork. this is "
            "the third time this month.",
        ),
        (
            "printer not showing up",
            "The printer disappeared from my list of printers after the weekend. How do I add it back?",
        ),
        ("Printer", 'Printer at reception says "Ready" but nothing comes out. Jobs vanish from the queue.'),
        ("Unable to print from {app}", "I can print from Word but when I print from {app} nothing happens. No error."),
        (
            "printer says offline",
            "{printer} shows offline, the screen on the printer says it's connected to wifi "
            "though. Restarted the printer and my computer.",
        ),
        (
            "Can't print - urgent",
            "Need to print closing documents in 20 minutes and nothing is printing. Please call {phone}.",
        ),
    ],
    "paper_jam": [
        ("paper jam", "Paper jam in tray 2 on {printer} and I can't find the paper. Opened every door."),
        (
            "Printer jam keeps happening",
            "The big copier keeps jamming with the letterhead paper. Do we need a service call?",
        ),
        (
            "copier error code",
            "copier showing error J-0102 or something like that, says remove paper but there's nothing in there",
        ),
    ],
    "print_quality": [
        ("prints are streaky", "Everything printed from {printer} has a grey streak down the left side."),
        ("faded printing", "Prints are really faded and blotchy. Toner says 40%."),
        (
            "printing garbage characters",
            "The printer is printing pages of random symbols and letters when I print PDFs. Wasted half a ream.",
        ),
    ],
    "toner": [
        ("Toner low", "{printer} says toner low. Can you order more? Model is on the sticker, I think it's an HP 58A."),
        ("need toner", "need black toner for the upstairs printer. also yellow is almost out"),
        (
            "Supplies order",
            "Hi, could you please order 2 drums and toner for the Brother printer at the {site}? Thanks so much",
        ),
        ("replace toner message", "Printer keeps saying replace toner but we just put a new one in yesterday."),
    ],
    "scan_to_email": [
        (
            "Scan to email not working",
            "The copier won't scan to email anymore. It says \"SMTP authentication "
            'error" or something. We use this all day.',
        ),
        ("scanner not sending", "scans aren't showing up in my email. scanner says sent"),
        (
            "Scan to folder",
            "Scanning to the Scans folder on the server stopped working after the password change. "
            'Copier says "connection failed".',
        ),
        (
            "Add me to the scanner address book",
            "Can you add my email to the address book on the copier so I can scan to myself?",
        ),
        (
            "scans going to wrong person",
            "When I scan to my email from {printer} it goes to {colleague}'s inbox "
            "instead. Can you fix the address on the copier?",
        ),
    ],
    "print_driver": [
        ("printer driver", "When I try to add the printer it asks for a driver and I don't have admin rights."),
        ("print spooler", "Print spooler keeps stopping on my computer. Have to restart to print."),
        (
            "printing double sided",
            "How do I make double sided the default? It reset after the update and everything prints single sided now.",
        ),
    ],
    "laptop_no_boot": [
        (
            "Laptop won't turn on",
            "My laptop won't turn on. Plugged in overnight, the light comes on but the screen stays black.",
        ),
        ("laptop dead", "laptop is dead. nothing. tried a different charger"),
        (
            "Laptop stuck on boot",
            "My laptop is stuck on the Dell logo with the spinning circle. It has been like this for 30 minutes.",
        ),
        (
            "Laptop error on startup",
            'When I start my laptop ({host}) I get a screen saying "Preparing Automatic '
            "Repair\" and then it goes to a blue screen with options. I didn't do anything.",
        ),
        (
            "Bitlocker recovery key?",
            "My laptop is asking for a BitLocker recovery key when I turn it on. I don't "
            "know what that is. Can you give it to me?",
        ),
        ("laptop beeping no display", "The laptop beeps 3 times and nothing shows on the screen. Can I bring it in?"),
    ],
    "laptop_battery": [
        ("Laptop not charging", 'My laptop says "plugged in, not charging" and the battery is at 12%.'),
        (
            "battery swelling?",
            "The trackpad on my laptop is lifting up and the case seems bulged. Someone said "
            "this could be the battery?",
        ),
        ("battery drains fast", "Battery lasts maybe an hour now. It used to last all day."),
        ("charger broken", "my laptop charger stopped working, the cable is frayed near the plug. can I get a new one"),
    ],
    "laptop_screen": [
        ("laptop screen cracked", "I dropped my laptop and the screen is cracked. The bottom half is black."),
        ("Screen flickering on laptop", "The laptop screen flickers when I move the lid. External monitor works fine."),
        ("lines on screen", "There are green vertical lines on my laptop screen since this morning."),
    ],
    "laptop_keyboard": [
        (
            "keys not working",
            "Some keys on my laptop don't work (e, r, and 4). Spilled a little coffee last week, might be related...",
        ),
        ("trackpad not working", "Touchpad stopped working on my laptop. Mouse works if I plug one in."),
        ("keyboard typing wrong characters", 'My laptop keyboard types @ when I press " and the other way around.'),
    ],
    "pc_slow": [
        ("computer very slow", "My computer is extremely slow. Takes 10 minutes to boot and programs freeze."),
        ("slow", "pc is sooo slow today, can barely open anything. fan is going crazy"),
        (
            "Performance issues",
            "Hi,\n\nOver the last week my computer has become very sluggish, especially in the "
            "afternoon. Task Manager shows disk at 100%. Could someone remote in and take a look?",
        ),
        (
            "laptop running slow",
            "Laptop is really slow and keeps freezing for a few seconds at a time. It's only a year old.",
        ),
        (
            "everything is lagging",
            "Everything is lagging, even typing in Word has a delay. I have {app} and Outlook open, that's it.",
        ),
        ("workstation slow - {host}", "{host} is painfully slow since Tuesday. Takes a minute to open a folder."),
    ],
    "desktop_no_boot": [
        ("Computer won't start", "My desktop computer will not turn on. The power button light blinks orange."),
        ("PC won't boot", 'PC at the {site} won\'t boot, says "no bootable device".'),
        (
            "computer dead after power outage",
            "We had a power outage last night and now my computer won't turn on. The others are fine.",
        ),
    ],
    "desktop_noise": [
        ("computer making noise", "My computer is making a loud grinding noise from the tower. Getting louder."),
        ("PC overheating", "PC shuts off on its own after about an hour. The case is really hot."),
    ],
    "monitor_nosignal": [
        ("Monitor no signal", 'One of my monitors says "no signal" and goes to sleep. Cables look fine.'),
        ("second screen not working", "second screen not working since i came back from lunch"),
        ("Monitor won't turn on", "My monitor won't turn on at all, no light. Tried another outlet."),
    ],
    "monitor_flicker": [
        ("Monitor flickering", "The right monitor flickers every few seconds. Giving me a headache."),
        ("screen colors off", "My monitor has a pink tint. Tried the buttons on the monitor, didn't help."),
        (
            "display resolution wrong",
            "Everything on my monitor is huge and blurry now. The resolution changed on its own?",
        ),
    ],
    "dock_displays": [
        (
            "docking station not working",
            "When I plug my laptop into the docking station, the monitors don't come on. Keyboard and mouse work.",
        ),
        ("dock issue", "dock isn't detecting my external displays since the update. only laptop screen works"),
        (
            "Monitors not working with dock",
            "Hi,\n\nMy two monitors stopped working when connected through the "
            "dock. Tried unplugging everything. Works if I plug HDMI directly into the laptop.",
        ),
    ],
    "dock_usb": [
        (
            "USB ports on dock",
            "None of the USB ports on my docking station work. Have to plug the mouse into the laptop.",
        ),
        ("dock ethernet", "The network cable in my dock doesn't work, only wifi works when docked."),
    ],
    "peripheral": [
        ("mouse not working", "My mouse stopped working. Changed the battery."),
        ("Keyboard", "Keyboard at the front desk has sticky keys, need a new one."),
        ("wireless keyboard lag", "wireless keyboard and mouse keep lagging / disconnecting"),
    ],
    "headset_webcam": [
        ("headset not working", "My headset isn't working. People can't hear me on calls."),
        ("webcam", "Webcam shows a black screen. Need it for a client meeting this afternoon."),
        ("Need new headset", "Jabra headset broke (the mic arm snapped). Can we get a replacement?"),
        (
            "bluetooth headset won't pair",
            "Bluetooth headset won't pair with laptop anymore, it pairs with my phone fine.",
        ),
    ],
    "scanner_device": [
        (
            "ScanSnap not working",
            "The Fujitsu scanner on my desk doesn't scan anymore, the software says it can't find the scanner.",
        ),
        ("check scanner", "The check scanner isn't working, we can't deposit checks. It says device not detected."),
    ],
    "mobile_phone": [
        ("email on phone", "Email stopped working on my iPhone. It keeps asking for my password."),
        ("company phone", "My company phone screen is cracked and the touch doesn't work on the bottom."),
        (
            "set up email on new phone",
            "How do I set up my work email on my new Android phone? Outlook app says my "
            "organization requires something.",
        ),
        ("phone not syncing calendar", "Calendar on my phone doesn't show appointments I add from the computer."),
    ],
    "tablet": [
        ("check-in iPad", "The check-in iPad at the front desk is frozen on the Apple logo."),
        ("iPad won't connect", "The iPad we use for signatures won't connect to the wifi anymore."),
    ],
    "excel": [
        ("Excel crashing", "Excel crashes when I open the big budget spreadsheet. Other files open fine."),
        ("excel file locked", "excel says the file is locked for editing by another user but nobody has it open"),
        (
            "Excel formulas not calculating",
            "My formulas aren't updating unless I click in the cell and press enter. Is there a setting?",
        ),
        (
            "Excel macro blocked",
            'Getting "Microsoft has blocked macros from running because the source of this '
            'file is untrusted" on our quoting template.',
        ),
        ("spreadsheet won't open", "The timesheet spreadsheet on the S drive opens read-only for everyone today."),
    ],
    "word": [
        (
            "Word document won't open",
            "Word says the file is corrupt and can't be opened. It's a contract I worked on all day!!",
        ),
        ("word keeps freezing", "Word freezes whenever I try to use track changes on long documents."),
        ("Template missing", "Our letterhead template is gone from Word. It used to be in the New menu."),
    ],
    "office_activation": [
        (
            "Office unlicensed product",
            'Word and Excel say "Unlicensed Product" at the top and most features are greyed out.',
        ),
        (
            "Microsoft 365 sign in",
            "Office keeps asking me to sign in to activate. When I do, it says my account doesn't have a license.",
        ),
        ("Office activation error", "Getting error 0xCAA70007 when activating Office."),
    ],
    "lob_practice": [
        ("{app} won't open", "{app} won't open on the front desk computers. We have patients checking in. URGENT"),
        (
            "{app} error",
            "Getting a database connection error in {app} on all the computers in the back. Nobody can chart.",
        ),
        (
            "x-ray sensor",
            "The x-ray sensor isn't being picked up in {app} in room 3. The bridge says device not found.",
        ),
        ("{app} slow", "{app} is very slow today, takes forever to pull up a patient chart."),
        (
            "eligibility checks failing",
            "The insurance eligibility check in {app} gives an error for every patient today.",
        ),
    ],
    "lob_accounting": [
        ("{app} won't open company file", "{app} says the company file is in use and can't open in multi-user mode."),
        ("{app} update", "{app} is asking to install an update and needs the admin password. Can you do it tonight?"),
        (
            "e-file error",
            '{app} is throwing an error when e-filing returns: "transmission failed". We have a deadline!',
        ),
        ("{app} printing checks", "Checks are printing misaligned from {app}. Nothing changed on our end."),
    ],
    "lob_legal": [
        ("{app} not syncing", "{app} isn't syncing my time entries. Have 2 days of billable time not showing."),
        ("Document management issue", "When I save from Word to {app} it hangs and then says profile error."),
        ("{app} login", "Can't log into {app}, it says my license is in use on another computer."),
    ],
    "lob_erp": [
        ("{app} crash", "{app} crashes when I open an assembly with more than 200 parts."),
        ("ERP down", "{app} is not loading on the shop floor terminals. Can't clock jobs in."),
        ("{app} license server", "{app} says it can't reach the license server. Whole engineering team can't work."),
        ("{app} report", "The job costing report in {app} is showing zeros since yesterday."),
    ],
    "adobe_pdf": [
        (
            "Adobe keeps asking to sign in",
            "Adobe Acrobat keeps asking me to sign in and then says I don't have a license.",
        ),
        ("can't edit PDF", "I need to edit a PDF but Adobe only lets me read it. Do we have Acrobat Pro?"),
        ("PDFs opening in browser", "PDFs open in Edge instead of Adobe now. How do I change it back?"),
        ("Adobe crash", "Acrobat crashes when I try to combine files."),
    ],
    "browser_issue": [
        ("Chrome pop ups", "Chrome keeps showing pop ups saying my computer is infected. Is this real?"),
        (
            "website not loading",
            "The bank website doesn't load in Edge, it says \"This page isn't working\". It works in Chrome.",
        ),
        ("saved passwords gone", "All my saved passwords and bookmarks in Chrome are gone."),
        ("browser homepage changed", "My Edge homepage changed to some search site I've never heard of."),
    ],
    "windows_update": [
        ("Windows updates stuck", 'My computer has been "Working on updates 35%" for an hour.'),
        ("update keeps failing", "Windows keeps trying to install an update and fails every night, then restarts."),
        (
            "Can updates be after hours",
            "My laptop keeps restarting for updates in the middle of the day. Can that be scheduled for after hours?",
        ),
    ],
    "bsod": [
        (
            "Blue screen",
            "Got a blue screen with a sad face, said CRITICAL_PROCESS_DIED. Rebooted fine but happened twice today.",
        ),
        ("BSOD", "bsod again. memory management error. 3rd time this week"),
        ("computer crashed", "My computer suddenly went blue and restarted. I lost my work in {app}."),
    ],
    "windows_profile": [
        (
            "temporary profile",
            "When I logged in all my desktop icons were gone and it says \"You've been signed "
            'in with a temporary profile".',
        ),
        ("desktop is different", "My desktop background and files are gone after logging in. Is my stuff deleted??"),
        ("Slow login", 'Login takes forever, sits on "Preparing Windows" for 10 min.'),
    ],
    "software_update": [
        (
            "{app} update available",
            "{app} says a new version is available. Can you install it tonight on all computers?",
        ),
        ("Java update", "Our state portal needs a newer version of Java. Can you update it on my machine?"),
        ("app out of date", "{app} says this version is no longer supported and I need to update before {day}."),
    ],
    "vpn_connect": [
        (
            "VPN not connecting",
            'VPN won\'t connect from home. It says "The VPN connection attempt failed". '
            "Internet at home is working fine.",
        ),
        ("vpn", "vpn says authentication failed. pass is correct"),
        (
            "Can't connect remotely",
            "Hi,\n\nI'm working from home today and can't get connected to the office. "
            "FortiClient gets to 98% and then disconnects. Could someone help?",
        ),
        ("remote access down", "Nobody working remote can connect to the VPN this morning. 6 people so far."),
        (
            "VPN from hotel",
            "I'm at a conference and the VPN won't connect on the hotel wifi. Need to get to the S "
            "drive for a presentation at {time}.",
        ),
        ("GlobalProtect error", 'GlobalProtect says "Gateway not responding" when I try to connect.'),
        (
            "can't get to server from home",
            "Working from home and I can't get to {app} or my files. The little VPN icon just spins.",
        ),
    ],
    "vpn_slow": [
        ("VPN very slow", "VPN connects but everything is very slow, files on the server take minutes to open."),
        (
            "vpn keeps disconnecting",
            "VPN keeps disconnecting every 10-15 minutes. Have to reconnect each time and it kicks me out of {app}.",
        ),
    ],
    "wifi_connect": [
        (
            "Wifi not working",
            "My laptop won't connect to the office wifi. It says \"Can't connect to this "
            'network". Phone connects fine.',
        ),
        ("guest wifi", "What's the guest wifi password? Clients are asking and the sign at the front is outdated."),
        (
            "wifi in conference room",
            "Wifi doesn't work in the conference room, we have a client presentation at {time}.",
        ),
    ],
    "wifi_weak": [
        (
            "Weak wifi signal in back office",
            "Wifi signal is really weak in the back office. Calls drop and pages time out.",
        ),
        ("wifi keeps dropping", "wifi drops every few minutes on the upstairs floor"),
    ],
    "internet_down": [
        ("Internet down", "Internet is down at the {site}. Nobody can get online. Phones too."),
        ("no internet", "no internet in the whole office!!!!!"),
        (
            "Internet outage",
            "Hi,\n\nWe lost internet at about {time}. The modem has a red light. We called the ISP "
            "and they said there's no outage on their end. Can you check the firewall?",
        ),
        ("all down", "everything is down. cant get to email or the internet or anything"),
    ],
    "internet_slow": [
        ("Internet very slow", "Internet is crawling today. Speed test shows 3 Mbps. We pay for 500."),
        ("slow internet at the office", "Websites take forever to load in the office. At home it's fine."),
    ],
    "firewall_rule": [
        (
            "Open port for vendor",
            "Our {app} vendor needs port 8443 opened to our server for their support tool. "
            "Can you set that up? Their IP is {ext_ip}.",
        ),
        ("Whitelist IP", "Please allow connections from {ext_ip} (our new payroll vendor) to the SFTP server."),
        (
            "port forwarding for cameras",
            "We want to view the security cameras from our phones. The camera company "
            "says we need port forwarding. Can you do that?",
        ),
    ],
    "blocked_website": [
        (
            "Website blocked",
            "I can't get to a vendor's website, it says \"Blocked by web filter - category: "
            'uncategorized". I need it for work.',
        ),
        ("Site blocked", "the state licensing board site is being blocked. please unblock"),
        ("YouTube blocked", "Can we unblock YouTube for the marketing team? We need it for training videos."),
    ],
    "switch_cabling": [
        ("network jack not working", "The network jack at desk 14 doesn't work. Tried two different cables."),
        (
            "no network in back room",
            "The computers in the back room lost network. The switch under the desk has blinking orange lights.",
        ),
        ("need a network drop", "We need a network cable run to the new desk in the corner office."),
    ],
    "dns_dhcp": [
        ("IP conflict", 'Getting "Windows has detected an IP address conflict" on my computer.'),
        ("internal site not resolving", "Can't reach the intranet by name but it works with the IP {ip}."),
        ("no internet secured", 'Computer says "No internet, secured" and ipconfig shows a 169.254 address.'),
    ],
    "phishing_report": [
        (
            "Suspicious email",
            "I got this email saying my mailbox is full and to click a link to upgrade. It looks "
            "fake. Forwarding it to you. I did NOT click.",
        ),
        ("phishing?", "is this legit?? says its from {mgr} asking me to buy gift cards"),
        (
            "Possible phishing - DocuSign",
            "Hi,\n\nI received a DocuSign request from someone I don't know, with an "
            "attachment named \"Invoice_2026.html\". Didn't open it. Can you confirm it's a phish?",
        ),
        (
            "Fake invoice email",
            "Got an email from a vendor's address asking to update their bank details for "
            "payment. Their email looks right but the reply-to is different. Not sure if I should trust it.",
        ),
        (
            "Is this spam or a virus",
            "I got a voicemail notification email with an attachment. We don't get "
            "voicemails by email. Should I delete it?",
        ),
        (
            "Report phish",
            'Reporting phish. Subject was "ACTION REQUIRED: Password expires today". Sent to the '
            "whole office it looks like.",
        ),
        (
            "weird email from {colleague}",
            "Got an email from {colleague}'s address with a OneDrive link to \"review "
            "document\". Doesn't sound like them. Didn't click.",
        ),
    ],
    "phishing_clicked": [
        (
            "I clicked a link",
            "I think I clicked on a bad link in an email. It asked me to log in with my Microsoft "
            "account and I did. Then it just went to a blank page. What should I do?",
        ),
        (
            "opened attachment",
            "i opened an attachment from an email that i thought was from our bank. nothing happened. now im worried",
        ),
        (
            "entered password on fake site",
            "Ugh, I entered my email password on what I now think was a fake login page. Please help ASAP.",
        ),
    ],
    "malware_detect": [
        ("Virus warning", "A window popped up saying threat detected and quarantined. Should I be worried?"),
        (
            "computer acting weird",
            "My computer opens random browser windows by itself and there's a new toolbar I didn't install.",
        ),
        (
            "Antivirus alert on my laptop",
            "Got an alert from the antivirus about Trojan:Win32/something in my "
            "Downloads folder. It says it was removed.",
        ),
    ],
    "ransomware": [
        (
            "files renamed - can't open",
            "All the files in the shared folder have a weird extension and there is a "
            "text file called README_RESTORE. HELP",
        ),
        (
            "URGENT - files encrypted",
            "Nobody can open files on the S drive. They all have strange names. There's a "
            "note about paying in bitcoin.",
        ),
    ],
    "compromised_account": [
        (
            "My email sent spam",
            "Clients are telling me they got a weird email from me with a OneDrive link. I didn't send it!",
        ),
        (
            "MFA prompts I didn't request",
            "I keep getting approval requests on my phone that I didn't start. I "
            "denied them all. Is this something to worry about? Should I change my password?",
        ),
        (
            "sign in from another country",
            "Got an email from Microsoft about an unusual sign-in from another "
            "country on my account. I'm in the office.",
        ),
        (
            "hacked?",
            "I think my email got hacked, there are rules in my Outlook I didn't create and my Sent Items "
            "has emails I didn't send.",
        ),
    ],
    "edr_fp": [
        ("Antivirus blocking {app}", "The antivirus keeps blocking {app} from starting. It says suspicious behavior."),
        (
            "false positive",
            "SentinelOne quarantined our billing export tool. It's a legit program we've used for years.",
        ),
    ],
    "security_training": [
        (
            "Phishing test email?",
            'Was that "Benefits update" email a test from you guys? I clicked it and it '
            "said I failed a simulated phishing test.",
        ),
        (
            "security training",
            "When is the security awareness training due? I got a reminder but the link doesn't work.",
        ),
    ],
    "deskphone": [
        ("Phone not working", 'My desk phone has no dial tone. Says "No Service" on the screen.'),
        ("desk phone", "phone at desk 6 is dead, no lights"),
        ("phone stuck registering", 'Desk phone says "Registering..." since the morning and won\'t make calls.'),
    ],
    "call_quality": [
        ("Choppy calls", "Callers say I sound robotic and choppy. Happens on most calls today."),
        ("calls dropping", "Calls drop after about 30 seconds. Happened with 3 {clients} this morning."),
        ("echo on calls", "There's an echo on every call, the other person hears themselves."),
    ],
    "voicemail": [
        ("Voicemail greeting", "How do I change my voicemail greeting? I'm going on leave and need an away message."),
        ("voicemail PIN", "Forgot my voicemail PIN"),
        ("voicemail to email", "Can you set it up so voicemails come to my email?"),
    ],
    "call_routing": [
        (
            "Change after hours",
            "Please change our phones to go to the after hours message at 5pm instead of 6pm starting Monday.",
        ),
        ("Holiday schedule", "We're closed on {date}, can you put the holiday greeting on for that day?"),
        ("Add to ring group", "Please add {newhire} ext {ext} to the front desk ring group."),
    ],
    "softphone": [
        ("softphone app", 'The phone app on my laptop says "Not registered" and I can\'t make calls from home.'),
        ("phone app on cell", "How do I get the office phone app on my cell so I can take calls from home?"),
    ],
    "restore_file": [
        (
            "Deleted file",
            "I accidentally deleted a folder on the S: drive called {folder}. Can you restore it? It "
            "was there yesterday at {time}.",
        ),
        (
            "need previous version",
            "I saved over an Excel file by mistake this morning. Is there a backup from last night I can get back?",
        ),
        (
            "file restore request",
            "Hi,\n\nCould you please restore {folder}\\Engagement Letter.docx to how it was "
            "on {date}? Someone overwrote it.",
        ),
        ("recover file", "file is gone. was on my desktop. please help i need it for a meeting"),
    ],
    "restore_mailbox": [
        (
            "restore emails",
            "I deleted a bunch of emails and emptied Deleted Items. Can you get them back? They're "
            "from a client at {ext_domain}.",
        ),
        (
            "Need former employee's email",
            "We need to look at emails from {colleague} who left in October. Can you "
            "restore access to that mailbox for {mgr}?",
        ),
    ],
    "backup_failure_user": [
        (
            "Backup failed email",
            "We got an email overnight that says our backup failed. Forwarding in case you didn't see it.",
        ),
        ("Is our backup working?", "The backup box in the server closet has an orange light. Is our backup running?"),
    ],
    "backup_m365": [
        (
            "M365 backup warning",
            "Got a notice from the Microsoft 365 backup service that 3 mailboxes weren't backed up. Is that a problem?",
        ),
        (
            "OneDrive backup report",
            'The weekly cloud backup report says SharePoint backup "completed with errors". Can you check?',
        ),
    ],
    "dr_test": [
        (
            "DR test",
            "Our insurance wants proof we tested restoring from backup this year. Can you schedule a DR "
            "test and send us a report?",
        ),
        ("disaster recovery plan", "The auditors are asking for our disaster recovery plan and last test date."),
    ],
    "server_slow": [
        (
            "server slow",
            "Everything on the server is slow today, opening files on the S drive takes forever. "
            "Everyone's complaining.",
        ),
        ("{app} server slow", "The {app} server is really slow, reports that took 1 min take 15."),
        (
            "Remote desktop slow",
            "The remote desktop server is laggy for everyone, typing has a delay of a couple seconds.",
        ),
    ],
    "server_disk": [
        ("S drive full", "S: drive says it's full, can't save anything."),
        ("Out of space on server", 'Getting "There is not enough space" when saving to the shared drive.'),
    ],
    "server_hw": [
        ("Server beeping", "The server in the closet is beeping and has an orange light on the front."),
        ("Server won't start", "The server didn't come back after the power outage. Screen says fan failure."),
    ],
    "hyperv": [
        ("VM down", "The {app} VM isn't responding. Hyper-V shows it as running but can't RDP to it."),
        (
            "Hyper-V checkpoint",
            "Hyper-V host {srv} shows a checkpoint that's been there for months. Should that be merged?",
        ),
    ],
    "vmware": [
        ("ESXi host not responding", "vCenter shows host {srv} as not responding. VMs still seem to be up."),
        ("VMware tools", "vSphere says VMware Tools is out of date on most VMs. Can we schedule the upgrade?"),
    ],
    "file_share": [
        ("mapped drive missing", "My S: drive is gone from This PC. How do I get it back?"),
        (
            "can't see network drives",
            'None of my network drives are showing. It says "Could not reconnect all network drives".',
        ),
        ("shared folder not accessible", "Can't open \\\\{srv}\\Shared from my computer, says network path not found."),
    ],
    "ssl_cert": [
        ("Certificate error on website", 'Our website shows "Your connection is not private". A client told us.'),
        ("cert warning on portal", "The client portal shows a certificate expired warning."),
    ],
    "server_patching": [
        (
            "Schedule server patching",
            "Can you make sure the servers get patched this weekend and not during "
            "business hours? Last time it rebooted at 2pm.",
        ),
        (
            "Updates pending on server",
            "{srv} has a notification that updates are pending for 40 days. Should it be rebooted?",
        ),
    ],
    "license_assign": [
        ("License for new hire", "Please assign a Microsoft 365 license to {newhire}'s account."),
        ("Need Visio", "I need Visio for a project. Can we get a license?"),
        (
            "Upgrade license",
            "Can {colleague_f} get the Business Premium license instead of Basic? She needs the desktop apps.",
        ),
    ],
    "license_remove": [
        (
            "Remove licenses",
            "Please remove the Microsoft licenses from the 2 people who left last month so we stop paying for them.",
        ),
        ("too many licenses", "Our Microsoft bill went up. Can you check if we have unused licenses?"),
    ],
    "intune": [
        (
            "Phone says device not compliant",
            "My phone says \"Your device doesn't meet your organization's requirements\" when I open Outlook.",
        ),
        ("Enroll new laptop", "How do I enroll the new laptop in Company Portal? It gives error 80180014."),
    ],
    "entra": [
        (
            "Guest access for contractor",
            "We need to give a contractor guest access to our Teams and SharePoint. Their email is {ext_email}.",
        ),
        (
            "Conditional access blocking",
            "I'm blocked when signing in from my home computer: \"You cannot access "
            'this right now. Your sign-in was successful but does not meet the criteria to access this resource".',
        ),
    ],
    "tenant_admin": [
        ("Add domain", "We bought a new domain for the rebrand. Can you add it to our Microsoft 365?"),
        (
            "admin access for auditor",
            "Our auditor needs read-only access to our Microsoft 365 admin center for the security review.",
        ),
    ],
    "new_user": [
        (
            "New hire - {newhire}",
            "Hi,\n\nWe have a new employee starting {day}, {date}:\n\nName: {newhire}\nTitle: "
            "{title}\nManager: {mgr}\nNeeds: email, {app}, access to the S drive same as {colleague}",
        ),
        (
            "New user setup",
            "Please set up a new user account for {newhire} starting Monday. Same permissions as {colleague}.",
        ),
        ("new employee", "new girl starts monday, needs email and computer login. name is {newhire_f}"),
        (
            "Onboarding request",
            "Please onboard {newhire} ({title}). Start date {date}. Temporary password can be "
            "{pw} and they'll change it on first login.",
        ),
        (
            "New starter",
            "We've hired {newhire_f} as our new {title}. Can you create her accounts? She'll be using "
            "the desk that {colleague} had.",
        ),
        (
            "Account for new associate",
            "{newhire} is joining us {day}. Please create their network login, email and add them to {app}. Thanks!",
        ),
    ],
    "new_user_equipment": [
        (
            "Laptop for new hire",
            "{newhire} starts on {date}. They'll need a laptop, dock and 2 monitors set up at desk 12.",
        ),
        ("Setup computer for new employee", "Can you get the spare computer ready for {newhire}? Starting Monday."),
    ],
    "termination": [
        (
            "Employee termination - {colleague_f}",
            "Hi,\n\n{colleague_f}'s last day was today. Please disable her "
            "accounts, forward her email to {mgr}, and remove her from the phone system.",
        ),
        ("user leaving", "{colleague_m} is leaving Friday. turn off his access end of day please"),
        (
            "URGENT: terminate access",
            "Please disable {colleague_m}'s access IMMEDIATELY. He was let go this "
            "morning. Also change the alarm code -- I know that's not you guys, ignore that.",
        ),
        (
            "offboarding",
            "Offboarding request for {colleague}. Convert the mailbox to shared and give {mgr} access. "
            "Collect laptop {host}.",
        ),
        (
            "Departing employee",
            "{colleague} resigned, last day {date}. Please remove access after 5pm that day and keep the files.",
        ),
    ],
    "name_change": [
        ("Name change", "I got married! My last name is now {newlast}. Can you update my email and login?"),
        ("update display name", "Please change {colleague_f}'s display name, she goes by Kate now."),
    ],
    "quote_hw": [
        (
            "Quote for new laptops",
            "Can you send a quote for 3 new laptops for the accounting team? Similar to what we got last year.",
        ),
        ("Price for monitors", "How much would it be for 2 more monitors for the reception desk?"),
        ("Replace old PCs", "We have 4 computers that are still on Windows 10. What would it cost to replace them?"),
    ],
    "quote_sw": [
        ("Adobe licenses quote", "We need 2 more Adobe Acrobat Pro licenses. Please send pricing."),
        ("Pricing for Bluebeam", "Can you get us a quote for Bluebeam for 5 users?"),
    ],
    "software_install": [
        ("Install Zoom", "Can you install Zoom on my computer? It says I need admin rights."),
        ("Software install request", "Please install {app} on {host} for {newhire}."),
        ("need program installed", "need the new version of adobe reader on my pc, it wont let me install it"),
        ("Install printer software", "Please install the label printer software (DYMO Connect) on the front desk PC."),
        (
            "Admin rights",
            "I'm trying to install a plugin for Excel from our bank and it asks for an administrator password.",
        ),
    ],
    "new_equipment": [
        ("Need a second monitor", "Can I get a second monitor for my desk? {mgr} approved it."),
        (
            "new keyboard request",
            "Could we order an ergonomic keyboard and mouse for {colleague}? Doctor's recommendation.",
        ),
        ("Replacement laptop", "My laptop is 6 years old and struggling. Can I get a new one?"),
    ],
    "mac_move": [
        (
            "Desk move",
            "{colleague_f} is moving to the office next to mine on {day}. Need her computer and phone moved.",
        ),
        (
            "Office move",
            "We're moving the billing team to the second floor next week. 5 desks with computers and phones.",
        ),
    ],
    "howto": [
        ("How to share calendar", "How do I share my calendar with someone outside the company?"),
        ("question", "quick question, how do I set up my email signature in outlook?"),
        ("How to access files from home", "What's the best way to get to my files from home without the VPN?"),
        ("Teams background", "How do I blur my background in Teams?"),
        ("out of office", "How do I turn on my out of office? Going on vacation tomorrow."),
    ],
    "misc": [
        (
            "Question about invoice",
            'We received an invoice from you with a line for "backup storage overage". What is that?',
        ),
        ("TV in conference room", "The TV in the conference room won't show the laptop screen. HDMI cable connected."),
        ("Door badge", "My door badge isn't working. Is that something you handle?"),
    ],
    "vague_cant_work": [
        ("urgent", "Nothing is working. Please call me ASAP {phone}"),
        ("Help!", "Can someone call me? I can't do anything on my computer this morning."),
        ("issues", "having issues again. same as last week"),
    ],
}

# More phrasings, many of them deliberately borrowing another category's vocabulary (the password in an
# Outlook ticket, the wifi in a printer ticket...) so that no single keyword gives the answer away.
MORE_PHRASES: dict[str, list[tuple[str, str]]] = {
    "password_locked": [
        (
            "outlook and teams asking for password",
            "Outlook and Teams both keep saying my password is wrong and "
            "now Windows says my account is locked. I didn't change anything!",
        ),
        (
            "Can't log into email",
            "Can't log into my email or the computer, says too many attempts. I think my "
            "phone has the old password saved.",
        ),
    ],
    "password_expired": [
        (
            "password change on laptop",
            "Changed my password on the website like the email said but my laptop "
            "still wants the old one. Now I have two passwords??",
        ),
    ],
    "mfa_new_phone": [
        (
            "new phone, outlook app won't sign in",
            "I have a new work phone and when I try to sign into the Outlook "
            "app it asks for the authenticator code, which is on my old phone that I already wiped.",
        ),
        (
            "Authenticator moved?",
            "Hi, IT set up my new iPhone yesterday but my Authenticator didn't transfer. I can "
            "read email on the phone but can't sign in on the laptop.",
        ),
    ],
    "mfa_no_prompt": [
        (
            "Teams won't let me sign in",
            'Teams keeps saying "we sent a notification to your phone" and nothing '
            "comes. My password is fine, it's the phone approval part.",
        ),
    ],
    "share_drive_permission": [
        (
            "Need access for new hire",
            "{newhire} started today and can't open anything in the shared folders. "
            "Email and login work. Can you give them the same folder access as {colleague}?",
        ),
        (
            "read only on shared folder",
            "Everything in the {folder} folder opens read only for me since yesterday. "
            "Excel says I can't save changes.",
        ),
    ],
    "outlook_crash": [
        (
            "outlook freezing when attaching files",
            "Every time I try to attach a PDF from the S drive Outlook freezes and I have to close it in task manager.",
        ),
        (
            "Outlook won't load after password change",
            "I changed my password this morning and since then Outlook "
            'won\'t load past "Starting...". I can log into the computer fine with the new password.',
        ),
    ],
    "calendar_issue": [
        (
            "Outlook calendar on phone vs computer",
            "Appointments I make on my computer don't show on the shared "
            "calendar for the others. Phone shows them though.",
        ),
    ],
    "email_not_receiving": [
        (
            "not getting password reset emails",
            "I'm trying to reset my password on a vendor website but the reset "
            "email never arrives. Not in junk. Other emails are coming in.",
        ),
        (
            "emails from court not arriving",
            "We're not receiving the e-filing notifications from the court anymore. "
            "Our paralegal checked the spam folder.",
        ),
    ],
    "email_bounce": [
        (
            "everyone gets bounce backs from us?",
            "Half the emails the office sent this morning bounced with "
            '"554 5.7.1 Service unavailable; client host blocked". Are we blacklisted?',
        ),
    ],
    "spam_quarantine": [
        (
            "spam filter blocking client",
            "Our biggest client says their emails to us are getting rejected by our "
            "spam filter. Can you whitelist {ext_domain}?",
        ),
        (
            "too much junk",
            "My junk folder gets like 50 emails a day, some of them look like phishing. Can the filter "
            "catch more of it before it gets to me?",
        ),
    ],
    "teams_calls": [
        (
            "headset works in zoom not teams",
            "My headset works in Zoom and on the phone but in Teams the other side "
            "hears nothing. Selected the right device already.",
        ),
        (
            "teams video freezing",
            "Video freezes on every Teams call since we moved desks. Internet seems fine otherwise.",
        ),
    ],
    "onedrive_sync": [
        (
            "excel file won't save to onedrive",
            'Excel says "Upload blocked" when I save the budget file, and OneDrive has a yellow warning sign.',
        ),
        (
            "Desktop files not backing up",
            "I thought my desktop was backed up to OneDrive but I got a new laptop and the files aren't there.",
        ),
    ],
    "printer_offline": [
        (
            "printer not working since wifi change",
            "Since you changed the wifi password last week the printer in "
            "the back doesn't print. Says offline on my laptop.",
        ),
        (
            "print jobs stuck",
            'Print jobs stuck in the queue with "Error - printing". Deleted them and tried again, same.',
        ),
    ],
    "scan_to_email": [
        (
            "scanner stopped after password change",
            "The copier stopped sending scans to email after we changed the "
            "scanner@ mailbox password. Can you update it on the copier?",
        ),
    ],
    "vpn_connect": [
        (
            "can't reach S drive from home",
            "Working from home, the VPN says connected but I can't get to the S drive or {app}. It worked on Friday.",
        ),
        (
            "vpn password",
            "VPN keeps rejecting my password but I can log into email with the same password. Is the "
            "VPN a different password?",
        ),
    ],
    "internet_down": [
        (
            "internet and phones down",
            "Internet is out and the phones have no dial tone either. The ISP box is "
            "blinking red. We have {clients} calling.",
        ),
        (
            "Whole office offline",
            "Hi,\n\nNobody in the office can get to email, Teams or any websites since about "
            '{time}. Wifi shows connected but "no internet".',
        ),
    ],
    "phishing_report": [
        (
            "password expires today email",
            "Got an email saying my password expires today with a button to keep the "
            'same password. It\'s from "IT Support" but not your address. Phish?',
        ),
        (
            "fake Microsoft email",
            "Another fake Microsoft email, this one says my mailbox storage is full and to "
            "verify my account. Reporting as requested.",
        ),
    ],
    "new_user": [
        (
            "New employee next Monday",
            "Hello,\n\nPlease create an account for {newhire_f}, our new {title}, "
            "starting next Monday. She'll need email, the computer login and {app}. She can use the laptop from "
            "the front desk for now.",
        ),
        (
            "new hire - accounts",
            "new hire {newhire} starts {day}. needs email, teams, and access to the shared "
            "drive. laptop is already here",
        ),
    ],
    "termination": [
        (
            "remove {colleague} from systems",
            "{colleague} no longer works here as of today. Please block sign-in, "
            "forward emails to {mgr} for 30 days, and reset the voicemail.",
        ),
    ],
    "restore_file": [
        (
            "excel file overwritten",
            "Someone overwrote the shared schedule Excel file on the S drive this morning. "
            "Can you restore yesterday's version? Not the OneDrive one, the server one.",
        ),
    ],
    "software_install": [
        (
            "Install Teams on reception PC",
            "The reception PC doesn't have Teams. Can you install it? We'll use it for calls with the other office.",
        ),
    ],
    "pc_slow": [
        (
            "computer slow after update",
            "Ever since the updates on Tuesday my computer takes forever to do "
            "anything. Outlook and Excel both freezing.",
        ),
    ],
    "laptop_no_boot": [
        (
            "laptop won't start after update",
            "My laptop installed updates last night and now it won't start, just a black screen with a cursor.",
        ),
    ],
    "headset_webcam": [
        (
            "camera not working",
            "The webcam on the conference room computer isn't detected, we need it for a video "
            "call at {time}. Tried a different USB port.",
        ),
    ],
    "excel": [
        (
            "excel slow",
            "Excel is super slow with our shared workbook, takes a minute to recalculate. Is it my "
            "computer or the file?",
        ),
    ],
    "file_share": [
        (
            "S drive disconnected after VPN",
            "When I'm on the VPN the S: drive shows a red X and says disconnected. I have to map it again every day.",
        ),
    ],
    "license_assign": [
        ("Office says no license", "{newhire} can log in but Word and Excel say there's no license. Can you add one?"),
    ],
    "howto": [
        (
            "How do I change my password",
            "Just wondering how to change my password myself? It's not expired, I just want to change it.",
        ),
        ("recall an email", "How do I recall an email I sent to the wrong client?"),
    ],
    "toner": [
        ("order supplies", "We're on our last box of toner for the front printer. Can you order 3?"),
    ],
    "lob_practice": [
        ("{app} won't print", "{app} won't print walkout statements, the rest of the computer prints fine."),
    ],
    "deskphone": [
        (
            "no dial tone after desk move",
            "Moved desks and plugged my phone in, no dial tone. Computer in the same jack works.",
        ),
    ],
}
for _concept, _extra in MORE_PHRASES.items():
    PHRASES[_concept].extend(_extra)

# Non-English phrasings (about 5% of the user tickets): concept -> [(lang, summary, body)].
FOREIGN: dict[str, list[tuple[str, str, str]]] = {
    "password_locked": [
        (
            "de",
            "Konto gesperrt",
            "Hallo,\n\nich habe mich leider aus meinem Konto ausgesperrt, nachdem ich mein "
            "Passwort mehrmals falsch eingegeben habe. Können Sie es bitte entsperren?",
        ),
        (
            "es",
            "No puedo entrar",
            "Hola, no puedo iniciar sesión en la computadora, dice que mi cuenta está "
            "bloqueada. ¿Me pueden ayudar por favor? Tengo una reunión a las {time}.",
        ),
        (
            "nl",
            "Account geblokkeerd",
            "Hoi, mijn account is geblokkeerd na een paar keer een verkeerd wachtwoord. Kunnen jullie het vrijgeven?",
        ),
    ],
    "password_expired": [
        (
            "fr",
            "Mot de passe expiré",
            "Bonjour,\n\nmon mot de passe a expiré ce matin et je n'arrive pas à le "
            "changer, le système refuse tous les nouveaux mots de passe que j'essaie.",
        ),
        (
            "de",
            "Passwort abgelaufen",
            "Mein Passwort ist abgelaufen und ich kann es im Homeoffice nicht ändern. Was soll ich tun?",
        ),
    ],
    "printer_offline": [
        (
            "de",
            "Drucker offline",
            "Der Drucker im 2. OG wird bei allen als offline angezeigt. Neustart hat "
            "nichts gebracht. Wir müssen dringend Lieferscheine drucken.",
        ),
        (
            "es",
            "la impresora no funciona",
            "La impresora de la recepción no imprime, dice fuera de línea. Ya la reinicié dos veces.",
        ),
    ],
    "vpn_connect": [
        (
            "de",
            "VPN Verbindung geht nicht",
            "Seit heute Morgen kann ich mich im Homeoffice nicht mehr mit dem VPN "
            'verbinden. Fehlermeldung: "Anmeldung fehlgeschlagen". Internet funktioniert.',
        ),
        (
            "nl",
            "VPN verbinding mislukt",
            "Ik kan vanuit huis geen verbinding maken met de VPN. Foutmelding: "
            "verbinding mislukt. Gisteren werkte het nog wel.",
        ),
    ],
    "outlook_crash": [
        (
            "de",
            "Outlook stürzt ab",
            "Outlook stürzt ständig ab, sobald ich eine Mail mit Anhang öffne. Bitte um Rückruf unter {phone}.",
        ),
        (
            "nl",
            "Outlook werkt niet",
            "Outlook blijft hangen bij het opstarten (profiel laden). Kunnen jullie even meekijken?",
        ),
        (
            "fr",
            "Outlook plante",
            "Bonjour, Outlook se ferme tout seul dès que j'ouvre un courriel avec une pièce "
            "jointe. Merci de votre aide.",
        ),
    ],
    "laptop_no_boot": [
        (
            "de",
            "Laptop startet nicht",
            "Mein Laptop startet nicht mehr, der Bildschirm bleibt schwarz. Ladegerät "
            "ist angeschlossen, die Lampe leuchtet.",
        ),
        ("es", "laptop no prende", "Mi laptop no prende, ya la conecté toda la noche. Necesito trabajar hoy."),
    ],
    "new_user": [
        (
            "de",
            "Neuer Mitarbeiter ab {date}",
            "Hallo zusammen,\n\nam {date} fängt {newhire} bei uns im Vertrieb "
            "an. Bitte E-Mail-Konto, Windows-Anmeldung und Zugriff auf das Laufwerk S: einrichten.",
        ),
        (
            "es",
            "Nuevo empleado",
            "Buenos días, el lunes empieza {newhire} en producción. Necesita correo y usuario para la computadora.",
        ),
    ],
    "pc_slow": [
        (
            "de",
            "Rechner sehr langsam",
            "Mein PC ist seit dem letzten Update extrem langsam. Programme brauchen ewig zum Starten.",
        ),
        ("fr", "Ordinateur très lent", "Mon ordinateur est très lent depuis lundi, tout gèle quelques secondes."),
    ],
    "email_not_receiving": [
        (
            "es",
            "No me llegan los correos",
            "Desde ayer no me llegan correos nuevos en Outlook. En el celular tampoco. ¿Pueden revisar?",
        ),
    ],
    "mfa_new_phone": [
        (
            "es",
            "Cambié de teléfono",
            "Cambié de celular y ya no tengo la aplicación Authenticator. No puedo entrar a mi correo.",
        ),
        (
            "nl",
            "Nieuwe telefoon authenticator",
            "Ik heb een nieuwe telefoon en de Authenticator-app is leeg. Ik kan niet meer inloggen.",
        ),
    ],
    "internet_down": [
        (
            "es",
            "Sin internet en la planta",
            "No hay internet en la planta desde las 7am. Nadie puede conectarse y los teléfonos tampoco funcionan.",
        ),
    ],
    "scan_to_email": [
        (
            "fr",
            "Numérisation vers courriel",
            "Bonjour,\n\nla numérisation vers courriel ne fonctionne plus sur le "
            "copieur du bureau de Montréal. Pourriez-vous vérifier?",
        ),
    ],
    "teams_calls": [
        (
            "fr",
            "Problème de son Teams",
            "Mes collègues ne m'entendent pas pendant les réunions Teams. Le micro "
            "fonctionne dans les autres applications.",
        ),
    ],
    "laptop_battery": [
        (
            "fr",
            "Portable ne charge plus",
            "Mon portable ne charge plus, la batterie est à 5% et le chargeur est bien branché.",
        ),
    ],
    "restore_file": [
        (
            "nl",
            "Bestand per ongeluk verwijderd",
            "Ik heb per ongeluk een map verwijderd op de S-schijf "
            "({folder}). Kunnen jullie deze terugzetten vanuit de back-up?",
        ),
    ],
    "phishing_report": [
        (
            "nl",
            "Verdachte e-mail",
            "Ik heb een verdachte e-mail ontvangen over een openstaande factuur met een "
            "link. Niet op geklikt. Is dit phishing?",
        ),
        (
            "de",
            "Verdächtige E-Mail",
            "Ich habe eine komische Mail bekommen, angeblich von der Bank, mit einem "
            "Link zum Bestätigen meiner Daten. Nicht geklickt. Ist das Phishing?",
        ),
    ],
}

FOREIGN_GREETING = {
    "de": ["Hallo,", "Guten Morgen,", "Hallo zusammen,"],
    "es": ["Hola,", "Buenos días,"],
    "fr": ["Bonjour,", "Bonjour à tous,"],
    "nl": ["Hoi,", "Goedemorgen,", "Hallo,"],
}
FOREIGN_CLOSING = {
    "de": ["Viele Grüße", "Danke und Gruß", "Mit freundlichen Grüßen"],
    "es": ["Saludos", "Gracias", "Muchas gracias"],
    "fr": ["Merci", "Cordialement", "Bonne journée"],
    "nl": ["Met vriendelijke groet", "Groetjes", "Alvast bedankt"],
}

# =====================================================================================
# Monitoring alerts
# =====================================================================================

ALERTS: dict[str, dict[str, Any]] = {
    "alert_disk": {
        "titles": [
            "Disk {drive} on {srv} below {thr}% free",
            "Low disk space on {srv} ({drive})",
            "Drive {drive} free space critical",
            "Disk usage above {used}% on {drive}",
        ],
        "descs": [
            "Volume {drive} has {free_gb} GB free of {total_gb} GB ({pct}% free). Threshold: {thr}%.",
            "Free space on {drive} dropped below the threshold ({pct}% remaining).",
            "Disk {drive} usage is {used}% (threshold {uthr}%).",
        ],
        "check": ["Disk Space - {drive}", "Disk Usage Monitor", "Low Disk Space"],
        "special": [],
    },
    "alert_cpu": {
        "titles": [
            "CPU > {cpu}% for {mins} min on {srv}",
            "High CPU usage on {srv}",
            "Processor utilization critical",
            "CPU usage {cpu}% sustained",
        ],
        "descs": [
            "CPU utilization has been above 95% for {mins} minutes (current {cpu}%). Top process: {proc}.",
            "Average CPU over the last {mins} minutes: {cpu}%. Threshold: 90%.",
        ],
        "check": ["CPU Monitor", "Performance - CPU", "CPU Usage Check"],
        "special": [],
    },
    "alert_memory": {
        "titles": ["Memory usage above {mem}% on {srv}", "Low available memory on {srv}", "RAM utilization high"],
        "descs": [
            "Physical memory usage is {mem}% for more than {mins} minutes. Top process: {proc}.",
            "Available memory below 5% ({mem}% used).",
        ],
        "check": ["Memory Monitor", "Performance - Memory"],
        "special": [],
    },
    "alert_offline": {
        "titles": ["Device {srv} is offline", "{srv} not responding to ping", "Device down: {srv}", "Offline: {srv}"],
        "descs": [
            "Device has not responded to ICMP for {mins} minutes (last seen {ip}).",
            "The device stopped responding at {hhmm}. Last known IP {ip}.",
        ],
        "check": ["Ping Monitor", "Device Down", "Online Status"],
        "special": [],
    },
    "alert_agent_offline": {
        "titles": [
            "Agent offline: {srv}",
            "RMM agent has not checked in - {srv}",
            "{srv} agent offline for {mins} minutes",
        ],
        "descs": [
            "The agent on {srv} has not communicated with the platform for {mins} minutes.",
            "Agent heartbeat missed. Last check-in {hhmm}.",
        ],
        "check": ["Agent Status", "Offline Agent Monitor"],
        "special": [],
    },
    "alert_website": {
        "titles": ["Website down: {url}", "HTTP check failed for {url}"],
        "descs": [
            "HTTP GET https://{url}/ returned 503 Service Unavailable (3 consecutive failures).",
            "Connection to https://{url}/ timed out after 30 seconds.",
        ],
        "check": ["Website Monitor", "HTTP Check - {url}"],
        "special": [
            (
                "Monitor is DOWN: {url}",
                "Monitor is DOWN: {url} ( https://{url}/ )\n\nReason: Connection Timeout\n"
                "Incident started at {hhmm} UTC.\n\nYou are receiving this because you are an alert contact for this "
                "monitor.",
            ),
        ],
    },
    "alert_service": {
        "titles": ["Service {svc} stopped on {srv}", "Windows service not running: {svc}", "{svc} is not running"],
        "descs": [
            "The service '{svc}' is in state STOPPED. Startup type: Automatic. Restart attempt failed.",
            "Service {svc} stopped unexpectedly. Auto-restart attempted 3 times.",
        ],
        "check": ["Windows Service - {svc}", "Service Monitor"],
        "special": [],
    },
    "alert_eventlog": {
        "titles": [
            "Event Log error on {srv}",
            "Critical event {eventid} logged on {srv}",
            "Event ID {eventid} detected",
        ],
        "descs": [
            "Source: {evsrc}  Event ID: {eventid}  Level: Error  Message: {evmsg}",
            "System log: {evmsg} (Event {eventid}, {evsrc})",
        ],
        "check": ["Event Log Monitor", "Event Log - System"],
        "special": [],
    },
    "alert_backup_failed": {
        "titles": ["Backup job '{job}' failed", "Backup failed on {srv}", "Backup Failure - {job}"],
        "descs": [
            "Job '{job}' finished with status Failed. Error: {berr}",
            "Last backup of {srv} failed at {hhmm}: {berr}",
        ],
        "check": ["Backup Monitor", "Backup Job Status - {job}"],
        "special": [
            (
                "[Failed] {job} (1 machine) 1 failed",
                "Backup job: {job}\nCreated by {prefix}-VBR01\\svc_backup at "
                "1/4/2025 6:02 PM.\n\nSession details\nStart time: 11:00:04 PM   End time: 11:41:19 PM\nSuccess: 0  "
                "Warning: 0  Error: 1\n\n{srv}  Failed  Error: {berr}\n\nVeeam Backup & Replication",
            ),
            (
                "Backup failed for agent {srv}",
                "Datto BCDR alert\n\nDevice: SIRIS-{prefix}-01\nProtected machine: "
                "{srv}\nStatus: Backup failed\nError: {berr}\n\nThe last successful backup was {hours} hours ago. "
                "Log in to the partner portal for details.",
            ),
        ],
    },
    "alert_backup_missed": {
        "titles": [
            "No successful backup in {hours} hours - {srv}",
            "Backup job '{job}' did not run",
            "Missed backup: {job}",
        ],
        "descs": [
            "The scheduled job '{job}' did not start at its scheduled time. Last success {hours} hours ago.",
            "No recovery point created for {srv} in the last {hours} hours.",
        ],
        "check": ["Backup Age Monitor", "Backup Missed"],
        "special": [],
    },
    "alert_screenshot": {
        "titles": ["Screenshot verification failed for {srv}", "Boot verification failed - {srv}"],
        "descs": [
            "The virtualized recovery point for {srv} did not reach the login screen within 300 seconds.",
            "Screenshot verification: OS did not boot (black screen).",
        ],
        "check": ["Screenshot Verification"],
        "special": [],
    },
    "alert_av": {
        "titles": ["Threat detected on {host}", "Malware quarantined: {threat}", "Antivirus: threat found on {host}"],
        "descs": [
            "Threat {threat} detected in C:\\Users\\{user}\\Downloads\\{file}. Action taken: Quarantined.",
            "Engine detected {threat}. Process: {file}. Status: Mitigated.",
        ],
        "check": ["Antivirus Status", "AV Threat Monitor"],
        "special": [
            (
                "Huntress Incident Report for {company} - {host}",
                "Huntress has detected a potential incident on "
                "{host}.\n\nSeverity: High\nIndicator: {threat}\nFile: C:\\Users\\{user}\\AppData\\Roaming\\{file}\n"
                "\nRemediation steps have been applied automatically. Review the incident in the Huntress portal.",
            ),
        ],
    },
    "alert_failed_logins": {
        "titles": [
            "Multiple failed logon attempts on {srv}",
            "Brute force suspected: {count} failed logins",
            "Account lockouts on {srv}",
        ],
        "descs": [
            "{count} failed logon attempts (Event ID 4625) for user '{user}' in 10 minutes from {ext_ip}.",
            "Account {user} locked out {count} times in the last hour (Event ID 4740).",
        ],
        "check": ["Security Event Monitor", "Failed Logon Monitor"],
        "special": [],
    },
    "alert_patch": {
        "titles": ["Patch installation failed on {srv}", "{kb} failed to install", "Windows Update failed - {srv}"],
        "descs": [
            "Update {kb} failed with error 0x800f0922. {npatch} patches pending.",
            "Patch job 'Monthly Servers' failed on {srv}: {kb} (0x80070643).",
        ],
        "check": ["Patch Management", "Windows Update Status"],
        "special": [],
    },
    "alert_reboot": {
        "titles": ["Reboot pending on {srv} for {days} days", "{srv} requires a reboot"],
        "descs": [
            "A reboot has been pending for {days} days after patch installation.",
            "Pending reboot detected (Component Based Servicing).",
        ],
        "check": ["Pending Reboot"],
        "special": [],
    },
    "alert_ups": {
        "titles": ["UPS on battery - {ups}", "Power failure: UPS {ups} switched to battery"],
        "descs": [
            "Input power lost. Runtime remaining: {mins} minutes. Load: {pct}%.",
            "UPS switched to battery at {hhmm}. Battery capacity {cap}%.",
        ],
        "check": ["SNMP - UPS Status"],
        "special": [
            (
                "UPS On Battery - {ups}",
                "PowerChute Network Shutdown\n\nEvent: UPS On Battery\nDevice: {ups} "
                "({ip})\nReason: Input power failure\nRuntime remaining: {mins} min\n\nShutdown of protected servers "
                "will begin if power is not restored.",
            ),
        ],
    },
    "alert_temp": {
        "titles": ["Temperature warning on {srv}", "Inlet temperature above threshold"],
        "descs": [
            "System board inlet temperature is {temp} C (warning threshold 42 C).",
            "Server room sensor reports {temp} C.",
        ],
        "check": ["Hardware - Temperature"],
        "special": [],
    },
    "alert_smart": {
        "titles": ["SMART predictive failure on {srv}", "Disk health warning: {srv} disk 1"],
        "descs": [
            "SMART status for physical disk 1 reports PREDICTIVE FAILURE (reallocated sectors: {count}).",
            "Disk 0 reports a SMART failure. Replace the drive.",
        ],
        "check": ["Disk Health (SMART)"],
        "special": [],
    },
    "alert_raid": {
        "titles": ["RAID array degraded on {srv}", "Virtual Disk 0 degraded"],
        "descs": [
            "Virtual Disk 0 on Integrated RAID Controller 1 is Degraded. Physical Disk 0:1:2 failed.",
            "Array status: DEGRADED. Rebuild not started.",
        ],
        "check": ["RAID Status"],
        "special": [
            (
                "iDRAC Alert: Virtual disk degraded on {srv}",
                "Message ID: VDR8\nMessage: Virtual Disk 0 on "
                "Integrated RAID Controller 1 has become degraded.\nSeverity: Critical\nHost: {srv} ({ip})\n\n"
                "Recommended action: replace the failed physical disk.",
            ),
        ],
    },
    "alert_cert": {
        "titles": ["SSL certificate for {url} expires in {days} days", "Certificate expiring soon: {url}"],
        "descs": [
            "The certificate for {url} (issuer: R11) expires in {days} days.",
            "Certificate on {srv} (CN={url}) expires in {days} days.",
        ],
        "check": ["SSL Certificate Check - {url}"],
        "special": [],
    },
}

SERVICES = [
    "Spooler",
    "MSSQLSERVER",
    "DentrixService",
    "W3SVC",
    "NTDS",
    "Veeam Backup Service",
    "DNS",
    "Netlogon",
    "QuickBooksDB34",
    "Sophos Endpoint Defense Service",
    "ScreenConnect Client",
]
PROCESSES = [
    "sqlservr.exe",
    "MsMpEng.exe",
    "w3wp.exe",
    "TiWorker.exe",
    "svchost.exe",
    "OUTLOOK.EXE",
    "chrome.exe",
    "Dentrix.exe",
]
THREATS = [
    "Trojan:Win32/Wacatac.B!ml",
    "PUA:Win32/Presenoker",
    "HackTool:Win32/Mimikatz",
    "Behavior:Win32/SuspRemoteExec",
    "Trojan:JS/Phish.A",
]
BACKUP_ERRORS = [
    "VSS snapshot creation failed (0x80042306)",
    "Network path not found",
    "Not enough free space on target",
    "The RPC server is unavailable",
    "Failed to connect to host, timeout",
]
EVENT_LOG = [
    ("Disk", "7", "The device, \\Device\\Harddisk1\\DR1, has a bad block."),
    ("Microsoft-Windows-Kernel-Power", "41", "The system has rebooted without cleanly shutting down first."),
    ("NTFS", "55", "A corruption was discovered in the file system structure on volume D:."),
    ("Service Control Manager", "7031", "The SQL Server service terminated unexpectedly."),
    ("DFSR", "2213", "The DFS Replication service stopped replication on volume C:."),
]
KBS = ["KB5034441", "KB5044281", "KB5048667", "KB5050109", "KB5051987"]
RMM_VENDORS = ("datto", "ninja", "nable", "automate")

# =====================================================================================
# Noise tickets (only in new.jsonl): mail that reaches the helpdesk but is not a request.
# =====================================================================================

NOISE: dict[str, list[tuple[str, str]]] = {
    "auto_reply": [
        (
            "Automatic reply: {ref} {orig}",
            "Thank you for contacting {company}. This is an automated response to "
            "let you know we have received your message. Our office hours are Monday-Friday, 8:00 AM - 5:00 PM. "
            "If this is an emergency please call {phone}.\n\n{disclaimer}",
        ),
        (
            "Automatic reply: {ref} {orig}",
            "Thanks for your email! This mailbox is not monitored. For billing "
            "questions please contact billing@{domain}; for everything else call the front desk at {phone}.",
        ),
    ],
    "out_of_office": [
        (
            "Out of Office: {ref} {orig}",
            "I am out of the office until {date} with limited access to "
            "email. For urgent matters please contact {colleague} at {phone}.\n\nThank you,\n{full}",
        ),
        (
            "Automatic reply: RE: {ref} {orig}",
            "Hi,\n\nI'm currently on vacation and will return on {day}. I will "
            "respond to your email when I'm back. If you need immediate assistance please contact the office at "
            "{phone}.\n\n{full}\n{title} | {company}",
        ),
    ],
    "delivery_failure": [
        (
            "Undeliverable: {ref} {orig}",
            "Delivery has failed to these recipients or groups:\n\n{email}\nThe email "
            "address you entered couldn't be found. Please check the recipient's email address and try to resend "
            "the message. If the problem continues, please contact your helpdesk.\n\n\n\nDiagnostic information "
            "for administrators:\n\nGenerating server: CH3PR12MB7764.namprd12.prod.outlook.example.com\n\n{email}\n"
            "Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address "
            "lookup'\n\nOriginal message headers:\n\nFrom: Bluecrest IT Support <support@bluecrest-it.example.net>\n"
            "To: {email}\nSubject: {ref} {orig}\nMIME-Version: 1.0\nContent-Type: text/plain",
        ),
        (
            "Mail delivery failed: returning message to sender",
            "This message was created automatically by mail "
            "delivery software.\n\nA message that you sent could not be delivered to one or more of its "
            "recipients. This is a permanent error. The following address(es) failed:\n\n  {email}\n    host "
            "mx1.{domain} [{ip}]\n    SMTP error from remote mail server after RCPT TO:<{email}>:\n    550 5.1.1 "
            "User unknown\n\n------ This is a copy of the message, including all the headers. ------\n\nSubject: "
            "{ref} {orig}\n\nHi, we've updated your ticket. Reply to this email to add a comment.",
        ),
    ],
    "spam": [
        (
            "Boost your Google ranking - limited offer",
            "Hello,\n\nI was checking your website and noticed a few "
            "errors that are hurting your ranking on Google. We can get you on the first page in 30 days. Reply "
            "YES for a free audit.\n\nBest Regards,\nSteve | SEO Specialist",
        ),
        (
            "RE: Invoice #INV-20931 overdue",
            "Please see attached invoice for payment. Kindly remit payment today to "
            "avoid service interruption.\n\nView document: https://docs-share.example.net/view?id=88231\n\nAccounts "
            "Dept.",
        ),
        (
            "MSP decision makers list 2026",
            "Hi,\n\nWould you be interested in acquiring an email list of IT "
            "decision makers / MSP owners? We have 25,000 verified contacts.\n\nLet me know and I will send counts "
            'and pricing.\n\nRegards,\nEmily Carter\nData Specialist\n\nReply "unsubscribe" to opt out.',
        ),
        (
            "Your mailbox password expires today",
            "Dear user,\n\nThe password for support@bluecrest-it.example.net "
            "expires today. Click below to keep using your current password.\n\n[ KEEP SAME PASSWORD ]\n\nMail "
            "Administrator\n\nThis is an automated message, do not reply.",
        ),
    ],
}

# =====================================================================================
# Noise elements around the user text
# =====================================================================================

EXTERNAL_BANNER = (
    "CAUTION: This email originated from outside of the organization. Do not click links or open "
    "attachments unless you recognize the sender and know the content is safe."
)
GREETINGS = [
    "Hi,",
    "Hello,",
    "Hi team,",
    "Good morning,",
    "Hi Support,",
    "Hey guys",
    "Dear Helpdesk,",
    "Hi {tech_first},",
    "Hello IT,",
    "Good afternoon,",
    "Hi all,",
    "Morning,",
]
CLOSINGS = [
    "Thanks,",
    "Thank you!",
    "Thanks in advance,",
    "Regards,",
    "Best,",
    "Cheers,",
    "thx",
    "Thank you,",
    "Best regards,",
    "Many thanks,",
    "TIA",
]
# Small additions users make; at most one line per group so they never contradict each other. The first
# two groups only make sense when something is broken (not for requests).
CONTEXT_LINES = [
    [
        "I already restarted.",
        "Tried turning it off and on again, no luck.",
        "Restarted twice, same thing.",
        "{colleague} said theirs is working fine.",
    ],
    [
        "This started after the weekend.",
        "It was working fine yesterday.",
        "Happened last month too, the ticket was closed but it's back.",
        "Screenshot attached.",
        "[image001.png]",
        "See attached screenshot.",
    ],
    [
        "No rush, whenever you get a chance.",
        "This is pretty urgent.",
        "We're slammed today so the sooner the better.",
        "I have a meeting at {time}, need this before then if possible.",
    ],
    [
        "I'm in the office until {time}.",
        "Best number to reach me is {phone}.",
        "I'm around all afternoon if you want to remote in.",
        "Please call rather than email, I'm away from my desk a lot.",
    ],
    ["The computer is {host} if that helps.", "My computer name is {host}.", "(computer: {host})"],
    ["Not sure who else to ask.", "Sorry to bother you again!", "Thanks for your patience with me!"],
]
REQUEST_CONCEPTS = {
    "share_drive_permission",
    "app_access",
    "ad_change",
    "shared_mailbox_request",
    "distribution_list",
    "exo_admin",
    "toner",
    "firewall_rule",
    "call_routing",
    "voicemail",
    "restore_file",
    "restore_mailbox",
    "dr_test",
    "server_patching",
    "license_assign",
    "license_remove",
    "entra",
    "tenant_admin",
    "new_user",
    "new_user_equipment",
    "termination",
    "name_change",
    "quote_hw",
    "quote_sw",
    "software_install",
    "new_equipment",
    "mac_move",
    "howto",
    "security_training",
    "software_update",
}
POLITE_OPENERS = [
    "I hope you're doing well.",
    "Hope your week is going well!",
    "I hope this email finds you well.",
    "Sorry to bother you with this,",
    "I wanted to reach out about something.",
]
POLITE_CLOSERS = [
    "Please let me know if you need any additional information from me.",
    "I really appreciate your help with this.",
    "Apologies for the inconvenience, and thank you in advance.",
    "Let me know if it's easier to talk on the phone.",
]
# Asides that borrow another category's vocabulary. The first list fits any ticket, the second only tickets
# about something that is broken.
CROSS_MENTIONS_ANY = [
    "Also my printer was acting up earlier but that seems fine now.",
    "Side note: can someone look at the toner in the back when you're here?",
    "P.S. still waiting on that quote for the new laptops.",
    "Also any update on the new hire setup for next week?",
    "I got a weird email earlier too but I deleted it.",
    "Also, my password expires next week, do I need to do anything special this time?",
]
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
SECRET_LINES = {
    "any": [
        "My password is {pw} if you need it to log in.",
        "pw is {pw}",
        "You can log in as me: {email} / {pw}",
        "(temp password they gave me was {pw})",
    ],
    "vendor": [
        "the vendor said the API key is {apikey}, not sure if you need it",
        "login for the vendor portal is admin / {pw}",
        "API key from their portal: {apikey}",
    ],
    "printer": ["Admin password on the copier is {pw}.", "the copier admin login is admin / {pw}"],
}
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
TECH_NOTES = [
    "Verified identity via callback.",
    "Escalating to T2.",
    "Remoted in, issue confirmed.",
    "Could not resolve on call, scheduling a remote session.",
    "Advised user to restart, issue persists.",
    "User will be at desk after {time}.",
    "Left voicemail, user called back.",
    "",
]
FOLLOWUPS = [
    "This is happening again.",
    "Still not fixed!!",
    "hi, sorry, this is back.",
    "It worked for a day and now it's the same thing again.",
    "Reopening this please.",
    "Same problem as before.",
]
REPLY_ANSWERS = [
    "Yes it's still happening.",
    "Computer name is {host}. I'm here all day.",
    "Yes, anytime after {time} works.",
    "Not yet, still the same.",
    "Yes please go ahead.",
]
GENERIC_SUMMARIES = [
    "help",
    "Help please",
    "Issue",
    "Question",
    "IT issue",
    "computer problem",
    "Support request",
    "(no subject)",
    "Ticket",
    "problem",
    "Quick one",
    "please call me",
    "IT help needed",
]
PORTAL_URGENCY = [
    "Low - single user, can keep working",
    "Medium - single user, work impacted",
    "High - cannot work",
    "Critical - multiple users down",
]
TYPO_WORDS = {
    "receive": "recieve",
    "the": "teh",
    "definitely": "definately",
    "password": "passwrod",
    "printer": "priner",
    "computer": "comptuer",
    "please": "pls",
    "because": "becuase",
    "working": "workign",
    "separate": "seperate",
    "again": "agian",
    "email": "emial",
    "access": "acess",
    "anything": "anythign",
    "tomorrow": "tommorow",
    "you": "u",
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
    office = LOCAL_OFFICES.get((c.prefix, s.lang))
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

MSP_QUOTE_CLOSURES = [
    "We haven't heard back from you, so we're closing this ticket. If the issue comes back just reply to this "
    "email and the ticket will reopen.",
    "This ticket has been marked resolved. If the problem persists, reply to this email within 7 days.",
    "As discussed on the phone, this should be sorted now. Let us know if anything else comes up!",
]
MSP_QUOTE_QUESTIONS = [
    "Thanks for reaching out. Is this still happening, and what is the name of the computer (sticker on the "
    "bottom/back)?",
    "We'd like to remote in to take a look. When is a good time today?",
    "Can you confirm whether this affects only you or other people in the office as well?",
]
FORWARD_NOTES = [
    "Can you guys look at this? See below.",
    "FYI - please help {first} with this.",
    "Forwarding, this is the 2nd time this week.",
    "See below. Can someone call {first} today?",
    "Please see below",
    "Not sure if {first} sent this to you directly, forwarding just in case.",
]


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
