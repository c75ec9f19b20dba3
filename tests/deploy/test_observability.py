"""deploy/grafana: the alert rules and the dashboard name only metrics the hub exports.

The exported set is read from a running app's /metrics (every family it declares, with the
sample names Prometheus stores: ``_total`` for counters, ``_bucket``/``_sum``/``_count`` for
histograms), not from a hand-kept list. Each PromQL expression is parsed (promql-parser), so
a syntax error fails here too, and its selectors are walked for the metric names.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.push_support import fcm, hub
from tests.conftest import register
from tests.packaging.product_support import REPO_ROOT
from tests.support.processes import private_redis

GRAFANA = REPO_ROOT / "deploy" / "grafana"
ALERTS = GRAFANA / "alerts.yaml"
DASHBOARD = GRAFANA / "tradeshub-dashboard.json"
PROMETHEUS_RULE = REPO_ROOT / "deploy" / "k8s" / "base" / "prometheusrule.yaml"

# Series that Prometheus itself writes, with why a rule may name them.
PROMETHEUS_SERIES = {"up": "1 or 0 per scrape target: the only sign of a hub that is gone"}

# What the issue asks the alerts to cover, by the metric each must watch.
ALERTED = {
    "hub down": "up",
    "/ready failing": "tradeshub_ready",
    "fan-out degraded": "tradeshub_fanout_degraded",
    "p95 REST latency": "tradeshub_http_request_duration_seconds_bucket",
    "error rate": "tradeshub_http_requests_total",
    "pool exhausted": "tradeshub_db_pool_idle",
    "outbox age": "tradeshub_push_outbox_oldest_due_seconds",
}
CHARTED = {
    "sockets": "tradeshub_sockets_open",
    "fan-out": "tradeshub_fanout_deliveries_total",
    "delivery lag (slow sockets)": "tradeshub_fanout_superseded_total",
    "chat": "tradeshub_chat_messages_total",
    "tracking": "tradeshub_location_points_total",
    "REST latency by route": "tradeshub_http_request_duration_seconds_bucket",
    "pool": "tradeshub_db_pool_idle",
    "Redis degraded": "tradeshub_fanout_degraded",
    "outbox depth": "tradeshub_push_outbox_depth",
}

Client = TestClient[Any, Any]
__all__ = ["fcm", "hub"]  # fixtures: a hub with push on, so the push metrics exist


def metric_names(expr: str) -> set[str]:
    """Every metric a PromQL expression selects (raises on a syntax error)."""
    import promql_parser

    names: set[str] = set()

    def visit(node: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next(
                (m.value for m in node.matchers.matchers if m.name == "__name__"), None
            )
            assert name, f"a selector without a metric name in {expr!r}"
            names.add(name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of the dashboard."""
    board = json.loads(DASHBOARD.read_text())
    found: list[tuple[str, str]] = []

    def panels(items: list[dict[str, Any]]) -> None:
        for panel in items:
            panels(panel.get("panels", []))
            for target in panel.get("targets", []):
                found.append((panel["title"], target["expr"]))

    panels(board["panels"])
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            assert inner, f"variable {variable['name']}: {query}"
            found.append((f"variable {variable['name']}", inner.group(1)))
    return found


async def exported(client: Client) -> set[str]:
    """The sample names the app's /metrics declares."""
    assert (await client.get("/ready")).status == 200  # the probe's gauge appears with it
    await register(client)
    text = await (await client.get("/metrics")).text()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


async def test_rules_and_dashboard_name_only_exported_metrics(hub: Client) -> None:
    available = await exported(hub) | set(PROMETHEUS_SERIES)
    unknown: dict[str, set[str]] = {}
    for rule in alert_rules():
        missing = metric_names(rule["expr"]) - available
        if missing:
            unknown[f"alert {rule['alert']}"] = missing
    for where, expr in dashboard_queries():
        missing = metric_names(expr) - available
        if missing:
            unknown[f"dashboard {where}"] = missing
    assert not unknown, f"metrics the hub does not export: {unknown}"


def test_the_alerts_cover_the_runbook() -> None:
    named = {n for rule in alert_rules() for n in metric_names(rule["expr"])}
    assert {what: m for what, m in ALERTED.items() if m not in named} == {}
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        anchor = rule["annotations"]["runbook"].split("#")[1]
        assert anchor in _runbook_anchors(), f"{rule['alert']}: no section #{anchor}"
    latency = next(r for r in alert_rules() if "duration_seconds" in r["expr"])
    assert "0.95" in latency["expr"] and re.search(r">\s*0\.2\b", latency["expr"])


def _runbook_anchors() -> set[str]:
    headings = re.findall(r"^#+\s+(.+)$", (REPO_ROOT / "docs/OPERATIONS.md").read_text(), re.M)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_dashboard_charts_each_part() -> None:
    named = {n for _, expr in dashboard_queries() for n in metric_names(expr)}
    assert {what: m for what, m in CHARTED.items() if m not in named} == {}
    ids = [p["id"] for p in json.loads(DASHBOARD.read_text())["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"


def test_the_prometheus_rule_carries_the_same_groups() -> None:
    rule = yaml.safe_load(PROMETHEUS_RULE.read_text())
    assert rule["spec"]["groups"] == yaml.safe_load(ALERTS.read_text())["groups"]


def test_the_parser_fails_on_bad_promql() -> None:
    with pytest.raises(Exception):  # noqa: B017 - promql_parser raises a plain ValueError-like
        metric_names("sum(rate(tradeshub_http_requests_total[5m]) > ")


@pytest.mark.redis
async def test_ready_gauge_follows_the_probe(make_client: Any, tmp_path: Path) -> None:
    """tradeshub_ready is the last /ready's verdict: 1, then 0 once Redis is gone."""
    with private_redis(tmp_path) as redis:
        client = await make_client(redis_url=redis.url)
        assert (await client.get("/ready")).status == 200
        assert "tradeshub_ready 1.0" in await (await client.get("/metrics")).text()
        redis.stop()
        started = time.monotonic()
        assert (await client.get("/ready")).status == 503
        assert time.monotonic() - started < 1.5
        assert "tradeshub_ready 0.0" in await (await client.get("/metrics")).text()
