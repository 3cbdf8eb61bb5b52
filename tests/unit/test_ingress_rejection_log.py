"""The refused-delivery log: context on every line, a per-reason rate, and the count of lines left out."""

from __future__ import annotations

import logging

import pytest

from autotriage.ingress.rejections import RejectionLog


def test_rate_per_reason_and_suppressed_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    log = RejectionLog(per_minute=3, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="autotriage.ingress.rejected"):
        logged = [log.rejected(401, "bad_signature", "wrong secret", tenant="acme", psa="autotask",
                               remote="198.51.100.23") for _ in range(10)]
        assert log.rejected(404, "unknown_tenant", "no tenant", tenant="x", psa="halo", remote="203.0.113.9")
        now[0] += 61
        assert log.rejected(401, "bad_signature", "wrong secret", tenant="acme", psa="autotask", remote="1.2.3.4")
    assert logged == [True] * 3 + [False] * 7
    lines = [r for r in caplog.records if getattr(r, "reason", "") == "bad_signature"]
    assert len(lines) == 4
    first = lines[0]
    assert (first.tenant, first.psa, first.remote, first.status) == ("acme", "autotask", "198.51.100.23", 401)
    assert [line.suppressed for line in lines] == [0, 0, 0, 7]  # the first line of the next minute says 7 left out
