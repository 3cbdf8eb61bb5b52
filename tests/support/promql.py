"""Every PromQL expression the deployment ships: Grafana dashboards and Prometheus rule files.

Used by tests/unit/test_deploy_files.py (metric names must exist in ``autotriage.core.metrics``) and meant
for an end-to-end test that evaluates each expression against a live Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

DASHBOARDS_DIR = Path("deploy/grafana/dashboards")
RULE_FILES = (Path("deploy/prometheus/recording_rules.yml"), Path("deploy/prometheus/alert_rules.yml"))

# Grafana's `label_values(metric_selector, label)`: the PromQL part is the selector.
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((?P<selector>.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$", re.S)
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((?P<expr>.*)\)\s*$", re.S)
# Grafana variable queries without any PromQL in them.
_NO_PROMQL = re.compile(
    r"^\s*(label_values\s*\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)|label_names\s*\(\s*\)|metrics\s*\(.*\))\s*$"
)


def collect_promql_expressions(repo_root: Path | str) -> list[tuple[str, str]]:
    """``(where, expr)`` for every PromQL expression in the dashboards and rule files.

    ``where`` names the file and the panel/target, variable or rule, e.g.
    ``deploy/grafana/dashboards/overview.json: panel 3 "End-to-end p95" target A``.
    Dashboards: every ``targets[].expr`` of every panel (rows included) and every query variable
    (``label_values(selector, label)`` gives ``selector``, ``query_result(expr)`` gives ``expr``).
    Expressions may contain Grafana variables such as ``$tenant``: see :func:`substitute_grafana_variables`.
    Rules: the ``expr`` of every recording and alerting rule.
    """
    root = Path(repo_root)
    found: list[tuple[str, str]] = []
    for path in sorted((root / DASHBOARDS_DIR).glob("*.json")):
        found.extend(_dashboard_expressions(path, path.relative_to(root).as_posix()))
    for rel in RULE_FILES:
        path = root / rel
        if path.exists():
            found.extend(_rule_expressions(path, rel.as_posix()))
    return found


def substitute_grafana_variables(expr: str, variables: Mapping[str, str] | None = None) -> str:
    """``expr`` with Grafana variables replaced, so Prometheus can evaluate it.

    ``$name``, ``${name}`` and ``[[name]]`` take ``variables[name]``; the interval macros
    (``$__rate_interval``, ``$__interval``, ``$__range``) default to ``5m``.
    """
    values = {"__rate_interval": "5m", "__interval": "5m", "__range": "5m", **(variables or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group("a") or match.group("b") or match.group("c")
        if name not in values:
            raise KeyError(f"no value for Grafana variable {name!r} in {expr!r}")
        return values[name]

    return re.sub(
        r"\$\{(?P<a>[a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}|\[\[(?P<b>[a-zA-Z_][a-zA-Z0-9_]*)\]\]"
        r"|\$(?P<c>[a-zA-Z_][a-zA-Z0-9_]*)",
        replace,
        expr,
    )


def iter_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, descending into rows (``panels`` of a row panel)."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def _dashboard_expressions(path: Path, where: str) -> list[tuple[str, str]]:
    board = json.loads(path.read_text(encoding="utf-8"))
    found: list[tuple[str, str]] = []
    for panel in iter_panels(board.get("panels") or []):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr:
                title = panel.get("title", "")
                found.append(
                    (f'{where}: panel {panel.get("id")} "{title}" target {target.get("refId")}', expr)
                )
    for variable in (board.get("templating") or {}).get("list") or []:
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query") or query.get("expr") or ""
        expr = _variable_promql(query or variable.get("definition") or "")
        if expr:
            found.append((f"{where}: variable {variable.get('name')}", expr))
    for annotation in (board.get("annotations") or {}).get("list") or []:
        expr = annotation.get("expr")
        if expr:
            found.append((f"{where}: annotation {annotation.get('name')}", expr))
    return found


def _variable_promql(query: str) -> str | None:
    if not query.strip() or _NO_PROMQL.match(query):
        return None
    if match := _LABEL_VALUES.match(query):
        return match.group("selector").strip()
    if match := _QUERY_RESULT.match(query):
        return match.group("expr").strip()
    return query.strip()


def _rule_expressions(path: Path, where: str) -> list[tuple[str, str]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: list[tuple[str, str]] = []
    for group in document.get("groups") or []:
        for rule in group.get("rules") or []:
            name = f"record {rule['record']}" if "record" in rule else f"alert {rule.get('alert')}"
            found.append((f"{where}: group {group.get('name')} {name}", str(rule["expr"])))
    return found
