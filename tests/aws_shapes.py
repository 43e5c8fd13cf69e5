"""AWS's sample events (tests/aws_samples/, README there) and the comparison of an event's shape
with a sample's: the same keys at every level, `{}` vs `null` vs absent, the same JSON types.

Where an object's keys are data rather than shape (a message's attribute names, a DynamoDB image, an
EventBridge event's `detail`), the caller names its path in `maps`: its values are then compared
with one sample value (or by a function), or not at all (None)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Union

SAMPLES = Path(__file__).resolve().parent / "aws_samples"
_TAG = re.compile(r"\{\{\{(\w+)\}\}\}")

Check = Callable[[Any, str], list[str]]
MapRule = Union[None, Check, Mapping[str, Any], list, str]


def load(relative: str, **values: Any) -> Any:
    """A sample with its `{{{name}}}` tags filled (as text inside JSON strings); every tag must be given."""
    text = (SAMPLES / relative).read_text()
    missing = sorted(set(_TAG.findall(text)) - set(values))
    if missing:
        raise KeyError(f"{relative}: no value for {missing}")
    return json.loads(_TAG.sub(lambda m: json.dumps(str(values[m.group(1)]))[1:-1], text))


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    for kind, name in ((str, "string"), (dict, "object"), (list, "array")):
        if isinstance(value, kind):
            return name
    return f"not JSON ({type(value).__name__})"


def differences(actual: Any, sample: Any, *, maps: Mapping[str, MapRule] | None = None,
                optional: frozenset[str] | set[str] = frozenset(), path: str = "$") -> list[str]:
    """Where `actual` differs in shape from `sample`: paths use `[]` for any array element; a key
    at a path in `optional` may be absent (AWS sends it only sometimes) but nothing else."""
    maps = maps or {}
    found, expected = json_type(actual), json_type(sample)
    if found != expected:
        return [f"{path}: {found}, AWS sends {expected}"]
    if path in maps:
        rule = maps[path]
        if rule is None:
            return []
        if callable(rule):
            return rule(actual, path)
        return [d for key, value in actual.items()
                for d in differences(value, rule, maps=maps, optional=optional, path=f"{path}.{key}")]
    if isinstance(actual, dict):
        problems = [f"{path}.{k}: not sent by AWS" for k in actual if k not in sample]
        problems += [f"{path}.{k}: absent, AWS sends it" for k in sample
                     if k not in actual and f"{path}.{k}" not in optional]
        for key in actual.keys() & sample.keys():
            problems += differences(actual[key], sample[key], maps=maps, optional=optional, path=f"{path}.{key}")
        return problems
    if isinstance(actual, list) and sample:
        return [d for item in actual for d in differences(item, sample[0], maps=maps, optional=optional,
                                                          path=f"{path}[]")]
    return []


#: DynamoDB JSON (DynamoDB API reference, `AttributeValue`): one key, the JSON type of its value.
ATTRIBUTE_TYPES = {"S": "string", "N": "string", "B": "string", "BOOL": "boolean", "NULL": "boolean",
                   "M": "object", "L": "array", "SS": "array", "NS": "array", "BS": "array"}


def attribute_values(image: Any, path: str) -> list[str]:
    """An item image in DynamoDB JSON: each attribute one `{type: value}` of the documented types."""
    problems = []
    for name, value in image.items():
        where = f"{path}.{name}"
        if json_type(value) != "object" or len(value) != 1 or next(iter(value)) not in ATTRIBUTE_TYPES:
            problems.append(f"{where}: not a DynamoDB attribute value")
            continue
        (kind, raw), = value.items()
        if json_type(raw) != ATTRIBUTE_TYPES[kind]:
            problems.append(f"{where}.{kind}: {json_type(raw)}, AWS sends {ATTRIBUTE_TYPES[kind]}")
        elif kind == "M":
            problems += attribute_values(raw, f"{where}.M")
        elif kind == "L":
            problems += attribute_values(dict(enumerate(raw)), f"{where}.L")
        elif kind in ("SS", "NS", "BS"):
            problems += [f"{where}.{kind}[]: {json_type(v)}, AWS sends string" for v in raw if not isinstance(v, str)]
    return problems


def sqs_maps(records_path: str = "$.Records[]") -> dict[str, MapRule]:
    """SQS records: attribute names are data; each attribute in Lambda's form."""
    return {f"{records_path}.messageAttributes": load("sqs/SqsMessageAttribute.json", value="v", data_type="String")}


def stream_maps(records_path: str) -> dict[str, MapRule]:
    """DynamoDB stream records: the images and keys are the table's items."""
    return {f"{records_path}.dynamodb.{part}": attribute_values for part in ("Keys", "NewImage", "OldImage")}


ACCOUNT = "123456789012"  # the emulator's account, which the local stack's ARNs name


def sqs_sample(queue_name: str, fifo: bool, body: str = "x", region: str = "us-east-1") -> Any:
    """The SQS event sample of a standard or a FIFO queue."""
    import hashlib

    values = dict(partition="aws", region=region, account_id=ACCOUNT, queue_name=queue_name, body=body,
                  md5_of_body=hashlib.md5(body.encode()).hexdigest())  # noqa: S324 - the SQS field
    if fifo:
        return load("sqs/SqsFifo.json", message_id="m", receipt_handle="r", sent_timestamp="1", sequence_number="2",
                    message_group_id="g", sender_id="s", message_deduplication_id="d", first_receive_timestamp="3",
                    **values)
    return load("sqs/Sqs.json", **values)


def stream_sample(table: str, region: str = "us-east-1") -> Any:
    """A pipe's batch from a DynamoDB stream: the JSON array of the sample's records."""
    return load("dynamodb/DynamoDBUpdate.json", region=region, partition="aws", account_id=ACCOUNT, table=table)["Records"]


def eventbridge_sample(region: str = "us-east-1") -> Any:
    return load("eventbridge/EventBridgeEvent.json", id="i", detail_type="T", source="s", account_id=ACCOUNT,
                time="2026-12-07T00:00:00Z", region=region)
