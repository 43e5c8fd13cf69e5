"""Delivery ops tool (scripts/ops/delivery_ops.py): listings with counts, dry runs that change nothing,
secrets written only to a file, state transitions that refuse what does not apply."""
from __future__ import annotations

import json
import os

import pytest
from delivery_fixtures import (  # noqa: F401  (fixtures)
    Esm,
    FakeContext,
    aws_env,
    clock,
    delivery_env,
    fanout,
    moto_visibility_as_sent,
    sender,
    sqs_event,
    status_change,
)

from paycore.delivery_ops import DeliveryOps
from paycore.delivery_store import DeliveryStore
from scripts.ops import delivery_ops as cli


def tools(env) -> DeliveryOps:
    return DeliveryOps(DeliveryStore(env.ddb, "deliveries-test"), env.sqs, env.queue_url, env.endpoints(), env.sm,
                       "payment-webhooks/test/")


def call(env, capsys, *argv) -> tuple[int, dict]:
    code = cli.main(["--env", "test", *argv], ops=tools(env))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else {"error": err})


def test_list_by_transaction_and_vendor_with_counts(delivery_env, fanout, sender, capsys):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    delivery_env.add_endpoint("vendor-a", "ep-a-down", respond=lambda v, h, b: 500)
    fanout.handler(sqs_event([status_change("pi_1", "succeeded"), status_change("pi_2", "succeeded")]), FakeContext())
    Esm(delivery_env, sender.handler).run(until=delivery_env.clock() + 1)
    capsys.readouterr()
    code, out = call(delivery_env, capsys, "list", "--transaction", "pi_1")
    assert code == 0 and out["count"] == 2 and out["by_state"] == {"delivered": 1, "pending": 1}
    assert all("payload" not in item for item in out["items"])
    code, out = call(delivery_env, capsys, "list", "--vendor", "vendor-a")
    assert out["count"] == 4 and out["by_state"] == {"delivered": 2, "pending": 2}
    message_id = next(i["message_id"] for i in out["items"] if i["endpoint_id"] == "ep-a-down")
    code, out = call(delivery_env, capsys, "attempts", message_id)
    assert [a["status_code"] for a in out["attempts"]] == [500]


def test_dry_runs_change_nothing(delivery_env, fanout, sender, capsys):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    code, out = call(delivery_env, capsys, "pause", "--endpoint", "ep-a-main", "--dry-run")
    assert out == {"endpoint_id": "ep-a-main", "from": "active", "to": "paused", "changed": 0, "dry_run": True}
    assert DeliveryStore(delivery_env.ddb, "deliveries-test").get_endpoint_state("ep-a-main")["admin_state"] == "active"
    code, out = call(delivery_env, capsys, "resume", "--endpoint", "ep-a-main")
    assert out["changed"] == 0 and out["to"] == "active"  # not paused: nothing to resume
    code, out = call(delivery_env, capsys, "disable", "--endpoint", "ep-a-main")
    assert out["changed"] == 1
    code, out = call(delivery_env, capsys, "pause", "--endpoint", "ep-nope")
    assert code == 2 and "unknown endpoint" in out["error"]


def test_secrets_are_written_to_a_file_never_printed(delivery_env, capsys, tmp_path):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    delivery_env.config["vendors"]["vendor-a"]["endpoints"].append(
        {"id": "ep-a-new", "url": "https://hooks.vendor.example/x", "event_types": ["payment.succeeded"]})
    code, out = call(delivery_env, capsys, "secret", "create", "--endpoint", "ep-a-new")
    assert code == 2 and "--out" in out["error"]
    target = tmp_path / "secret.txt"
    code, out = call(delivery_env, capsys, "secret", "create", "--endpoint", "ep-a-new", "--out", str(target))
    value = target.read_text().strip()
    assert out["created"] == 1 and value.startswith("whsec_") and value not in json.dumps(out)
    assert oct(os.stat(target).st_mode & 0o777) == "0o600"
    code, out = call(delivery_env, capsys, "secret", "create", "--endpoint", "ep-a-new", "--out", str(target))
    assert out["created"] == 0 and out["exists"] == 1 and target.read_text().strip() == value
    code, out = call(delivery_env, capsys, "secret", "rotate", "--endpoint", "ep-a-new", "--out", str(target), "--grace-hours", "2")
    stored = json.loads(delivery_env.sm.get_secret_value(SecretId="payment-webhooks/test/vendors/ep-a-new/signing")["SecretString"])
    assert stored["previous"] == value and stored["current"] == target.read_text().strip() != value
    assert stored["previous_expires_at"] == int(delivery_env.clock()) + 7200


def test_a_secret_container_made_by_the_stack_gets_its_first_value(delivery_env, capsys, tmp_path):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    delivery_env.config["vendors"]["vendor-a"]["endpoints"].append(
        {"id": "ep-a-new", "url": "https://hooks.vendor.example/x", "event_types": ["payment.succeeded"]})
    delivery_env.sm.create_secret(Name="payment-webhooks/test/vendors/ep-a-new/signing")  # no value yet
    target = tmp_path / "s.txt"
    code, out = call(delivery_env, capsys, "secret", "create", "--endpoint", "ep-a-new", "--out", str(target))
    assert out["created"] == 1
    stored = json.loads(delivery_env.sm.get_secret_value(SecretId="payment-webhooks/test/vendors/ep-a-new/signing")["SecretString"])
    assert stored == {"current": target.read_text().strip()}


def test_since_is_read_as_a_time_not_as_text():
    from paycore.delivery_ops import OpsError, normalize_since

    assert normalize_since("2026-11-28T10:00:00Z") == "2026-11-28T10:00:00.000Z"  # '.' < 'Z': same second included
    assert normalize_since("2026-11-28") == "2026-11-28T00:00:00.000Z"
    assert normalize_since("2026-11-28T12:00:00+02:00") == "2026-11-28T10:00:00.000Z"

    with pytest.raises(OpsError):
        normalize_since("yesterday")


def test_release_reports_the_parked_messages_and_refuses_an_unknown_endpoint(delivery_env, capsys):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    code, out = call(delivery_env, capsys, "release", "--endpoint", "ep-a-main", "--dry-run")
    assert code == 0 and out == {"endpoint_id": "ep-a-main", "parked": 0, "released": 0, "dry_run": True,
                                 "endpoint_state": "active", "would_release": 0}
    code, out = call(delivery_env, capsys, "release", "--endpoint", "ep-nope")
    assert code == 2 and "unknown endpoint" in out["error"]


@pytest.mark.parametrize("argv,message", [
    (["relase", "--endpoint", "ep-a-main"], "argument COMMAND: invalid choice: 'relase'"),
    (["release"], "the following arguments are required: --endpoint"),
    (["release", "--endpoint", "ep-nope", "--dry-run"], "unknown endpoint 'ep-nope'"),
    (["recover", "--endpoint", "ep-a-main", "--since", "yesterday", "--dry-run"],
     "argument --since: must be an ISO-8601 date or time"),
    (["list", "--endpoint", "ep-a-main", "--limit", "0"], "argument --limit: must be a whole number >= 1"),
    (["secret", "create", "--endpoint", "ep-a-main", "--dry-run"], "--out FILE is required"),
    (["secret", "create", "--endpoint", "ep-a-main", "--out", "/no/such/folder/s.txt", "--dry-run"],
     "--out /no/such/folder/s.txt: cannot write this file"),
    (["secret", "rotate", "--endpoint", "ep-a-main", "--out", "{tmp}/s.txt", "--grace-hours", "-1", "--dry-run"],
     "argument --grace-hours: must be a number of hours >= 0"),
    (["secret", "rotate", "--endpoint", "ep-a-main", "--out", "{tmp}/s.txt", "--dry-run"],
     "payment-webhooks/test/vendors/ep-a-main/signing has no value to rotate"),
])
def test_mistakes_are_one_line_exit_2_and_dry_runs_find_them_too(delivery_env, capsys, tmp_path, argv, message):
    delivery_env.add_endpoint("vendor-a", "ep-a-main")
    delivery_env.sm.delete_secret(SecretId="payment-webhooks/test/vendors/ep-a-main/signing",
                                  ForceDeleteWithoutRecovery=True)
    code = cli.main(["--env", "test", *(a.format(tmp=tmp_path) for a in argv)], ops=tools(delivery_env))
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("deliveries: ") and message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == [] and delivery_env.sm.list_secrets()["SecretList"] == []


def test_the_endpoint_configuration_is_checked_before_any_aws_call(tmp_path, capsys):
    """A missing, non-JSON or invalid --endpoints-file is one line and exit 2 (no AWS client is used)."""
    bad = tmp_path / "endpoints.json"
    for content, message in ((None, "No such file or directory"), ("{", "the endpoint configuration is not JSON"),
                             ('{"vendors": {"v": {"endpoints": [{"id": "ep-x-main", "url": "https://10.0.0.1/",'
                              ' "event_types": ["payment.succeeded"]}]}}}', "invalid vendor endpoint configuration: ")):
        if content is not None:
            bad.write_text(content)
        code = cli.main(["--env", "dev", "--endpoints-file", str(bad), "release", "--endpoint", "ep-x-main",
                         "--dry-run"], client=lambda service: _Offline())
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count("\n") == 1, err


class _Offline:
    """A client that must not be called (the configuration is read before the queue is looked up)."""

    def __getattr__(self, name):
        raise AssertionError(f"AWS call {name}")
