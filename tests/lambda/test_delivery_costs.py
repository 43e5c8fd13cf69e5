"""AWS API calls per vendor delivery, counted from a run (the functions' calls only; the event
source mapping's ReceiveMessage/DeleteMessageBatch are counted separately). Prints the figures
the README's cost table uses and fails when a change adds calls to the hot path."""
from __future__ import annotations

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

N = 30


def run(delivery_env, fanout, sender, **endpoint) -> tuple[dict[str, float], Esm]:
    vendor = delivery_env.add_endpoint("vendor-a", "ep-a-main", **endpoint)
    delivery_env.calls.calls.clear()
    for start in range(0, N, 10):
        assert fanout.handler(sqs_event([status_change(f"pi_{i}", "succeeded") for i in range(start, start + 10)]),
                              FakeContext()) == {"batchItemFailures": []}
    esm = Esm(delivery_env, sender.handler)
    esm.run()
    assert len(vendor.received()) == N and len(vendor.requests) == N
    per_delivery = {k: v / N for k, v in sorted(delivery_env.calls.by_operation().items())}
    print(f"\nper delivery ({endpoint or 'no limit'}): {per_delivery}; ESM receives {esm.receives / N:.2f}, "
          f"invocations {esm.invocations / N:.2f}")
    return per_delivery, esm


def item_bytes(item: dict) -> int:
    """DynamoDB item size: attribute names + values (strings UTF-8, numbers ~ digits/2 + 1)."""
    size = 0
    for name, value in item.items():
        (kind, raw), = value.items()
        size += len(name) + (len(raw.encode()) if kind == "S" else len(raw) // 2 + 1 if kind == "N" else 8)
    return size


def test_calls_per_first_try_delivery(delivery_env, fanout, sender, capsys):
    calls, esm = run(delivery_env, fanout, sender)
    rows = delivery_env.ddb.scan(TableName="deliveries-test")["Items"]
    sizes = {kind: max(item_bytes(i) for i in rows if i["sk"]["S"].startswith(kind)) for kind in ("MSG", "ATT")}
    out = capsys.readouterr().out
    emf = [line for line in out.splitlines() if '"_aws"' in line and "DeliveryAttempts" in line]
    assert len(emf) == N  # one metrics blob per attempt
    log_bytes = sum(len(line) + 1 for line in out.splitlines() if line.startswith("{"))
    log_lines = sum(1 for line in out.splitlines() if '"message":' in line)
    with capsys.disabled():
        print(f"\nlargest message row {sizes['MSG']} B, attempt row {sizes['ATT']} B; "
              f"stdout (EMF + {log_lines} log lines) {log_bytes / N:.0f} B per delivery")
    assert sizes["MSG"] <= 1024 and sizes["ATT"] <= 1024  # one write unit each
    assert calls["sqs:SendMessageBatch"] == 1  # fan-out: one batch per status change (up to 10 endpoints)
    assert calls["dynamodb:BatchGetItem"] == 1  # message row + endpoint state
    assert calls["dynamodb:PutItem"] == 2  # message row created, attempt recorded
    assert calls["dynamodb:UpdateItem"] == 1  # message delivered
    assert calls["secretsmanager:GetSecretValue"] == 1 / N  # cached 300 s per execution environment
    assert set(calls) == {"sqs:SendMessageBatch", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                          "secretsmanager:GetSecretValue"}


def test_a_rate_limit_adds_one_conditional_update(delivery_env, fanout, sender):
    calls, _ = run(delivery_env, fanout, sender, rate_limit_per_second=1000)
    assert calls["dynamodb:UpdateItem"] == 2
    assert calls["secretsmanager:GetSecretValue"] == 1 / N
