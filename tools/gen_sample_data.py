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

The pools (subjects, bodies, people, companies, alerts, label maps) are data under ``tools/sample_data/``; the
ticket text is composed by ``tools/sample_text.py``. Deterministic (fixed seeds): running it twice produces
identical files.

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

from sample_text import (  # tools/sample_text.py: the pools and the ticket text
    ALERTS,
    AT_MAP,
    AUTOTASK,
    AUTOTASK_INACTIVE,
    CW_ALERTS,
    CW_INACTIVE,
    CW_MAP,
    CW_SERVICE_DESK,
    FOREIGN,
    HALO_INACTIVE,
    HALO_INCIDENT,
    HALO_MAP,
    HALO_SERVICE_REQUEST,
    INDUSTRY_LIMITS,
    PHRASES,
    REQUEST_CONCEPTS,
    WEIGHTS,
    compose_alert,
    compose_noise,
    compose_user,
)

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "libs" / "autotriage" / "sandbox" / "data"

HISTORY_COUNT = {"halo": 1300, "connectwise": 2200, "autotask": 1300}
NEW_COUNT = 40
NOISE_KINDS = ("auto_reply", "out_of_office", "delivery_failure", "spam")
SEEDS = {"halo": 1103, "connectwise": 2207, "autotask": 3301}


AUTOTASK_QUEUE = 29682833
DEFAULT_SCOPE = {"connectwise": 12, "autotask": AUTOTASK_QUEUE, "halo": 1}
MAPS = {"connectwise": CW_MAP, "autotask": AT_MAP, "halo": HALO_MAP}
# The first alternative is what a careful reviewer would pick. Historical tickets were filed by busy
# technicians: the other alternatives are used with their weight scaled by HISTORY_ALT_SCALE, and ConnectWise
# technicians sometimes stop at (type, subType) without picking an item. new.jsonl is the reviewed "gold"
# set for the demo's accuracy figure, so it is much closer to the first alternative.
HISTORY_ALT_SCALE = 0.4
NEW_ALT_SCALE = 0.1
CW_DROP_ITEM_P = {"history": 0.05, "new": 0.02}


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
        ticket = compose_alert(rng, psa, concept, when)
    else:
        ticket = compose_user(rng, psa, concept, when, lang)
    ticket["scope"], ticket["category"] = pick_label(rng, psa, concept, gold)
    return ticket


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
        new_rows.append((when, {**compose_noise(rng, psa, kind, when), "scope": DEFAULT_SCOPE[psa]}))
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
