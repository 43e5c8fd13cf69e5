"""EMF metric blobs are printed one line per write (paycore.obs.emit): the delivery sender and the
processor flush blobs from worker threads, and Powertools' own flush writes a line and its newline
separately, so two threads' lines could run together (seen once in the suite) and CloudWatch would
drop both."""
from __future__ import annotations

import json
import sys
import threading

import delivery_sender_handler
from paycore import obs


class Writes:
    """A stdout that records each write call."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.calls.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def test_each_blob_is_one_complete_line_in_one_write(monkeypatch):
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    obs.count_with_reason(obs.UNROUTABLE_EVENT, "unknown_currency")
    delivery_sender_handler.vendor_metric("DeliveryExhausted", "vendor-a", total=True)
    delivery_sender_handler.obs_count("DeliveryMalformedMessages")
    delivery_sender_handler.attempt_metrics("vendor-a", ok=False, latency_ms=12)
    assert len(out.calls) == 5 and all(call.endswith("}\n") and call.count("\n") == 1 for call in out.calls), out.calls
    blobs = [json.loads(call) for call in out.calls]
    assert [b["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for b in blobs] == [
        [["service", "reason"]], [["service", "vendor_id"]], [["service"]], [["service"]], [["vendor_id", "service"]]]
    assert blobs[0]["reason"] == "unknown_currency" and blobs[1]["DeliveryExhausted"] == [1.0]


def test_blobs_flushed_from_many_threads_stay_whole_lines(monkeypatch):
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    threads = [threading.Thread(target=lambda: [delivery_sender_handler.vendor_metric("DeliveryExhausted", "vendor-b")
                                                for _ in range(25)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(out.calls) == 100
    assert all(json.loads(call)["vendor_id"] == "vendor-b" for call in out.calls)


def test_metrics_disabled_prints_nothing(monkeypatch):
    out = Writes()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    obs.count_with_reason(obs.WEBHOOK_REJECTED, "bad_signature")
    assert out.calls == []
