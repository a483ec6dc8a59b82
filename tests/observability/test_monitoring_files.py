"""deploy/prometheus/alerts.yml and deploy/grafana/referral-engine.json: valid, with the alerts the
operators were promised, and naming only metrics that /metrics really exposes (a typo is a silent
alert that never fires)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
METRIC_NAME = re.compile(r"\b(referral_engine_[a-z_]+)")


@pytest.fixture
def exposed(db, settings) -> set[str]:
    settings.METRICS_TOKEN = "t" * 40
    Client().get("/healthz")  # so the request histogram has samples
    body = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer " + "t" * 40).content.decode()
    return {sample.name for family in text_string_to_metric_families(body) for sample in family.samples}


def alert_rules() -> dict[str, dict]:
    document = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text(encoding="utf-8"))
    return {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}


def test_the_promised_alerts_exist():
    rules = alert_rules()
    assert rules["ReferralEngineSweepLagging"]["expr"].strip() == "referral_engine_sweep_lag_seconds > 300"
    assert "referral_engine_outbox_oldest_pending_age_seconds" in rules["ReferralEngineOutboxStuck"]["expr"]
    assert 'status=~"5.."' in rules["ReferralEngineHighErrorRate"]["expr"]
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]


def test_alerts_and_dashboard_name_only_exposed_metrics(exposed):
    dashboard = json.loads((ROOT / "deploy/grafana/referral-engine.json").read_text(encoding="utf-8"))
    expressions = [rule["expr"] for rule in alert_rules().values()]
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    named = {name for expr in expressions for name in METRIC_NAME.findall(expr)}
    assert len(named) >= 8
    assert named <= exposed, named - exposed
    assert {p["title"] for p in dashboard["panels"]} >= {"スイープの遅れ", "送信待ちの通知", "Celery キューの滞留"}
