"""EventBridge Pipes from the table's DynamoDB stream: each pipe's deployed filter, then its
target: a function (Pipe A, the archiver; failed records of a partial batch response retried) or
the event bus with the deployed input template (Pipe B), where the emulator evaluates the rules.

A pipe hands its target a JSON array of the stream's records (EventBridge user guide, "Amazon
DynamoDB stream as a source for EventBridge Pipes"), each record as AWS's samples show it
(tests/aws_samples/dynamodb/): the `GetRecords` record as JSON (`ApproximateCreationDateTime` in
epoch seconds, binary attributes as base64 text) with the stream's ARN as `eventSourceARN`."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from .eventbridge import apply_input_template, matches_pattern
from .functions import Functions
from .wiring import Pipe, Wiring


def attribute_json(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute value as boto3 returns it (binary as bytes) -> its JSON form."""
    (kind, raw), = value.items()
    if kind == "B":
        return {kind: base64.b64encode(raw).decode("ascii")}
    if kind == "BS":
        return {kind: [base64.b64encode(b).decode("ascii") for b in raw]}
    if kind == "M":
        return {kind: {k: attribute_json(v) for k, v in raw.items()}}
    if kind == "L":
        return {kind: [attribute_json(v) for v in raw]}
    return {kind: raw}


def stream_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A `GetRecords` record (boto3) -> the record a pipe or an event source mapping delivers."""
    change = {}
    for key, value in record["dynamodb"].items():
        if key in ("Keys", "NewImage", "OldImage"):
            value = {name: attribute_json(v) for name, v in value.items()}
        elif isinstance(value, datetime):  # epoch seconds on the wire
            value = int(value.timestamp())
        change[key] = value
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": change, "eventSourceARN": stream_arn}


class Pipes:
    def __init__(self, wiring: Wiring, functions: Functions, streams: Any, events: Any):
        self.wiring = wiring
        self.functions = functions
        self.streams = streams
        self.events = events
        self._iterators: dict[str, str] = {}

    def _stream_records(self) -> list[dict[str, Any]]:
        stream_arn = self.wiring.stream_arn
        if not stream_arn:
            return []
        records: list[dict[str, Any]] = []
        shards = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._iterators.get(shard["ShardId"])
            if iterator is None:
                iterator = self.streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                records.extend(stream_record(r, stream_arn) for r in page["Records"])
                iterator = page.get("NextShardIterator")
                if not page["Records"]:
                    break
            self._iterators[shard["ShardId"]] = iterator
        return records

    def run(self) -> int:
        """Read what the stream has new and run every pipe over it; returns the records read."""
        records = self._stream_records()
        for pipe in self.wiring.pipes:
            matched = [r for r in records if not pipe.patterns or any(matches_pattern(p, r) for p in pipe.patterns)]
            for start in range(0, len(matched), pipe.batch_size):
                batch = matched[start:start + pipe.batch_size]
                if pipe.target_function:
                    self._to_function(pipe, pipe.target_function, batch)
                else:
                    entries = [{"Source": pipe.source, "DetailType": pipe.detail_type,
                                "Detail": json.dumps(apply_input_template(pipe.input_template, r), separators=(",", ":")),
                                "EventBusName": pipe.target_bus} for r in batch]
                    for chunk in range(0, len(entries), 10):
                        self.events.put_events(Entries=entries[chunk:chunk + 10])
        return len(records)

    def _to_function(self, pipe: Pipe, function: str, batch: list[dict[str, Any]], attempts: int = 3) -> None:
        """Pipes retry the failed records of a partial batch response."""
        pending = batch
        for _ in range(attempts):
            result = self.functions.invoke(function, pending) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
            pending = [r for r in pending if r["eventID"] in failed]
            if not pending:
                return
        self.functions.metrics[f"PipeFailed[{pipe.name}]"] += len(pending)
