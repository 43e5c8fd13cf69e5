"""scripts/cost (python -m scripts.cost) computes the cost from the local run's JSON, not from typed-in
figures, with the environment's settings as the stack deploys them."""
from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from paycore import events as domain_events

import scripts.cost as cost_model

SIZES = {"raw_body": 2997, "envelope": 4260, "event_row": 986, "event_row_gzip": 1738, "event_row_codec": "raw_zd1"}


def _write(op, key, size, ok=True, row_type="state", gsi=(), kind=None):
    write = {"op": op, "key": list(key), "size": size, "ok": ok, "row_type": row_type, "gsi": list(gsi)}
    if kind:
        write["kind"] = kind
    return write


@pytest.fixture
def calls():
    """Two webhooks of one payment: processing then succeeded (what scripts/cost/capture.py saves)."""
    return {
        "format": 1, "webhooks": 2,
        "calls": {"sqs:SendMessage": 2, "sqs:ReceiveMessage": 2, "sqs:DeleteMessage": 3, "dynamodb:PutItem": 6,
                  "dynamodb:UpdateItem": 2, "s3:PutObject": 1, "events:PutEvents": 1, "sns:Publish": 1,
                  "secretsmanager:GetSecretValue": 1},
        "failed": {"dynamodb:UpdateItem": 1},
        "function_errors": {},
        "dynamodb_writes": [
            _write("PutItem", ("event#stripe#evt_1", "MARKER"), 180, row_type="marker", kind="create"),
            _write("PutItem", ("pi_1", "t1#evt_1"), 900, row_type="event", kind="create"),
            _write("UpdateItem", ("pi_1", "STATE"), 340, ok=False, gsi=("by-vendor", "by-customer")),
            _write("PutItem", ("pi_1", "STATE"), 340, gsi=("by-vendor", "by-customer"), kind="create"),
            _write("PutItem", ("event#stripe#evt_2", "MARKER"), 180, row_type="marker", kind="create"),
            _write("PutItem", ("pi_1", "t2#evt_2"), 900, row_type="event", kind="create"),
            _write("UpdateItem", ("pi_1", "STATE"), 360, gsi=("by-vendor", "by-customer")),
        ],
        "message_bytes": {"events": [300, 300], "sqs": [1000, 1000], "sns": [200]},
        "functions": {
            "authorizer": {"invocations": 2, "records": 2},
            "processor": {"invocations": 1, "records": 2},
            "archiver": {"invocations": 1, "records": 2},
            "notifier": {"invocations": 1, "records": 1},
        },
        "log_lines": {"processor": {"INFO transaction event recorded": {"lines": 2, "bytes": 600}, "EMF": {"lines": 1, "bytes": 400}},
                      "authorizer": {"INFO webhook gate: allowed": {"lines": 2, "bytes": 500}}},
    }


@pytest.fixture
def calls_now(calls):
    """The same two webhooks as the ledger writes them now, plus a redelivery of the second: the
    state row created by one UpdateItem, the redelivery's two reads instead of two failed writes."""
    now = copy.deepcopy(calls)
    writes = now["dynamodb_writes"]
    del writes[2]  # no failed "advance" before the create
    writes[2] = _write("UpdateItem", ("pi_1", "STATE"), 340, gsi=("by-vendor", "by-customer"), kind="create")
    writes.append(_write("PutItem", ("event#stripe#evt_2", "MARKER"), 180, ok=False, row_type="marker"))
    now["webhooks"] = 3
    now["failed"] = {"dynamodb:PutItem": 1}
    now["calls"]["dynamodb:GetItem"] = 2
    now["dynamodb_reads"] = [{"op": "GetItem", "key": ["pi_1", "t2#evt_2"], "row_type": "event", "size": 986},
                             {"op": "GetItem", "key": ["pi_1", "STATE"], "row_type": "state", "size": 360}]
    return now


def _line(lines, service):
    return next(line for line in lines if line.service == service)


def test_write_units_come_from_the_item_sizes_and_failed_writes_in_the_json(calls):
    lines = cost_model.model(calls, cost_model.base_settings("prod"), SIZES)
    # table: 1 + 2 (1,738 B event row) + 1 (failed update) + 1 + 1 + 2 + 1 = 9 WRU;
    # indexes (projection ALL): the create and the successful update write both = 4 WRU
    expected = (9 + 4) / 2 * cost_model.PRICES["ddb_per_wru"] * 1e6
    assert _line(lines, "DynamoDB").dollars_per_million == pytest.approx(expected)


def test_more_webhooks_for_the_same_calls_cost_less_per_webhook(calls):
    doubled = copy.deepcopy(calls)
    doubled["webhooks"] = 4
    settings = cost_model.base_settings("prod")
    one, two = cost_model.model(calls, settings, SIZES), cost_model.model(doubled, settings, SIZES)
    assert _line(two, "DynamoDB").dollars_per_million == pytest.approx(_line(one, "DynamoDB").dollars_per_million / 2)
    assert _line(two, "API Gateway REST").dollars_per_million == _line(one, "API Gateway REST").dollars_per_million


#: Parameters the settings or the code set, each with the line it must make cheaper than the base.
SAVINGS = (
    ({"event_row": "zd1"}, "DynamoDB"), ({"gsi_projection": "KEYS_ONLY"}, "DynamoDB"),
    ({"single_state_write": True}, "DynamoDB"), ({"success_info_logs": False}, "CloudWatch Logs"),
    ({"waf_log_actions": ("BLOCK",)}, "CloudWatch Logs"), ({"alert_email_filtered": True}, "SNS"),
    ({"pipe_b_routed_only": True}, "EventBridge"), ({"pipe_a_batch_size": 100, "pipe_a_window_seconds": 60}, "S3"),
)


@pytest.mark.parametrize(("change", "service"), SAVINGS)
def test_each_parameter_prices_what_it_changes(calls, change, service):
    base = cost_model.base_settings("prod")
    before = cost_model.model(calls, base, SIZES)
    after = cost_model.model(calls, dataclasses.replace(base, **change), SIZES)
    assert _line(after, service).dollars_per_million < _line(before, service).dollars_per_million


def test_what_the_code_does_is_read_from_the_run_and_priced_either_way(calls_now):
    sizes = SIZES
    assert cost_model.code_as_measured(calls_now, sizes) == {
        "event_row": "zd1", "single_state_write": True, "redelivery_reads": True}
    base = dataclasses.replace(cost_model.base_settings("prod"), event_row="zd1")
    ddb = lambda **change: _line(cost_model.model(  # noqa: E731
        calls_now, dataclasses.replace(base, **change), sizes), "DynamoDB").dollars_per_million
    now = ddb(single_state_write=True, redelivery_reads=True)
    # table, now: marker 1 + event 1 + state create 1 + marker 1 + event 1 + state 1 + failed marker 1 = 7 WRU, 2 RRU;
    # indexes (ALL): the create and the update write both = 4 WRU
    assert now == pytest.approx(((7 + 4) * cost_model.PRICES["ddb_per_wru"] + 2 * cost_model.PRICES["ddb_per_rru"]) / 3 * 1e6)
    # without one conditional write: a failed update before the create (+1 WRU)
    assert ddb(single_state_write=False, redelivery_reads=True) == pytest.approx(now + cost_model.PRICES["ddb_per_wru"] / 3 * 1e6)
    # without reads first: the redelivery's two reads were two failed conditional writes (1 + 1 WRU)
    assert ddb(single_state_write=True, redelivery_reads=False) == pytest.approx(
        now + (2 * cost_model.PRICES["ddb_per_wru"] - 2 * cost_model.PRICES["ddb_per_rru"]) / 3 * 1e6)


def test_log_level_decides_which_captured_lines_are_written():
    settings = cost_model.base_settings("prod")
    written = lambda fn, kind, **change: cost_model.line_written(  # noqa: E731
        fn, kind, dataclasses.replace(settings, **change))
    assert written("processor", "DEBUG transaction event recorded") and written("processor", "INFO transaction event recorded")
    assert not written("processor", "DEBUG transaction event recorded", success_info_logs=False)
    assert written("processor", "INFO duplicate webhook acknowledged")
    assert not written("processor", "INFO duplicate webhook acknowledged", log_level="WARNING")
    assert written("processor", "WARNING webhook rejected", log_level="WARNING") and written("archiver", "EMF", log_level="ERROR")
    assert not written("processor", "DEBUG paypal certificate cached")


def test_report_prints_one_line_per_service_and_the_total_last(calls):
    text = cost_model.report(cost_model.model(calls, cost_model.base_settings("prod"), SIZES))
    assert text.splitlines()[-1].startswith("total: $") and text.endswith(" per million webhooks")
    assert len(text.splitlines()) > 10


def test_the_checked_in_run_as_prod_deploys_it_costs_at_most_ten_dollars_per_million():
    calls = cost_model.load_calls(cost_model.SAMPLE_CALLS)
    sizes = cost_model.realistic_sizes()
    assert sizes["event_row_gzip"] > 1024 >= sizes["event_row"] and sizes["event_row_codec"] == "raw_zd1"
    settings = cost_model.deployed_settings("prod", measured=cost_model.code_as_measured(calls, sizes))
    assert cost_model.total(cost_model.model(calls, settings, sizes)) <= 10.00


def test_now_is_what_the_environment_deploys():
    prod = cost_model.deployed_settings("prod")
    assert (prod.pipe_a_batch_size, prod.pipe_a_window_seconds, prod.gsi_projection) == (100, 60, "KEYS_ONLY")
    assert prod.memory_mb["processor"] == 3008 and prod.lambda_system_log_level == "WARN"
    assert (prod.pipe_b_routed_only, prod.waf_log_actions, prod.alert_email_filtered) == (True, ("BLOCK",), True)
    assert (prod.log_level, prod.success_info_logs, prod.access_log_class) == ("WARNING", False, "INFREQUENT_ACCESS")
    assert prod.processor_parallelism == 10 and prod.access_log_bytes == cost_model.access_log_bytes()
    assert (prod.webhooks_per_minute, cost_model.deployed_settings("dev").webhooks_per_minute) == (10_000, 1_000)
    # what the code does comes from the run (code_as_measured), else the model's base assumption
    assert (prod.event_row, prod.single_state_write, prod.redelivery_reads) == ("gzip", False, False)
    code = {"event_row": "zd1", "single_state_write": True, "redelivery_reads": True}
    assert dataclasses.replace(prod, **code) == cost_model.deployed_settings("prod", measured=code)
    undone = cost_model.deployed_settings("prod", overrides={
        "pipes": {"archive_batch_size": 10, "archive_batching_window_seconds": 0, "status_routed_statuses": []},
        "api": {"waf_log_actions": [], "access_log_class": "STANDARD"}, "alert_email_vendor_ids": [],
        "ledger_index_projection": "ALL", "lambda_system_log_level": "INFO", "processor_parallel_groups": 1,
        "log_level": "INFO"})
    assert (undone.pipe_a_batch_size, undone.pipe_a_window_seconds, undone.pipe_b_routed_only) == (10, 0, False)
    assert (undone.waf_log_actions, undone.access_log_class, undone.alert_email_filtered) == ((), "STANDARD", False)
    assert (undone.gsi_projection, undone.lambda_system_log_level, undone.processor_parallelism) == ("ALL", "INFO", 1)
    # log level INFO: the success lines are DEBUG, still not written
    assert (undone.log_level, undone.success_info_logs) == ("INFO", False)
    debug = cost_model.deployed_settings("prod", overrides={"log_level": "DEBUG"})
    assert debug.success_info_logs
    # local switches LoggingConfig off: its platform lines stay at INFO
    assert cost_model.deployed_settings("dev").lambda_system_log_level == "WARN"


def test_fails_when_the_environment_runs_on_the_emulator():
    with pytest.raises(SystemExit, match="local runs on the local emulator"):
        cost_model.deployed_settings("local")


def test_a_json_not_written_by_the_capture_is_refused(tmp_path):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps({"calls": {}}))
    with pytest.raises(SystemExit, match="not a cost capture"):
        cost_model.load_calls(path)


def test_access_log_bytes_are_the_deployed_format_rendered():
    from constructs.ingress import ACCESS_LOG_FORMAT

    assert cost_model.deployed_settings("prod").access_log_bytes == cost_model.access_log_bytes(ACCESS_LOG_FORMAT) == 427
    spaced = json.dumps({**json.loads(ACCESS_LOG_FORMAT), "protocol": "$context.protocol"}, sort_keys=True)
    assert cost_model.access_log_bytes(spaced) == 480  # one more field, one more line's worth


# --------------------------------------------------------------------------- vendor delivery

def _delivery_write(op, size, ok=True, gsi=(), kind=None):
    write = {"op": op, "key": ["", ""], "size": size, "ok": ok, "gsi": list(gsi), "table": "deliveries-local"}
    if kind:
        write["kind"] = kind
    return write


@pytest.fixture
def calls_delivery(calls):
    """The same two webhooks with vendor delivery in the run: the succeeded change and a refunded
    one (delivery's only: Pipe B's second entry) fanned out to 3 deliveries, each delivered first
    try; the sender held one message for its rate limit (a failed rate-slot update + a
    ChangeMessageVisibility); the runner polled every queue until empty, the processor's too."""
    run = copy.deepcopy(calls)
    fanout = {"sqs:ReceiveMessage": 2, "sqs:DeleteMessage": 2, "sqs:SendMessageBatch": 2}
    sender = {"sqs:ReceiveMessage": 4, "sqs:DeleteMessage": 3, "sqs:ChangeMessageVisibility": 1,
              "dynamodb:BatchGetItem": 3, "dynamodb:PutItem": 6, "dynamodb:UpdateItem": 4,
              "secretsmanager:GetSecretValue": 1}
    empty_polls = {"sqs:ReceiveMessage": 3}  # the processor's queue polled while the sender waited
    for ops in (fanout, sender, empty_polls):
        for key, value in ops.items():
            run["calls"][key] = run["calls"].get(key, 0) + value
    run["calls_by_caller"] = {"delivery_fanout": fanout, "delivery_sender": sender, "processor": empty_polls}
    run["failed"]["dynamodb:UpdateItem"] += 1
    run["dynamodb_writes"] += [_delivery_write("PutItem", 772, gsi=("by-endpoint", "by-transaction"), kind="create")
                               for _ in range(3)]
    run["dynamodb_writes"] += [_delivery_write("PutItem", 158, kind="create") for _ in range(3)]
    run["dynamodb_writes"] += [_delivery_write("UpdateItem", 0) for _ in range(3)]
    run["dynamodb_writes"].append(_delivery_write("UpdateItem", 0, ok=False))
    run["functions"]["delivery_fanout"] = {"invocations": 1, "records": 2}
    run["functions"]["delivery_sender"] = {"invocations": 2, "records": 3, "message_groups": 3}
    run["log_lines"]["delivery_sender"] = {"INFO webhook delivered": {"lines": 3, "bytes": 900},
                                           "EMF": {"lines": 3, "bytes": 1302}}
    run["log_lines"]["delivery_fanout"] = {"INFO delivery fan-out": {"lines": 2, "bytes": 500}}
    return run


def _dollars(lines):
    return {line.service: round(line.dollars_per_million, 9) for line in lines}


@pytest.mark.parametrize("deployed", [False, True])
def test_the_webhook_figure_does_not_move_when_delivery_ran_in_the_same_run(calls, calls_delivery, deployed):
    settings = cost_model.deployed_settings("prod") if deployed else cost_model.base_settings("prod")
    assert _dollars(cost_model.model(calls_delivery, settings, SIZES)) == _dollars(cost_model.model(calls, settings, SIZES))
    # without the split, delivery's writes, invocations and calls land on the webhook path
    unsplit = {k: v for k, v in calls_delivery.items() if k != "calls_by_caller"}
    assert cost_model.total(cost_model.model(unsplit, settings, SIZES)) > cost_model.total(cost_model.model(calls, settings, SIZES))


def test_a_capture_without_calls_by_caller_is_priced_as_it_was_and_has_no_delivery_block(calls):
    assert cost_model.webhook_path(calls) is calls
    assert cost_model.delivery_model(calls, cost_model.base_settings("prod")) == ([], {})


def test_empty_polls_of_the_runner_are_not_priced_unless_asked(calls_delivery):
    settings = cost_model.base_settings("prod")
    sqs = lambda s: _line(cost_model.model(calls_delivery, s, SIZES), "SQS").dollars_per_million  # noqa: E731
    # 2 batches (processor 1, notifier 1): 2 receives priced, not the 5 the runner made; the 3 more
    # are split by records (processor 2 FIFO, notifier 1 standard), over 2 webhooks
    assert sqs(dataclasses.replace(settings, esm_empty_receives=True)) == pytest.approx(
        sqs(settings) + 3 * (2 / 3 * cost_model.PRICES["sqs_fifo_per_request"]
                             + 1 / 3 * cost_model.PRICES["sqs_standard_per_request"]) / 2 * 1e6)


def test_delivery_block_prices_the_delivery_calls_per_delivery_made(calls_delivery):
    settings = cost_model.deployed_settings("prod")
    lines, figures = cost_model.delivery_model(calls_delivery, settings)
    assert {k: figures[k] for k in ("deliveries", "attempts", "per_webhook")} == {"deliveries": 3, "attempts": 3, "per_webhook": 1.5}
    got = _dollars(lines)
    p = cost_model.PRICES
    # table: 3 message rows + 3 attempts + 3 delivered updates + 1 failed rate slot = 10 WRU; the
    # message rows' 2 KEYS_ONLY index entries each = 6 WRU; 3 BatchGetItem x 2 consistent keys = 6 RRU
    assert got["DynamoDB"] == pytest.approx(((10 + 6) * p["ddb_per_wru"] + 6 * p["ddb_per_rru"]) / 3 * 1e6)
    # standard: the rule's 2 sends + 1 receive + 1 delete (one batch); FIFO: 2 SendMessageBatch +
    # 2 receives + 2 deletes (two batches, not the runner's 4 and 3) + 1 hold
    assert got["SQS"] == pytest.approx((4 * p["sqs_standard_per_request"] + 7 * p["sqs_fifo_per_request"]) / 3 * 1e6)
    # one bus event and Pipe B record only delivery routes (Pipe B's 2 entries less the notifier's 1)
    assert got["EventBridge"] == pytest.approx(p["eventbridge_per_event"] / 3 * 1e6)
    assert got["EventBridge Pipes"] == pytest.approx(p["pipes_per_request"] / 3 * 1e6)
    # prod logs at WARNING: only the EMF blobs
    assert got["CloudWatch Logs"] == pytest.approx(1302 / 3 / 1e9 * p["logs_per_gb_ingested"] * 1e6)
    assert got["NAT data transfer out"] == pytest.approx(2048 / 1e9 * 0.09 * 1e6)
    # sender: 5 ms per invocation + (13 DynamoDB calls x 4 ms + 3 attempts x 200 ms vendor) / 1.5
    # groups at once (3 groups in 2 batches)
    seconds = (2 * 5 + (13 * 4 + 3 * 200) / 1.5) / 1000
    assert got["Lambda delivery_sender"] == pytest.approx(
        (2 * p["lambda_per_request"] + seconds * 0.5 * p["lambda_arm_per_gb_second"]) / 3 * 1e6)
    # 10 environments x 3 endpoint secrets per 300 s = 6 calls a minute over 15,000 deliveries a minute
    assert got["Secrets Manager + KMS"] == pytest.approx(6 / 15_000 * (p["secrets_per_call"] + p["kms_per_call"]) * 1e6)
    text = cost_model.delivery_report(lines, figures)
    assert text.splitlines()[-1] == f"vendor delivery: ${cost_model.total(lines):.2f} per million notifications delivered"
    assert "(run: 0.333)" in text  # the measured GetSecretValue per delivery beside the modelled one
    # the hold: 1 ChangeMessageVisibility, no re-read (3 BatchGetItem for 3 attempts), 1 failed rate-slot write
    assert figures["held_dollars"] == pytest.approx((p["sqs_fifo_per_request"] + p["ddb_per_wru"]) / 3 * 1e6)
    assert f"a first try without a hold: ${cost_model.total(lines) - figures['held_dollars']:.2f}" in text


def test_delivery_index_entries_without_index_keys_in_the_capture_come_from_the_rows_created(calls_delivery):
    settings = cost_model.deployed_settings("prod")
    bare = copy.deepcopy(calls_delivery)
    for write in bare["dynamodb_writes"]:
        if write.get("table"):
            write["gsi"] = []
    ddb = lambda c: _line(cost_model.delivery_model(c, settings)[0], "DynamoDB").dollars_per_million  # noqa: E731
    assert ddb(bare) == pytest.approx(ddb(calls_delivery))  # 6 PutItems - 3 attempts = 3 message rows x 2
    assert cost_model.DELIVERY_INDEXES == tuple(__import__("constructs.delivery", fromlist=["INDEXES"]).INDEXES)


def test_statuses_only_delivery_routes_are_its_cost_counted_by_status_when_captured(calls_delivery):
    # by default Pipe B routes every announcement (the notifier tells them all): delivery adds no event
    deployed = cost_model.deployed_settings("prod")
    assert deployed.webhook_statuses == domain_events.PIPE_B_ROUTED_KINDS and deployed.delivery_statuses == ()
    settings = cost_model.deployed_settings("prod", overrides={"pipes": {"status_routed_statuses": ["succeeded"]}})
    assert settings.pipe_b_routed_only and settings.webhook_statuses == ("succeeded",)
    assert settings.delivery_statuses == ("failed", "canceled", "refunded", "reversed")
    run = copy.deepcopy(calls_delivery)
    states = [w for w in run["dynamodb_writes"] if w.get("row_type") == "state"]
    for write, status in zip(states, ("processing", "processing", "succeeded"), strict=True):
        write["status"] = status
    # a second payment succeeded (an unroutable vendor: on the bus, not notified) then refunded; a
    # third reversed, then a stale "failed" that changes nothing
    run["dynamodb_writes"] += [
        _write("UpdateItem", ("pi_2", "STATE"), 340, kind="create") | {"status": "succeeded"},
        _write("UpdateItem", ("pi_2", "STATE"), 340) | {"status": "refunded"},
        _write("UpdateItem", ("pi_3", "STATE"), 340, kind="create") | {"status": "reversed"},
        _write("UpdateItem", ("pi_3", "STATE"), 340, ok=False) | {"status": "failed"},
    ]
    assert cost_model.delivery_bus_events(run, settings)[0] == 2  # refunded + reversed; the failed write changed nothing
    bus = _line(cost_model.model(run, settings, SIZES), "EventBridge").dollars_per_million
    assert bus == pytest.approx(2 / 2 * cost_model.PRICES["eventbridge_per_event"] * 1e6)  # 2 succeeded per 2 webhooks
    # unfiltered Pipe B: every change is the webhook path's already, delivery adds none
    assert cost_model.delivery_bus_events(run, dataclasses.replace(settings, pipe_b_routed_only=False))[0] == 0


def test_secrets_are_priced_per_time_at_the_design_rate_with_the_run_beside(calls):
    settings = cost_model.base_settings("prod")
    assert (settings.webhooks_per_minute, settings.warm_environments, settings.secret_cache_seconds) == (10_000, 10, 300)
    # prod: stripe + paypal gate keys (authorizer), their signing secrets (processor), 3 vendor endpoints
    assert settings.secrets_read == {"authorizer": 2, "processor": 2, "delivery_sender": 3}
    line = lambda c, s: _line(cost_model.model(c, s, SIZES), "Secrets Manager + KMS")  # noqa: E731
    price = cost_model.PRICES["secrets_per_call"] + cost_model.PRICES["kms_per_call"]
    # 10 environments x 4 secrets / 5 min = 8 calls a minute over 10,000 webhooks
    assert line(calls, settings).dollars_per_million == pytest.approx(8 / 10_000 * price * 1e6)
    assert "0.0008 GetSecretValue" in line(calls, settings).detail and "(run: 0.500)" in line(calls, settings).detail
    more = copy.deepcopy(calls)
    more["calls"]["secretsmanager:GetSecretValue"] = 50  # the run's figure is shown, not priced
    assert line(more, settings).dollars_per_million == line(calls, settings).dollars_per_million
    busier = dataclasses.replace(settings, warm_environments=20, webhooks_per_minute=5_000)
    assert line(calls, busier).dollars_per_million == pytest.approx(4 * line(calls, settings).dollars_per_million)


def test_main_prints_the_delivery_block_after_the_webhook_total(calls_delivery, tmp_path, capsys):
    path = tmp_path / "calls.json"
    path.write_text(json.dumps(calls_delivery))
    assert cost_model.main(["--env", "prod", "--calls", str(path), "--no-bill"]) == 0
    out = capsys.readouterr().out.splitlines()
    webhook = next(i for i, text in enumerate(out) if text.startswith("total: $"))
    assert out[webhook + 1].startswith("vendor delivery, $ per million notifications delivered")
    last = next(i for i, text in enumerate(out) if text.startswith("vendor delivery: $"))
    assert out[last].endswith(" per million notifications delivered")
    assert out[last + 1].startswith("reconciler stripe, $ per run") and out[-1].startswith("  capacity: ")


def test_capture_records_the_status_of_a_state_write_and_the_deliveries_table_keys():
    from scripts.cost import capture as cost_capture

    capture = object.__new__(cost_capture.CostCapture)
    capture.platform = type("Platform", (), {"functions": type("Functions", (), {"current": "processor"})(), "polling": None})()
    capture.message_bytes = {}

    def recorded(op, params):
        model = type("Model", (), {"name": op, "service_model": type("S", (), {"service_name": "dynamodb"})()})()
        context: dict = {}
        capture._record_params(params, model, context)
        return context["cost_write"]

    state = recorded("UpdateItem", {"TableName": "payment-transactions-local", "ReturnValues": "UPDATED_OLD",
                                    "Key": {"transaction_id": {"S": "pi_1"}, "timestamp": {"S": "STATE"}},
                                    "ExpressionAttributeValues": {":status": {"S": "refunded"}, ":rank": {"N": "70"}}})
    assert (state["status"], state["key"], state["table"]) == ("refunded", ["pi_1", "STATE"], "payment-transactions-local")
    message = recorded("PutItem", {"TableName": "deliveries-local", "Item": {
        "pk": {"S": "MSG#m1"}, "sk": {"S": "MSG"}, "transaction_id": {"S": "pi_1"}, "endpoint_key": {"S": "ep"},
        "txn_key": {"S": "pi_1"}}})
    assert message["key"] == ["MSG#m1", "MSG"] and message["gsi"] == ["by-endpoint", "by-transaction"]
    assert "status" not in message


def test_a_reconciler_run_is_priced_per_run_and_per_recovered_event_and_its_capacity_stated():
    from scripts.cost.reconcile import ReconcileInputs, per_recovered_event, run_model
    from scripts.cost.webhook import Line

    stripe_lines, stripe = run_model(ReconcileInputs(provider="stripe", listed_share=0.001))
    paypal_lines, paypal = run_model(ReconcileInputs(provider="paypal", listed_share=1.0))
    assert stripe["listed_per_run"] == 750 and stripe["pages_per_run"] == 8
    assert sum(line.dollars_per_million for line in stripe_lines) < 0.001  # dollars per run
    assert paypal["listed_per_run"] == 750_000 and paypal["seconds_per_run"] > 300  # a full list outgrows the timeout
    assert (stripe["listable_in_timeout"], paypal["listable_in_timeout"]) == (40_000, 120_000)
    recovered = per_recovered_event([Line("API Gateway REST", 3.5, ""), Line("SQS", 0.76, ""), Line("WAF", 0.6, "")])
    assert recovered.dollars_per_million == pytest.approx(0.5e-6 / 10 + 0.76e-6)
