"""Reader and status APIs: lookups, pagination edges, forged cursors, invalid ids, no leaks."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import boto3
import pytest
from apigateway_events import IamCaller, proxy_event, synthesized_api

from lifecycle_events import state_writes
from downstream_fixtures import (  # noqa: F401  (fixtures)
    REGION,
    TABLE,
    FakeContext,
    apigw_event,
    aws_env,
    event_item,
    fresh,
    ledger,
    state_item,
)

import handler_constants
from boto3.dynamodb.conditions import Key

from paycore import cursor as cursor_mod
from paycore.query import gsi_key_value

INTERNAL = ("raw_gzip", "raw_zd1", "raw_sha256", "vendor_key", "customer_key", "idempotency_token", "status_rank",
            "row_type", "MARKER", "signature_headers", "expires_at")


SECRET_PREFIX = "payment-webhooks/test/"
CURSOR_KEY_NAME = f"{SECRET_PREFIX}query/cursor-key"
CURSOR_KEY = "ck-test-0123456789abcdef0123456789abcdef"
OTHER_CURSOR_KEY = "ck-next-fedcba9876543210fedcba9876543210"


@pytest.fixture
def cursor_key(aws_env, monkeypatch):
    """The reader's cursor key secret (moto) and ``SECRET_PREFIX``; returns a setter for its value."""
    monkeypatch.setenv("SECRET_PREFIX", SECRET_PREFIX)
    sm = boto3.client("secretsmanager", region_name=REGION)
    sm.create_secret(Name=CURSOR_KEY_NAME, SecretString=json.dumps({"current": CURSOR_KEY}))

    def put(value: dict) -> None:
        sm.put_secret_value(SecretId=CURSOR_KEY_NAME, SecretString=json.dumps(value))
        from paycore import secrets

        secrets.clear_all_caches()

    put.client = sm
    return put


@pytest.fixture
def reader(ledger, cursor_key):
    return fresh("reader_handler")


@pytest.fixture
def status(ledger):
    return fresh("status_handler")


def get(module, path, *, query=None):
    response = module.handler(apigw_event("GET", path, query=query), FakeContext())
    return response["statusCode"], json.loads(response["body"])


def list_page(reader, **query):
    return get(reader, "/transactions", query={k: str(v) for k, v in query.items()})


def seed_vendor(ledger, count: int, vendor="vendor-1"):
    for i in range(count):
        ledger.put_item(Item=state_item(f"pi_{vendor}_{i:03d}", vendor_id=vendor, created_at=f"2024-11-{10 + i % 20:02d}T00:00:{i % 60:02d}Z"))


def test_get_transaction_returns_state_and_history_without_internal_fields(reader, ledger):
    ledger.put_item(Item=state_item("pi_1"))
    ledger.put_item(Item=event_item("pi_1", "evt_b", status="succeeded", occurred_at="2024-11-22T01:00:05Z"))
    ledger.put_item(Item=event_item("pi_1", "evt_a", status="processing", occurred_at="2024-11-22T01:00:00Z"))
    ledger.put_item(Item={"transaction_id": "pi_1", "timestamp": "MARKER#notify#succeeded", "row_type": "marker",
                          "expires_at": 1})

    code, body = get(reader, "/transactions/pi_1")

    assert code == 200
    assert body["transaction"]["status"] == "succeeded"
    assert body["transaction"]["amount"] == 1999
    assert [e["event_id"] for e in body["events"]] == ["evt_a", "evt_b"]
    text = json.dumps(body)
    for name in INTERNAL:
        assert name not in text


def test_unknown_transaction_is_404_with_a_json_error(reader):
    code, body = get(reader, "/transactions/pi_nope")
    assert code == 404
    assert body == {"error": {"code": "not_found", "message": "transaction not found"}}


@pytest.mark.parametrize("bad_id", ["a b", "x" * 129, "semi;colon", "%00", "pi_1'--"])
def test_invalid_ids_are_rejected_with_400(reader, status, bad_id):
    code, body = get(reader, f"/transactions/{bad_id}")
    assert code == 400 and body["error"]["code"] == "invalid_id"
    code, body = get(status, f"/status/{bad_id}")
    assert code == 400 and body["error"]["code"] == "invalid_id"


def test_status_returns_the_status_and_the_amounts_also_of_a_row_of_the_older_model(status, ledger):
    ledger.put_item(Item=state_item("pi_1"))  # status and rank only: its amounts are derived
    code, body = get(status, "/status/pi_1")
    assert code == 200
    assert body == {"transaction_id": "pi_1", "status": "succeeded", "updated_at": "2024-11-22T01:00:05Z",
                    "currency": "usd", "captured_amount": 1999, "refunded_amount": 0, "reversed_amount": 0,
                    "disputed_amount": 0, "dispute_lost_amount": 0, "net_amount": 1999}
    ledger.put_item(Item=state_item("pi_2", status="refunded", previous_status="succeeded"))
    code, body = get(status, "/status/pi_2")
    assert (body["status"], body["captured_amount"], body["refunded_amount"], body["net_amount"]) == ("refunded", 1999,
                                                                                                   1999, 0)


def test_status_and_transaction_show_a_lifecycle_state_row(status, reader, ledger):
    for item in state_writes("pi_9", ["succeeded", "refunded", "dispute_opened"], amount=1050, vendor_id="vendor-1"):
        ledger.put_item(Item={k: v for k, v in item.items() if v is not None})
    code, body = get(status, "/status/pi_9")
    assert (code, body["status"], body["refunded_amount"], body["disputed_amount"], body["net_amount"]) == (
        200, "disputed", 1050, 1050, -1050)
    code, body = get(reader, "/transactions/pi_9")
    transaction = body["transaction"]
    assert transaction["payment_status"] == "succeeded" and transaction["status"] == "disputed"
    assert list(transaction["refunds"].values()) == [{"kind": "refund", "status": "succeeded", "amount": 1050,
                                                      "currency": "USD"}]
    assert [d["status"] for d in transaction["disputes"].values()] == ["open"]
    assert not {"announcements", "held", "log", "version", "bus_kinds", "conflicts"} & set(transaction)


@pytest.mark.parametrize("base_path", ["", "payments"])
def test_a_request_through_the_custom_domain_reaches_its_route(ledger, monkeypatch, base_path):
    """On the custom domain API Gateway's `path` starts with the base path mapping; the stack
    gives the query functions that prefix (API_BASE_PATH) and the execute-api path still routes."""
    ledger.put_item(Item=state_item("pi_1"))
    if base_path:
        monkeypatch.setenv("API_BASE_PATH", f"/{base_path}")
    else:
        monkeypatch.delenv("API_BASE_PATH", raising=False)
    status = fresh("status_handler")
    api = dataclasses.replace(synthesized_api("dev"), base_path=base_path)
    for custom_domain in (True, False):
        event = proxy_event(api, "GET", "/status/pi_1", caller=IamCaller(), custom_domain=custom_domain)
        assert event["path"] == ("/payments/status/pi_1" if base_path and custom_domain else "/status/pi_1")
        response = status.handler(event, FakeContext())
        assert response["statusCode"] == 200, (custom_domain, response["body"])


def test_without_the_base_path_a_custom_domain_request_finds_no_route(ledger, monkeypatch):
    monkeypatch.delenv("API_BASE_PATH", raising=False)
    status = fresh("status_handler")
    api = dataclasses.replace(synthesized_api("dev"), base_path="payments")
    event = proxy_event(api, "GET", "/status/pi_1", caller=IamCaller(), custom_domain=True)
    assert status.handler(event, FakeContext())["statusCode"] == 404


def test_status_of_unknown_transaction_is_404(status):
    code, body = get(status, "/status/pi_x")
    assert code == 404 and body["error"]["code"] == "not_found"


def test_listing_pages_through_every_item_once_newest_first(reader, ledger):
    seed_vendor(ledger, 7)
    seed_vendor(ledger, 3, vendor="vendor-2")
    seen, cursor, pages = [], None, 0
    while True:
        params = {"vendor_id": "vendor-1", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        code, body = list_page(reader, **params)
        assert code == 200
        pages += 1
        seen.extend(item["created_at"] for item in body["items"])
        for item in body["items"]:
            assert item["vendor_id"] == "vendor-1"
            assert "vendor_key" not in item and "idempotency_token" not in item
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)


def _all_pages(reader, limit=2):
    pages, cursor = [], None
    while True:
        query = {"vendor_id": "vendor-1", "limit": limit, **({"cursor": cursor} if cursor else {})}
        code, body = list_page(reader, **query)
        assert code == 200
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_listing_reads_the_state_rows_when_the_index_projects_only_keys(reader, ledger):
    seed_vendor(ledger, 5)
    with_all = _all_pages(reader)
    client = boto3.client("dynamodb", region_name=REGION)
    client.delete_table(TableName=TABLE)
    handler_constants.create_ledger_table(client, TABLE, projection="KEYS_ONLY")
    seed_vendor(ledger, 5)
    entry = ledger.query(IndexName="by-vendor", KeyConditionExpression=Key("vendor_key").eq(
        gsi_key_value("vendor_id", "vendor-1")), Limit=1)["Items"][0]
    assert "status" not in entry and "amount" not in entry  # the index carries keys only
    keys_only = _all_pages(reader)
    assert keys_only == with_all and len(with_all) == 3
    assert all({"status", "amount", "currency", "vendor_id", "updated_at"} <= set(item) for page in keys_only
               for item in page)


def test_last_page_exactly_full_has_no_cursor(reader, ledger):
    seed_vendor(ledger, 4)
    code, first = list_page(reader, vendor_id="vendor-1", limit=2)
    code, last = list_page(reader, vendor_id="vendor-1", limit=2, cursor=first["next_cursor"])
    assert code == 200 and len(last["items"]) == 2
    assert last["next_cursor"] is None


def test_empty_listing_is_an_empty_page(reader):
    code, body = list_page(reader, customer_id="nobody")
    assert code == 200
    assert body == {"items": [], "next_cursor": None}


def test_time_bounds_filter_on_created_at(reader, ledger):
    ledger.put_item(Item=state_item("pi_old", created_at="2024-11-01T10:00:00Z"))
    ledger.put_item(Item=state_item("pi_mid", created_at="2024-11-15T10:00:00Z"))
    ledger.put_item(Item=state_item("pi_new", created_at="2024-11-30T10:00:00Z"))
    code, body = list_page(reader, customer_id="cus-1", **{"from": "2024-11-10", "to": "2024-11-15"})
    assert code == 200
    assert [i["transaction_id"] for i in body["items"]] == ["pi_mid"]
    code, body = list_page(reader, customer_id="cus-1", **{"from": "2024-11-15T10:00:01Z"})
    assert [i["transaction_id"] for i in body["items"]] == ["pi_new"]


def test_forged_cursor_is_rejected_with_400(reader, ledger):
    seed_vendor(ledger, 3)
    _, first = list_page(reader, vendor_id="vendor-1", limit=1)
    raw = base64.urlsafe_b64decode(first["next_cursor"] + "==")
    payload = json.loads(raw[32:])
    payload["transaction_id"] = "pi_999"
    forged = base64.urlsafe_b64encode(raw[:32] + json.dumps(payload).encode()).rstrip(b"=").decode()

    for bad in (forged, "not-a-cursor", "A" * 3000, first["next_cursor"][:-2]):
        code, body = list_page(reader, vendor_id="vendor-1", limit=1, cursor=bad)
        assert code == 400, bad
        assert body["error"]["code"] == "invalid_cursor"


def test_cursor_of_one_vendor_is_rejected_for_another(reader, ledger):
    seed_vendor(ledger, 3)
    _, first = list_page(reader, vendor_id="vendor-1", limit=1)
    code, body = list_page(reader, vendor_id="vendor-2", limit=1, cursor=first["next_cursor"])
    assert code == 400 and body["error"]["code"] == "invalid_cursor"


def test_cursor_signed_with_a_replaced_key_is_rejected(reader, ledger, cursor_key):
    seed_vendor(ledger, 3)
    _, first = list_page(reader, vendor_id="vendor-1", limit=1)
    cursor_key({"current": OTHER_CURSOR_KEY})
    code, body = list_page(reader, vendor_id="vendor-1", limit=1, cursor=first["next_cursor"])
    assert code == 400 and body["error"]["code"] == "invalid_cursor"


def test_cursor_signed_before_a_rotation_still_pages_and_new_cursors_use_the_new_key(reader, ledger, cursor_key):
    seed_vendor(ledger, 3)
    _, first = list_page(reader, vendor_id="vendor-1", limit=1)
    cursor_key({"current": OTHER_CURSOR_KEY, "previous": CURSOR_KEY})
    code, second = list_page(reader, vendor_id="vendor-1", limit=1, cursor=first["next_cursor"])
    assert code == 200 and len(second["items"]) == 1
    cursor_key({"current": OTHER_CURSOR_KEY})  # rotation finished: the old key is gone
    code, third = list_page(reader, vendor_id="vendor-1", limit=1, cursor=second["next_cursor"])
    assert code == 200 and len(third["items"]) == 1


def test_cursor_forged_with_the_table_derived_key_is_rejected(reader, ledger):
    # The key earlier versions derived from the table name when no key was configured.
    seed_vendor(ledger, 3)
    _, first = list_page(reader, vendor_id="vendor-1", limit=1)
    genuine = base64.urlsafe_b64decode(first["next_cursor"] + "==")
    start_key = json.loads(genuine[32:])  # a well-formed start key for this very listing
    old_key = hashlib.sha256(f"paycore-cursor-v1:{TABLE}".encode()).digest()
    context = "|".join(["vendor_id", "vendor-1", "", ""])
    forged = cursor_mod.encode_cursor(start_key, secret=old_key, context=context)
    assert cursor_mod.decode_cursor(forged, secret=old_key, context=context) == start_key  # well made
    code, body = list_page(reader, vendor_id="vendor-1", limit=1, cursor=forged)
    assert code == 400 and body["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("problem", ["missing", "empty", "short", "not_json", "no_prefix"])
def test_listing_fails_closed_without_a_usable_cursor_key(ledger, cursor_key, monkeypatch, caplog, problem):
    seed_vendor(ledger, 3)
    if problem == "missing":
        cursor_key.client.delete_secret(SecretId=CURSOR_KEY_NAME, ForceDeleteWithoutRecovery=True)
    elif problem == "empty":
        cursor_key({"current": ""})
    elif problem == "short":
        cursor_key({"current": "short-key"})
    elif problem == "not_json":
        cursor_key.client.put_secret_value(SecretId=CURSOR_KEY_NAME, SecretString=CURSOR_KEY)
    else:
        monkeypatch.delenv("SECRET_PREFIX")
    reader = fresh("reader_handler")

    code, body = list_page(reader, vendor_id="vendor-1", limit=1)  # a first page signs a cursor too

    assert code == 500 and body == {"error": {"code": "internal_error", "message": "internal error"}}
    (record,) = [r for r in caplog.records if r.getMessage() == "pagination cursor key unavailable"]
    assert record.levelname == "ERROR" and CURSOR_KEY not in caplog.text and "short-key" not in caplog.text
    # a lookup by id needs no cursor key and keeps working
    code, _ = get(reader, "/transactions/pi_vendor-1_000")
    assert code == 200


def test_cursor_key_requires_a_current_key_of_32_characters():
    keys = cursor_mod.cursor_keys_from({"current": CURSOR_KEY, "previous": "too-short"})
    assert keys.signing == CURSOR_KEY.encode() and keys.accepted == (CURSOR_KEY.encode(),)
    with pytest.raises(cursor_mod.CursorKeyUnavailable):
        cursor_mod.cursor_keys_from({"current": " " * 40})
    assert not hasattr(cursor_mod, "cursor_secret")  # no table-derived fallback left


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"vendor_id": "v", "customer_id": "c"},
        {"vendor_id": "bad id"},
        {"vendor_id": "v", "limit": "0"},
        {"vendor_id": "v", "limit": "101"},
        {"vendor_id": "v", "limit": "ten"},
        {"vendor_id": "v", "from": "yesterday"},
        {"vendor_id": "v", "from": "2024-11-20", "to": "2024-11-01"},
        {"vendor_id": "v", "sort": "asc"},
    ],
)
def test_bad_listing_parameters_are_400(reader, query):
    code, body = list_page(reader, **query)
    assert code == 400
    assert set(body["error"]) == {"code", "message"}


def test_unknown_route_is_a_json_404(reader):
    """A path the resolver does not serve (API Gateway itself answers a path no resource matches)."""
    event = apigw_event("GET", "/transactions/pi_1")
    event["path"] = "/nope"
    response = reader.handler(event, FakeContext())
    code, body = response["statusCode"], json.loads(response["body"])
    assert code == 404 and body["error"]["code"] == "not_found"


def test_cursor_round_trip_and_tamper_detection():
    secret = b"k"
    token = cursor_mod.encode_cursor({"a": "1"}, secret=secret, context="ctx")
    assert cursor_mod.decode_cursor(token, secret=secret, context="ctx") == {"a": "1"}
    with pytest.raises(cursor_mod.InvalidCursor):
        cursor_mod.decode_cursor(token, secret=secret, context="other")
