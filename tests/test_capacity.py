"""The capacity model (constructs/app/capacity/) and its checks at synth: each hop's ceiling
computed by hand for a small synthetic environment, the quota check that fails synth with one line
(in the settings and through `python main.py`), the e-mail warning, the measured figures tied to
the local run's capture, and the table of `python -m scripts.capacity`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from constructs.app import capacity
from constructs.app.environments import load_settings, read_environments
from constructs.app.settings import QuotaSettings, SettingsError
from scripts.cost.prices import wru
from support import ROOT

NO_ENV: dict = {}

#: Round figures so every ceiling below is arithmetic one can check by hand.
TRAFFIC = capacity.Traffic(ledger_table_wru=2.0, ledger_index_wru=1.0, markers_table_wru=0.5, archive_records=1.0,
                           bus_events=0.5, rule_invocations=1.0, notifications=0.5, delivery_events=0.5,
                           deliveries=0.5, deliveries_table_wru=2.0)
ASSUMPTIONS = capacity.Assumptions(authorizer_ms=5, processor_batch_ms=10, processor_cpu_ms=1, processor_writes=2,
                                   dynamodb_ms=5, archiver_batch_ms=150, archiver_record_ms=1, pipe_b_batch_ms=100,
                                   notifier_batch_ms=10, notifier_record_ms=10, fanout_batch_ms=10, fanout_record_ms=9,
                                   sender_batch_ms=10, sender_dynamodb_trips=2, vendor_ms=90, source_ips_per_provider=2)
#: dev, with ceilings that bind: 6,000 webhooks a minute = 100/s.
SMALL = {
    "webhooks_per_minute": 6_000,
    "api": {"throttle_rate_limit": 500, "waf_rate_limit": 3_000},
    "functions": {"authorizer": {"reserved_concurrency": 10}, "processor": {"reserved_concurrency": 20},
                  "notifier": {"reserved_concurrency": 5}},
    "processor_scaling": {"event_source_max_concurrency": 15},
    "processor_parallel_groups": 5,
    "quotas": {"dynamodb_table_write_units_per_second": 1_000, "eventbridge_put_events_per_second": 90,
               "sqs_fifo_requests_per_second": 300},
}


def small(**overrides) -> object:
    return load_settings("dev", {**SMALL, **overrides}, environ=NO_ENV, capacity_checks=False)


def hop_table(settings) -> dict[str, capacity.Hop]:
    return {hop.name: hop for hop in capacity.hops(settings, TRAFFIC, ASSUMPTIONS)}


# ----- each hop, by hand -------------------------------------------------------------------------

def test_each_hop_carries_what_its_tightest_ceiling_allows_computed_by_hand():
    hops = hop_table(small())
    expected = {
        # hop: (max webhooks/s, the key of the ceiling that binds)
        "API Gateway": (500, "api.throttle_rate_limit"),                            # stage 500 < account 10,000
        "WAF rate rule": (20, "api.waf_rate_limit"),                                # 3,000 / 300 s = 10/s per address, 2 addresses
        "authorizer λ": (2_000, "functions.authorizer.reserved_concurrency"),        # 10 / 5 ms
        "ingest FIFO (SQS)": (300, "quotas.sqs_fifo_requests_per_second"),         # one SendMessage per webhook
        # batch 10, 5 groups at once: 10 ms + 10 x 1 ms CPU + 2 rounds x 2 writes x 5 ms = 40 ms per 10 webhooks;
        # reserved 20 -> 5,000/s, the event source's 15 -> 3,750/s
        "processor λ": (3_750, "processor_scaling.event_source_max_concurrency"),
        "DynamoDB writes": (500, "quotas.dynamodb_table_write_units_per_second"),  # 1,000 WRU / 2 WRU
        # a shard: batch 100 in 150 + 100 x 1 ms = 400 records/s; it receives up to 1,000 WRU / 2 = 500 webhooks/s
        # x 1 record > 400: the pipe falls behind at 400 webhooks/s
        "Pipe A -> archiver λ": (400, "pipes.archive_batch_size"),
        # Pipe B: batch 10 per 100 ms = 100 records/s per shard (< 500 x 0.5) -> 200/s; PutEvents 90 / 0.5 = 180/s
        "Pipe B -> EventBridge": (180, "quotas.eventbridge_put_events_per_second"),
        "notifier λ": (5 / 0.0055, "functions.notifier.reserved_concurrency"),     # 0.5 x (10/10 + 10) ms each
        "SNS publish": (60_000, "quotas.sns_publish_per_second"),                  # 30,000 / 0.5
        "delivery fan-out λ": (1_000, "delivery.fanout_reserved_concurrency"),     # 5 / (0.5 x (1 + 9) ms)
        # per delivery 10/10 + (90 + 2 x 5) / 10 = 11 ms: 5 concurrent -> 909/s; the table 1,000 / 2 WRU = 500/s
        "delivery sender λ": (500, "quotas.dynamodb_table_write_units_per_second"),
    }
    assert list(hops) == list(expected)
    for name, (rate, key) in expected.items():
        assert hops[name].max_rate == pytest.approx(rate), name
        assert hops[name].limiting.key == key, name


def test_utilisation_is_the_busiest_ceiling_at_that_rate_and_a_shard_never_takes_more_than_a_partition():
    hops = hop_table(small())
    assert hops["API Gateway"].utilisation(100) == pytest.approx(0.2)
    assert hops["WAF rate rule"].utilisation(100) == pytest.approx(5.0)
    assert hops["processor λ"].utilisation(100) == pytest.approx(0.4 / 15)
    assert hops["Pipe A -> archiver λ"].utilisation(100) == pytest.approx(100 / 400)
    # past one partition's 500 webhooks/s the table splits and the stream gets another shard
    assert hops["Pipe A -> archiver λ"].utilisation(5_000) == hops["Pipe A -> archiver λ"].utilisation(500)
    assert hops["Pipe A -> archiver λ"].utilisation(500) == pytest.approx(500 / 400)


def test_a_pipe_whose_shard_keeps_up_with_its_partition_never_limits():
    faster = capacity.Assumptions(**{**ASSUMPTIONS.__dict__, "archiver_batch_ms": 100})  # 500 records/s per shard
    pipe = {hop.name: hop for hop in capacity.hops(small(), TRAFFIC, faster)}["Pipe A -> archiver λ"]
    assert next(limit for limit in pipe.limits if limit.key == "pipes.archive_batch_size").max_rate == math.inf
    assert pipe.limiting.key == "functions.archiver.reserved_concurrency"  # 10 / (1 x (100/100 + 1) ms) = 5,000/s
    assert pipe.max_rate == pytest.approx(5_000)


def test_a_function_without_a_reservation_shares_what_the_others_leave_of_the_account():
    settings = small(functions={**SMALL["functions"], "notifier": {"reserved_concurrency": None}})
    notifier = hop_table(settings)["notifier λ"]
    # the others reserve 10 + 10 + 20 + 10 + 5 + 5 + 5 (reader, status, notify) + 2 (reconciler) + 5 + 20 (delivery) = 92
    assert capacity.concurrency_claims(settings) == {
        "authorizer": 10, "validator": 10, "processor": 20, "archiver": 10, "reader": 5, "status": 5, "notify": 5,
        "reconciler": 2, "delivery_fanout": 5, "delivery_sender": 20}
    assert notifier.limiting.key == "quotas.lambda_concurrent_executions"
    assert notifier.max_rate == pytest.approx((1_000 - 92) / 0.0055)


def test_provisioned_concurrency_of_an_unreserved_processor_is_claimed_up_to_its_scaling_maximum():
    settings = small(functions={**SMALL["functions"], "processor": {"reserved_concurrency": None}},
                     processor_scaling={"provisioned_concurrency": 3, "min_capacity": 3, "max_capacity": 8})
    assert capacity.concurrency_claims(settings)["processor"] == 8


def test_the_first_hop_to_saturate_names_the_increase_that_moves_it():
    hops = capacity.hops(small(), TRAFFIC, ASSUMPTIONS)
    first = min(hops, key=lambda hop: hop.max_rate)
    assert first.name == "WAF rate rule"
    assert first.limiting.increase(100) == "raise api.waf_rate_limit to 15,000"  # 100 x 0.5 per address x 300 s
    table = {hop.name: hop for hop in hops}["DynamoDB writes"]
    assert table.limiting.increase(1_000) == (
        "request a Service Quotas increase of DynamoDB 'Table-level write throughput limit' (L-AB614373) to 2,000, "
        "then set quotas.dynamodb_table_write_units_per_second: 2000")


# ----- what synth checks -------------------------------------------------------------------------

OLD_PROD = {"functions": {"authorizer": {"reserved_concurrency": 200}, "processor": {"reserved_concurrency": 400}}}
OLD_PROD_LINE = (
    "prod: quotas.lambda_concurrent_executions: the functions reserve 982 concurrent executions (authorizer 200, "
    "validator 100, processor 400, archiver 50, notifier 50, reader 50, status 50, notify 20, reconciler 2, "
    "delivery_fanout 10, delivery_sender 50), more than the account's 1,000 less the 100 Lambda keeps unreserved "
    "(900): request a Service Quotas increase of Lambda 'Concurrent executions' (L-B99A9384) to 1,082, then set "
    "quotas.lambda_concurrent_executions: 1082, or lower the functions' reserved concurrency")


def test_fails_when_the_reserved_concurrency_exceeds_what_the_account_lets_reserve():
    with pytest.raises(SettingsError) as error:
        load_settings("prod", OLD_PROD, environ=NO_ENV)
    assert error.value.problems == [OLD_PROD_LINE]


def test_raising_the_accounts_concurrency_quota_makes_the_same_reservations_apply():
    settings = load_settings("prod", {**OLD_PROD, "quotas": {"lambda_concurrent_executions": 1_082}}, environ=NO_ENV)
    assert sum(capacity.concurrency_claims(settings).values()) == 982 <= capacity.reservable(settings) == 982


def test_fails_when_a_lower_unreserved_minimum_or_account_quota_leaves_too_little():
    with pytest.raises(SettingsError) as error:
        load_settings("prod", {"quotas": {"lambda_concurrent_executions": 800}}, environ=NO_ENV)
    assert error.value.problems[0].startswith(
        "prod: quotas.lambda_concurrent_executions: the functions reserve 782 concurrent executions")
    assert "than the account's 800 less the 100 Lambda keeps unreserved (700)" in error.value.problems[0]


def test_prod_applies_on_a_default_account_and_carries_its_design_rate():
    prod = load_settings("prod", environ=NO_ENV)
    assert prod.webhooks_per_minute == 10_000 and prod.quotas == QuotaSettings()
    assert sum(capacity.concurrency_claims(prod).values()) == 782 <= capacity.reservable(prod) == 900
    assert capacity.problems(prod) == []
    assert min(hop.max_rate for hop in capacity.hops(prod)) > capacity.design_rate(prod)


def test_fails_when_a_hop_cannot_carry_the_design_rate_naming_the_setting_and_the_increase():
    with pytest.raises(SettingsError) as error:
        load_settings("dev", {"webhooks_per_minute": 30_000}, environ=NO_ENV)
    assert error.value.problems == [
        "dev: api.waf_rate_limit: WAF rate rule carries at most 333 webhooks/s (rate-based rule 333 requests/s per "
        "source address), below the design rate 500/s (webhooks_per_minute 30,000): raise api.waf_rate_limit to "
        "150,000"]


def test_fails_when_a_quota_below_the_design_rate_is_configured_naming_its_code():
    with pytest.raises(SettingsError) as error:
        load_settings("prod", {"quotas": {"eventbridge_put_events_per_second": 50}}, environ=NO_ENV)
    assert error.value.problems == [
        "prod: quotas.eventbridge_put_events_per_second: Pipe B -> EventBridge carries at most 122 webhooks/s "
        "(PutEvents 50 entries/s, EventBridge 'PutEvents throttle limit in transactions per second' (L-9B653E91)), "
        "below the design rate 167/s (webhooks_per_minute 10,000): request a Service Quotas increase of EventBridge "
        "'PutEvents throttle limit in transactions per second' (L-9B653E91) to 69, then set "
        "quotas.eventbridge_put_events_per_second: 69"]


def test_quota_defaults_follow_the_region():
    assert capacity.QUOTAS["eventbridge_put_events_per_second"].default_for("us-east-1") == 10_000
    assert capacity.QUOTAS["eventbridge_put_events_per_second"].default_for("ap-southeast-1") == 1_200
    assert capacity.QUOTAS["eventbridge_put_events_per_second"].default_for("me-central-1") == 400
    assert capacity.QUOTAS["sqs_fifo_requests_per_second"].default_for("eu-central-1") == 19_000
    c1 = load_settings("prod", environ={"PAYMENTS_REGION": "ap-southeast-1", "PAYMENTS_STATE_BUCKET": "b-c1"})
    assert capacity.quota(c1, "sns_publish_per_second") == 1_500 and capacity.quota(c1, "lambda_concurrent_executions") == 1_000


def test_every_quota_setting_is_in_the_catalogue_with_a_source_and_a_way_to_raise_it():
    assert set(QuotaSettings.model_fields) == set(capacity.QUOTAS)
    for quota in capacity.QUOTAS.values():
        assert quota.source.startswith("https://docs.aws.amazon.com/"), quota.key
        assert (quota.code is not None) == (quota.raise_by == "service-quotas") or quota.key == "api_gateway_burst_requests"
    assert capacity.QUOTAS["lambda_concurrent_executions"].code == "L-B99A9384"


def test_fails_when_a_hard_limit_is_set_above_what_aws_allows():
    with pytest.raises(SettingsError) as error:
        load_settings("dev", {"quotas": {"sns_email_per_subscription_per_second": 20}}, environ=NO_ENV)
    assert error.value.problems == [
        "dev: quotas.sns_email_per_subscription_per_second: must be 1..10 (an SNS hard limit), got 20"]


# ----- warnings: e-mail subscriptions -----------------------------------------------------------

def test_an_email_subscription_a_large_vendor_could_overrun_is_a_warning_with_the_share():
    settings = small()
    assert capacity.warnings(settings, TRAFFIC) == [
        "vendor_subscriptions[0].protocol: vendor-demo by e-mail: SNS delivers at most 10 e-mails/s per subscription "
        "(a hard limit; above it SNS suspends the subscription) and the design rate publishes 50.0 notifications/s: a "
        "vendor with more than 20% of sales exceeds it; use a signed webhook (delivery.vendors) or an SQS subscription"]


def test_no_warning_when_every_vendor_fits_the_email_rate_or_none_is_by_email():
    assert capacity.warnings(small(webhooks_per_minute=1_200), TRAFFIC) == []  # 20/s x 0.5 = 10/s: fits
    assert capacity.warnings(load_settings("prod", environ=NO_ENV)) == []
    assert capacity.warnings(load_settings("local", environ=NO_ENV)) == []


def test_the_alert_email_is_warned_about_when_its_filter_lets_every_sale_through():
    settings = small(alert_email_vendor_ids=[])
    assert [line.split(":")[0] for line in capacity.warnings(settings, TRAFFIC)] == [
        "vendor_subscriptions[0].protocol", "alert_email_vendor_ids"]


def _run_main(context: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDKTF_", "PAYMENTS_"))}
    env.update(CDKTF_CONTEXT_JSON=json.dumps(context), CDKTF_OUTDIR=str(tmp_path / "out"))
    return subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_main_prints_the_quota_problem_of_a_prod_like_environment_once_and_fails(tmp_path):
    prod = read_environments()["prod"]
    prod_like = {**prod, "functions": {**prod["functions"], "authorizer": {"reserved_concurrency": 200},
                                       "processor": {"memory_mb": 3008, "reserved_concurrency": 400}}}
    run = _run_main({"environments": {"prod": prod_like}}, tmp_path)
    assert run.returncode == 2
    assert run.stderr == OLD_PROD_LINE + "\n" and run.stdout == ""
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_main_prints_a_capacity_warning_once_and_synthesizes(tmp_path):
    dev = {**read_environments()["dev"], "webhooks_per_minute": 8_000}
    run = _run_main({"environments": {"dev": dev}}, tmp_path)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("dev: warning: ")]
    assert warnings == [
        "dev: warning: vendor_subscriptions[0].protocol: vendor-demo by e-mail: SNS delivers at most 10 e-mails/s per "
        "subscription (a hard limit; above it SNS suspends the subscription) and the design rate publishes 42.7 "
        "notifications/s: a vendor with more than 23% of sales exceeds it; use a signed webhook (delivery.vendors) or "
        "an SQS subscription"]
    assert (tmp_path / "out" / "stacks" / "dev" / "cdk.tf.json").is_file()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert [a["level"] for a in manifest["stacks"]["dev"]["annotations"]] == ["@cdktf/warn"]  # `cdktf synth` prints it


# ----- the measured figures and the assumptions come from the capture and the cost model --------

@pytest.fixture(scope="module")
def cost_model():
    import scripts.cost

    return scripts.cost


def test_the_traffic_per_webhook_is_what_the_checked_in_capture_measures(cost_model):
    calls = cost_model.load_calls(cost_model.SAMPLE_CALLS)
    sizes = cost_model.realistic_sizes()
    path, n = cost_model.webhook_path(calls), calls["webhooks"]
    table = lambda prefix: [w for w in path["dynamodb_writes"] if w["table"].startswith(prefix)]  # noqa: E731
    ledger, markers = table("payment-transactions-"), table("payment-notification-markers-")
    ledger_wru = sum(wru(sizes["event_row"] if w.get("row_type") == "event" else w["size"]) for w in ledger)
    index_wru = sum(len(w["gsi"]) for w in ledger if w["ok"] and w.get("gsi") and w.get("kind") == "create")
    markers_wru = sum(wru(w["size"]) for w in markers)
    settings = cost_model.deployed_settings("prod", measured=cost_model.code_as_measured(calls, sizes))
    delivered, _ = cost_model.deliveries_made(calls)
    delivery_only_events, _ = cost_model.delivery_bus_events(calls, settings)
    notified = calls["functions"]["notifier"]["records"]
    fanned_out = calls["functions"]["delivery_fanout"]["records"]
    created = {tuple(w["key"]): w["size"] for w in calls["dynamodb_writes"]
               if w["table"].startswith("deliveries-") and w["op"] == "PutItem" and any(w["key"])}
    deliveries_wru = sum(wru(max(w["size"], created.get(tuple(w["key"]), 0)))
                         for w in calls["dynamodb_writes"] if w["table"].startswith("deliveries-"))
    measured = {
        "ledger_table_wru": ledger_wru / n, "ledger_index_wru": index_wru / n, "markers_table_wru": markers_wru / n,
        "archive_records": sum(1 for w in ledger if w.get("row_type") == "event" and w["ok"]) / n,
        "bus_events": (notified + delivery_only_events) / n, "rule_invocations": (notified + fanned_out) / n,
        "notifications": calls["calls"]["sns:Publish"] / n, "delivery_events": fanned_out / n,
        "deliveries": delivered / n, "deliveries_table_wru": deliveries_wru / n,
    }
    assert {key: round(value, 2) for key, value in measured.items()} == capacity.TRAFFIC.__dict__
    # the cost model counts the same: its DynamoDB line's table WRU are the ledger's and the markers' together
    lines = {line.service: line.detail for line in cost_model.model(calls, settings, sizes)}
    assert lines["DynamoDB"].startswith(f"{(ledger_wru + markers_wru) / n:.2f} table + {index_wru / n:.2f} index WRU")
    assert lines["EventBridge Pipes"].startswith(f"{measured['archive_records']:.2f} Pipe A")
    assert lines["SNS"].startswith(f"{measured['notifications']:.2f} publishes")


def test_the_assumed_durations_are_the_cost_models(cost_model):
    c = cost_model.CostSettings("prod")
    a = capacity.ASSUMPTIONS
    assert (a.authorizer_ms, a.processor_batch_ms, a.archiver_batch_ms, a.notifier_batch_ms, a.fanout_batch_ms,
            a.sender_batch_ms) == tuple(c.ms_per_invocation[fn] for fn in (
                "authorizer", "processor", "archiver", "notifier", "delivery_fanout", "delivery_sender"))
    assert (a.archiver_record_ms, a.notifier_record_ms, a.fanout_record_ms) == tuple(
        c.ms_per_record[fn] for fn in ("archiver", "notifier", "delivery_fanout"))
    assert (a.processor_cpu_ms, a.dynamodb_ms, a.vendor_ms) == (c.processor_cpu_ms, c.dynamodb_latency_ms,
                                                                c.vendor_latency_ms)
    calls = cost_model.load_calls(cost_model.SAMPLE_CALLS)
    sender = calls["calls_by_caller"]["delivery_sender"]
    trips = sum(v for k, v in sender.items() if k.startswith("dynamodb:"))
    assert round(trips / cost_model.deliveries_made(calls)[0], 1) == a.sender_dynamodb_trips


def test_the_models_constants_are_the_stacks_and_the_handlers():
    import delivery_sender_handler  # lambda_src/delivery_sender is an import root (pytest.ini)

    from constructs.processing import SQS_BATCH_SIZE
    from constructs.storage import LEDGER_GSIS

    assert capacity.SQS_BATCH == SQS_BATCH_SIZE
    assert capacity.SENDER_PARALLEL_GROUPS == delivery_sender_handler.MAX_PARALLEL_GROUPS
    assert capacity.LEDGER_INDEXES == len(LEDGER_GSIS)


# ----- python -m scripts.capacity ---------------------------------------------------------------

@pytest.fixture(scope="module")
def cli():
    import scripts.capacity

    return scripts.capacity


@pytest.mark.parametrize("text, per_second", [("10000/min", 10_000 / 60), ("167/s", 167), ("600", 10),
                                              ("1,200/min", 20)])
def test_rates_are_read_per_minute_or_per_second(cli, text, per_second):
    assert cli.parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0/min", "-5/s", "10/h"])
def test_fails_when_the_rate_is_not_a_rate(cli, text):
    import argparse

    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_rate(text)


def test_the_table_prints_each_hop_with_its_ceiling_and_utilisation_and_the_first_to_saturate(cli):
    text = cli.report(small(), 100.0, TRAFFIC, ASSUMPTIONS)
    row = lambda name: next(line for line in text.splitlines() if line.startswith(f"{name} ")).split()  # noqa: E731
    # the hop, its maximum, what limits it, then 1x, 10x, 100x (over 100% marked "!")
    assert row("WAF rate rule")[3] == "20/s" and row("WAF rate rule")[-6:] == ["500%", "!", "5000%", "!", "50000%", "!"]
    assert row("API Gateway")[2] == "500/s" and row("API Gateway")[-5:] == ["20%", "200%", "!", "2000%", "!"]
    assert row("authorizer λ")[2] == "2,000/s" and row("authorizer λ")[-4:] == ["5%", "50%", "500%", "!"]
    assert ("first hop to saturate: WAF rate rule at 20 webhooks/s (0.2x the rate): rate-based rule 10 requests/s per "
            "source address, api.waf_rate_limit") in text
    assert "over capacity at 10x (1,000/s):\n" in text
    assert "  WAF rate rule: raise api.waf_rate_limit to 150,000\n" in text
    assert "  API Gateway: raise api.throttle_rate_limit to 1,000\n" in text
    assert "  vendor-demo by e-mail: up to 20% of sales at this rate (50.0 notifications/s in all)" in text


def test_main_prints_the_prod_table_at_the_rate_asked(cli, capsys):
    assert cli.main(["--env", "prod", "--rate", "10000/min"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("capacity model: prod (us-east-1) at 10,000 webhooks/min = 166.7/s")
    assert "synth fails with" not in out and "first hop to saturate: " in out
    assert "Lambda concurrency: the functions reserve 782 of the 900" in out
