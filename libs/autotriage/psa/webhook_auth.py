"""Constant-time checks shared by the webhook verifiers."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from autotriage.core.errors import WebhookRejected


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header value, looked up case-insensitively."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def check_basic_auth(headers: Mapping[str, str], username: str, password: str) -> None:
    """Verify HTTP Basic credentials in constant time; raise a 401 WebhookRejected otherwise."""
    value = header(headers, "Authorization")
    if not value or not value.lower().startswith("basic "):
        raise WebhookRejected(401, "missing_credentials", "missing Basic credentials in the Authorization header")
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRejected(401, "bad_credentials", "malformed Basic credentials") from exc
    user, _, given = decoded.partition(b":")
    user_ok = hmac.compare_digest(user, username.encode())
    pass_ok = hmac.compare_digest(given, password.encode())
    if not (user_ok and pass_ok):
        raise WebhookRejected(401, "bad_credentials", "wrong webhook username or password")
