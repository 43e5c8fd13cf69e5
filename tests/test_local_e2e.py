"""End to end on this machine: the `local` stack applied to a moto server with `cdktf deploy local`, then
signed webhooks driven through what was deployed with the real handler code
(scripts/local/runner/). Nothing is mocked but the emulator itself."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import os
import subprocess
import sys

import boto3
import pytest

from scripts.local import deploy as local_deploy
from scripts.local import e2e as local_e2e
from scripts.local import sample_webhooks
from scripts.local.readback import event_id_of, ledger_rows
from scripts.local.runner import LocalPlatform
from support import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.longest_path]
COUNT = 240


@pytest.fixture(scope="module")
def emulator():
    with local_deploy.LocalEmulator() as running:
        yield running


@pytest.fixture(scope="module")
def deployment(emulator, tmp_path_factory):
    capture: dict[str, str] = {}
    # deployed, checked and destroyed with the cdktf CLI, as the README's cdktf loop does
    deployed = local_deploy.cdktf_deploy(
        emulator.endpoint_url, tmp_path_factory.mktemp("cdktf.out"),
        prepare=lambda: capture.update(local_e2e.create_capture_queues(emulator.endpoint_url)))
    deployed.capture_urls = capture
    yield deployed


@pytest.fixture(scope="module")
def signer():
    return sample_webhooks.PayPalSigner()


@pytest.fixture(scope="module")
def platform(deployment, emulator, signer):
    running = LocalPlatform(deployment.state, emulator.endpoint_url, paypal_fetch=signer.fetch,
                            paypal_trust_store=signer.trust_store_path)
    local_e2e.set_secrets(running, signer)
    return running


@pytest.fixture(scope="module")
def vendors(platform):
    """The vendors' webhook receivers on the ports of the deployed endpoint configuration."""
    running = local_e2e.start_vendors(platform)
    assert running is not None, "the local stack deploys vendor endpoints"
    yield running
    running.stop()


@pytest.fixture(scope="module")
def requests(signer):
    return sample_webhooks.scenario(count=COUNT, stripe_secret=local_e2e.STRIPE_SECRET, paypal=signer,
                                    gate_keys=local_e2e.GATE_KEYS, vendors=local_e2e.vendor_ids())


@pytest.fixture(scope="module")
def diff_after_the_main_run():
    """`cdktf diff local`, started once the main run is done, beside the later scenarios (they
    change data, never what Terraform manages): Terraform's CPU and the scenarios' waits overlap
    instead of adding up. The diff test waits for its output."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdktf-diff") as pool:
        yield pool


@pytest.fixture(scope="module")
def summary(platform, requests, deployment, vendors, diff_after_the_main_run):
    result = local_e2e.run_scenario(platform, requests, deployment.capture_urls, vendors=vendors)
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=2))
    result["_diff"] = diff_after_the_main_run.submit(deployment.cdktf_diff)
    return result


def kinds(requests) -> collections.Counter:
    return collections.Counter(r.expect.kind for r in requests)


def test_scenario_has_the_required_mix(requests):
    counted = kinds(requests)
    assert len(requests) >= 200
    assert counted["duplicate"] >= 0.1 * COUNT - 1
    assert counted["bad_signature"] >= 0.05 * COUNT - 1
    assert counted["malformed"] >= 2 and counted["oversized"] >= 1
    reordered = [r for r in requests if r.expect.kind == "valid" and r.expect.status in ("succeeded", "failed")]
    assert reordered, "lifecycles with a completion"


def test_every_resource_of_the_stack_is_applied(deployment):
    planned = json.loads((deployment.workdir / "cdk.tf.json").read_text())["resource"]
    count = sum(len(v) for v in planned.values())
    assert len(deployment.resources()) == count


def test_nothing_lost_nothing_doubled(summary, requests):
    assert summary["lost"] == 0, summary["lost_event_ids"]
    assert summary["doubled"] == 0
    valid = {r.expect.event_id for r in requests if r.expect.kind == "valid"}
    assert set(summary["_event_ids"]) == valid


def test_every_rejection_is_accounted_for(summary, requests):
    counted = kinds(requests)
    rejected = summary["rejected_by_reason"]
    assert sum(v for k, v in rejected.items() if k in ("bad_signature", "signature_mismatch", "invalid_signature")) \
        == counted["bad_signature"], rejected
    assert sum(rejected.values()) == counted["bad_signature"] + counted["malformed"], rejected
    assert summary["quarantined"] == counted["bad_signature"] + counted["malformed"]
    # the deployed web ACL's body rule answers 413 before API Gateway: nothing queued, nothing lost
    oversized = {status for status, rs in summary["_outcome"].items() for r in rs if r.expect.kind == "oversized"}
    assert oversized == {413}
    assert summary["waf_blocked"] == counted["oversized"]
    assert summary["http_status"].get(200, 0) == len(requests) - counted["oversized"]
    assert summary["dlq_depths"] and all(v == 0 for v in summary["dlq_depths"].values()), summary["dlq_depths"]


def test_late_duplicates_are_acknowledged_without_a_second_row(summary, requests):
    """The run sends duplicates past the FIFO 5-minute window (as provider retries hours later
    would), so each one reaches the processor: each is counted once and writes nothing."""
    duplicates = kinds(requests)["duplicate"]
    assert duplicates >= 0.1 * COUNT - 1
    assert summary["duplicates"] == duplicates
    assert summary["ledger_event_rows"] == len({r.expect.event_id for r in requests if r.expect.kind == "valid"})


def test_quick_copies_each_reach_the_processor_and_are_acknowledged(platform, requests, summary):
    """Three quick copies of an already-recorded event, inside SQS's 5-minute window: the queue
    deduplicates on the API Gateway request id, so each copy reaches the processor, and the
    ledger's idempotency acknowledges each one as a duplicate."""
    original = next(r for r in requests if r.expect.kind == "valid" and r.provider == "stripe")
    before = sum(v for k, v in platform.metrics.items() if k.startswith("DuplicateWebhook"))
    for _ in range(3):  # received right after the original (its signature is minutes old by now)
        assert platform.http("POST", original.path, headers=original.headers, query=original.query,
                             body=original.body, received_at_ms=original.received_at_ms + 1).status == 200
    platform.drain()
    after = sum(v for k, v in platform.metrics.items() if k.startswith("DuplicateWebhook"))
    assert after - before == 3


def test_a_forged_copy_sent_first_does_not_keep_the_genuine_event_out(summary, requests):
    forged = [r for r in requests if r.expect.kind == "bad_signature" and r.expect.transaction_id]
    assert {r.provider for r in forged} == {"stripe", "paypal"}
    for copy in forged:
        genuine = next(r for r in requests if r.expect.kind == "valid" and r.expect.event_id == copy.expect.event_id)
        assert requests.index(copy) == requests.index(genuine) - 1  # sent just before it
        assert copy.expect.event_id in summary["_event_ids"]
        assert summary["_states"][genuine.expect.transaction_id]


def test_reordered_events_leave_the_final_status(summary, requests):
    final = {}
    for r in requests:
        if r.expect.kind == "valid" and r.expect.status in ("succeeded", "failed"):
            final[r.expect.transaction_id] = r.expect.status
    states = summary["_states"]
    assert {tx: states[tx]["status"]["S"] for tx in final} == final


def test_archive_holds_every_ledger_event(summary):
    assert sorted(summary["_archived"]) == sorted(summary["_event_ids"])


def test_notifications_only_for_sales_and_failed_payments_and_only_to_their_vendor(summary, requests):
    """The notifier tells a vendor each announcement of its payments: in the main run's mix, a sale
    or a failed payment (a pending or processing status is not announced)."""
    succeeded = collections.defaultdict(set)
    for r in requests:
        if r.expect.kind == "valid" and r.expect.status in ("succeeded", "failed"):
            succeeded[r.expect.vendor_id].add(r.expect.transaction_id)
    assert succeeded
    for vendor, messages in summary["_notifications"].items():
        notified = set()
        for message in messages:
            attributes = message.get("MessageAttributes", {})
            assert attributes.get("vendor_id", {}).get("Value") == vendor
            body = json.loads(message["Message"])
            notified.add(body["transaction_id"])
        assert notified == succeeded[vendor], vendor


def test_gate_rejects_a_wrong_key_before_the_queue(platform, requests, summary):
    request = next(r for r in requests if r.provider == "stripe" and r.expect.kind == "valid")
    result = platform.http("POST", request.path, headers=request.headers, query={"key": "wrong"}, body=request.body)
    assert result.status in (401, 403)
    other = next(r for r in requests if r.provider == "paypal" and r.expect.kind == "valid")
    # the stripe key does not open the paypal route
    result = platform.http("POST", other.path, headers={**other.headers, "X-Webhook-Key": local_e2e.GATE_KEYS["stripe"]},
                           query={}, body=other.body)
    assert result.status in (401, 403)


def test_fault_injection_recovers_with_nothing_lost(platform, signer, summary, monkeypatch):
    """The emulator fails DynamoDB writes for a while; retries and redelivery recover them."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.models import DynamoDBBackend

    class ProvisionedThroughputExceeded(DynamodbException):
        def __init__(self):
            super().__init__(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException",
                             "The level of configured provisioned throughput for the table was exceeded.")

    fresh = sample_webhooks.scenario(count=30, stripe_secret=local_e2e.STRIPE_SECRET, paypal=signer,
                                     gate_keys=local_e2e.GATE_KEYS, vendors=local_e2e.vendor_ids(), seed=99,
                                     duplicate_ratio=0, bad_signature_ratio=0, malformed=0, oversized=0,
                                     reordered_pairs=0, id_prefix="flt")
    failures = {"left": 12}
    original_put = DynamoDBBackend.put_item

    def flaky_put(self, *args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ProvisionedThroughputExceeded()
        return original_put(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", flaky_put)
    for r in fresh:
        assert platform.http("POST", r.path, headers=r.headers, query=r.query, body=r.body,
                             received_at_ms=r.received_at_ms).status == 200
    platform.drain()
    assert failures["left"] == 0, "the fault was exercised"
    monkeypatch.setattr(DynamoDBBackend, "put_item", original_put)
    rows = ledger_rows(platform.endpoint_url, platform.wiring.table_name)
    stored = {event_id_of(r) for r in rows if r.get("row_type", {}).get("S") == "event"}
    assert {r.expect.event_id for r in fresh} <= stored


@pytest.fixture(scope="module")
def zero_loss(platform, signer, summary, vendors):
    result = local_e2e.zero_loss(platform, signer, vendors)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}, indent=2))
    # the run's figures, for whoever reads them after the suite (generated output: build/ is ignored)
    local_e2e.save_report(local_e2e.report(summary, result))
    return result


def test_the_run_ends_with_a_short_table_and_every_figure_in_the_report(summary, zero_loss):
    table = local_e2e.summary_table(summary, zero_loss, {"webhooks": summary["seconds"]})
    print(table)
    rows = {line.split()[0]: line.split()[1] for line in table.splitlines()}
    assert (rows["requests"], rows["recorded"], rows["lost"], rows["doubled"]) == (
        str(summary["sent"]), str(summary["ledger_event_rows"]), "0", "0")
    saved = json.loads(local_e2e.REPORT.read_text())
    assert saved["summary"]["ledger_event_rows"] == summary["ledger_event_rows"] and "_outcome" not in saved["summary"]


def test_zero_loss_headline(summary, zero_loss):
    figures = local_e2e.headline(summary, zero_loss)
    assert figures == {"lost": 0, "doubled": 0, "innocent_in_dlq": 0,
                       "recovered_by_replay": zero_loss["wrong_secret"]["recovered_by_replay"],
                       "recovered_by_reconciliation": zero_loss["reconcile"]["recovered_by_reconciliation"]}
    assert (figures["recovered_by_replay"], figures["recovered_by_reconciliation"]) == (4, 7)


def test_signed_events_with_unusable_business_fields_are_recorded_counted_not_notified(zero_loss):
    unroutable = zero_loss["unroutable"]
    assert (unroutable["sent"], unroutable["recorded"], unroutable["notified"]) == (3, 3, 0)
    assert unroutable["counted"] == {"unsafe_vendor_id": 2, "unknown_currency": 1}


def test_payment_lifecycles_reach_their_vendor_in_order_with_the_right_amounts(zero_loss):
    """Sales, partial refunds and disputes (two refunds sent before their sales) through the deployed
    wiring: the ledger's amounts, and each payment's story on SNS and on the vendor's webhooks."""
    lifecycle = zero_loss["lifecycle"]
    assert {k: lifecycle[k] for k in ("payments", "out_of_order", "wrong_totals", "vendor_order_violations")} == {
        "payments": 6, "out_of_order": 2, "wrong_totals": 0, "vendor_order_violations": 0}, lifecycle
    assert lifecycle["channels"] == ["sns", "webhooks"]


def test_only_the_poison_message_reaches_the_dlq_and_redrive_parks_it(zero_loss):
    poison = zero_loss["poison"]
    assert poison["in_dlq"] == ["evt_outage_victim", "evt_poison"]
    assert poison["innocent_in_dlq"] == 0
    assert (poison["recovered_by_redrive"], poison["parked"], poison["dlq_after"]) == (1, 1, 0)
    assert poison["recovered_from_parked"] == 1


def test_wrong_secret_window_is_recovered_by_the_quarantine_replay(zero_loss):
    window = zero_loss["wrong_secret"]
    assert (window["sent"], window["quarantined"], window["dry_run_verified"]) == (5, 5, 5)
    assert (window["requeued"], window["requeued_again"]) == (5, 0)
    assert window["recovered_by_replay"] == 4  # the fifth came in with Stripe's own retry


def test_webhooks_refused_during_an_outage_are_recovered_by_the_reconciler(zero_loss):
    """Issue 27 against the deployment: a wrong gate key for a window, every webhook of it refused,
    the providers give up; the reconciler, invoked as its schedule does, lists the providers' events
    (loopback fakes of their APIs) and recovers each one, and what was recorded already stays single."""
    window = zero_loss["reconcile"]
    assert window["refused_during_outage"] == 7, window
    # Stripe's scheduled list asks for undelivered events only (delivery_success=false); PayPal lists all
    assert (window["listed"], window["already_recorded"], window["recovered"]) == (8, 1, 7), window
    assert (window["recovered_next_run"], window["recovered_by_reconciliation"]) == (0, 7), window
    assert zero_loss["lost"] == 0 and zero_loss["doubled"] == 0


def test_what_a_forger_sends_is_quarantined_and_the_genuine_traffic_beside_it_recorded(zero_loss):
    """Issue 25 against the deployment: a PayPal body with a colliding CRC32 under a captured
    delivery's headers, a direct payment sent to the queue without the validator's signature, an
    unverified PayPal message in a genuine payment's group, an Idempotency-Key reused."""
    inbound = zero_loss["inbound"]
    direct = inbound["direct"]
    assert (direct["first"], direct["repeated"], direct["same_answer"]) == (202, 202, True), direct
    assert (direct["key_reused"], direct["key_reused_code"]) == (422, "idempotency_key_reused"), direct
    assert inbound["rejected"] == {"internal_signature_mismatch": 1, "transmission_replayed": 1,
                                   "certificate_unavailable": 1}, inbound
    assert (inbound["forged_recorded"], inbound["genuine_recorded"], inbound["dlq_after"]) == (0, 3, 0), inbound
    assert zero_loss["forged_recorded"] == 0


def test_vendors_receive_every_notification_once_per_endpoint_verified_and_in_order(summary):
    """The main run through the deployed vendor-delivery rule, queues and functions: each vendor
    endpoint keeps (verified with the standardwebhooks library, de-duplicated by webhook-id)
    exactly the statuses it subscribes to, one delivery each, no later status before an earlier one."""
    figures = summary["vendor_deliveries"]
    assert figures["expected"] and all(figures["expected"].values()), figures
    assert figures["delivered"] == figures["expected"], figures
    assert set(figures["missing"].values()) == {0} and set(figures["unexpected"].values()) == {0}, figures
    assert (figures["unverified"], figures["out_of_order"]) == (0, 0), figures
    assert summary["api_calls_per_delivery"], "the delivery functions' calls are measured"


def test_a_dead_vendor_exhausts_its_schedule_and_recover_since_delivers_everything(zero_loss):
    dead = zero_loss["delivery"]["dead_vendor"]
    delivery = zero_loss["delivery"]
    assert dead["sent"] == 3
    assert (delivery["exhausted_events"], dead["received_after_recover"]) == (3, 3), delivery
    assert delivery["exhausted"] == 3  # the DeliveryExhausted metric, per vendor


def test_a_rate_limited_vendor_receives_at_its_limit_and_another_vendor_is_not_delayed(zero_loss):
    limited, healthy = zero_loss["delivery"]["rate_limit"], zero_loss["delivery"]["healthy_vendor"]
    assert limited["received"] == limited["sent"] >= 3 * limited["per_second"], limited
    assert 1 <= limited["most_in_one_second"] <= limited["per_second"], limited
    assert limited["held_back"] >= 1, limited
    assert healthy["received"] == healthy["requests"] == healthy["sent"], healthy  # each on its first attempt
    assert healthy["done_before_rate_limited_vendor"], healthy


def test_a_vendor_answering_500_for_a_while_receives_everything_in_order(zero_loss):
    failing = zero_loss["delivery"]["failing_vendor"]
    assert (failing["answered_500"], failing["received"]) == (3, 4), failing
    assert list(failing["order_per_payment"].values()) == [["payment.succeeded", "payment.refunded"]] * 2, failing


def test_a_410_disables_the_endpoint_with_an_event_and_enable_then_recover_delivers(zero_loss):
    gone = zero_loss["delivery"]["gone_endpoint"]
    assert gone["answered_410"] >= 1 and gone["requests"] == gone["answered_410"], gone
    assert (gone["disabled_events"], gone["disabled_metric"]) == (["gone"], 1), gone
    assert (gone["enabled_again"], gone["recovered_after_enable"]) == (1, 2), gone


def test_every_delivery_of_the_whole_run_is_accounted_for(platform, vendors, zero_loss):
    """After every scenario (faults, 500s, a dead vendor, a 410): each endpoint has each of its
    notifications once, in order, nothing unverified; duplicates on the wire are counted."""
    rows = ledger_rows(platform.endpoint_url, platform.wiring.table_name)
    figures = local_e2e.delivery_figures(platform, vendors, rows)
    print("vendor deliveries of the run:", json.dumps(figures))
    assert figures["delivered"] == figures["expected"], figures
    assert (figures["unverified"], figures["out_of_order"]) == (0, 0), figures
    assert zero_loss["delivery"]["out_of_order"] == 0


def test_every_event_the_runner_built_for_a_queue_or_a_pipe_is_shaped_as_aws_samples(platform, zero_loss):
    """Every distinct shape of event a queue- or pipe-triggered function got in the whole run
    (plain and redriven messages, rule deliveries, Pipe A batches) has the keys and JSON types of
    AWS's sample for its trigger (tests/aws_samples/); a rule's SQS body is the whole EventBridge event."""
    import aws_shapes

    checked = collections.Counter()
    for source in platform.wiring.event_sources:
        sample = aws_shapes.sqs_sample(source.queue.name, source.queue.fifo)
        for event in platform.functions.events_by_shape[source.function].values():
            assert aws_shapes.differences(event, sample, maps=aws_shapes.sqs_maps()) == [], source.function
            checked[source.function] += 1
            if any(rule.target_arns and source.queue.arn in rule.target_arns for rule in platform.wiring.bus_rules):
                for record in event["Records"]:
                    assert aws_shapes.differences(json.loads(record["body"]), aws_shapes.eventbridge_sample(),
                                                  maps={"$.detail": None}) == [], source.function
    for pipe in (p for p in platform.wiring.pipes if p.target_function):
        sample = aws_shapes.stream_sample(platform.wiring.table_name)
        for event in platform.functions.events_by_shape[pipe.target_function].values():
            assert aws_shapes.differences(event, sample, maps=aws_shapes.stream_maps("$[]")) == [], pipe.name
            checked[pipe.target_function] += 1
    assert set(checked) == {"processor", "notifier", "delivery_fanout", "delivery_sender", "archiver"}, checked


def test_cdktf_diff_after_deploy_shows_no_changes(deployment, summary):
    output = summary["_diff"].result(timeout=900)
    if "No changes." not in output:
        changes = deployment.plan_changes()
        pytest.fail(f"cdktf diff local shows changes: {changes}\n{deployment.plan_diff(changes)}")


def test_the_ops_cli_finds_every_deployed_target_with_no_aws_credentials(deployment, emulator, summary, tmp_path):
    """`python -m scripts.ops --env local` on the deployed stack, from a shell without AWS credentials: each
    command's dry run finds the names the stack deployed (secrets, queues, bucket, deliveries)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PAYMENTS_"))}
    env.update(HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", PAYMENTS_LOCAL_ENDPOINT=emulator.endpoint_url)
    commands = [["secrets", "--provider", "stripe", "--generate-gate-key", "--cursor-key", "generate"],
                ["redrive"], ["redrive", "--queue", "notifications"],
                ["replay-archive", "--provider", "stripe", "--from", "2020-01-01", "--to", "2100-01-01"],
                ["replay-quarantine", "--provider", "stripe"], ["deliveries", "pause", "--endpoint", "ep-a-main"]]
    for command in commands:
        run = subprocess.run([sys.executable, "-m", "scripts.ops", "--env", "local", *command, "--dry-run"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (command, run.stderr)
        assert json.loads(run.stdout)["dry_run"] is True, (command, run.stdout)


def test_destroy_leaves_nothing_behind(deployment, emulator, summary):
    summary["_diff"].exception(timeout=900)  # never destroy under a diff still running (when run alone)
    our_keys = [r["values"]["key_id"] for r in deployment.by_type("aws_kms_key")]
    deployment.destroy()
    url = emulator.endpoint_url
    client = lambda service: boto3.client(service, endpoint_url=url, region_name="us-east-1")  # noqa: E731
    assert client("dynamodb").list_tables()["TableNames"] == []
    queues = client("sqs").list_queues().get("QueueUrls", [])
    assert [q for q in queues if "vendor-capture-" not in q] == []
    assert client("s3").list_buckets()["Buckets"] == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("sns").list_topics()["Topics"] == []
    assert client("apigateway").get_rest_apis()["items"] == []
    assert [b for b in client("events").list_event_buses()["EventBuses"] if b["Name"] != "default"] == []
    assert client("secretsmanager").list_secrets()["SecretList"] == []
    assert client("ec2").describe_instances(Filters=[{"Name": "instance-state-name", "Values": ["running"]}])[
        "Reservations"] == []
    # KMS keys cannot be deleted at once: they wait out their deletion window
    states = {key: client("kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] for key in our_keys}
    assert our_keys and set(states.values()) == {"PendingDeletion"}, states
