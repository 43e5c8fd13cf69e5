"""The platform dashboard as a plain document (`dashboard_body`): business metrics first, then API,
queues, Lambda, DynamoDB, vendor deliveries and pipes. The construct writes it with
`json.dumps(..., sort_keys=True)`: the same inputs give the same bytes."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from constructs.observability.metrics import BUSINESS_NAMESPACE, DELIVERY_METRICS, SERVICE_DIMENSION
from constructs.observability.options import WatchedFunction


def dashboard_body(*, region: str, functions: Mapping[str, WatchedFunction], ingest_queue_name: str | None,
                   dead_letter_queue_names: Mapping[str, str], api_name: str | None, api_stage_name: str | None,
                   table_name: str | None, pipe_names: Sequence[str],
                   delivery_vendor_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The dashboard as a plain document: business metrics first, then API, queues, Lambda, DynamoDB."""
    widgets: list[dict[str, Any]] = []

    def graph(title: str, metrics: list[list[Any]], stat: str = "Sum", width: int = 12, **extra: Any) -> None:
        props = {"title": title, "region": region, "metrics": metrics, "stat": stat, "period": 300,
                 "view": "timeSeries", "stacked": False, **extra}
        x = 0 if sum(w["width"] for w in widgets) % 24 == 0 else 12
        widgets.append({"type": "metric", "width": width, "height": 6, "x": x, "y": 6 * (len(widgets) // 2),
                        "properties": props})

    svc = ["service", SERVICE_DIMENSION["service"]]
    graph("Successful transactions", [[BUSINESS_NAMESPACE, "SuccessfulTransactions", *svc]])
    graph("Webhooks rejected (by reason) and duplicates", [
        [{"expression": f"SEARCH('{{{BUSINESS_NAMESPACE},reason,service}} MetricName=\"WebhookRejected\"', 'Sum', 300)",
          "id": "rejected", "label": "rejected"}],
        [BUSINESS_NAMESPACE, "DuplicateWebhook", *svc, {"id": "duplicates"}],
        [BUSINESS_NAMESPACE, "AuthorizerDenies", {"id": "denies"}],
    ])
    if api_name:
        api = ["ApiName", api_name, "Stage", api_stage_name]
        graph("API latency (p50, p99)", [["AWS/ApiGateway", "Latency", *api, {"stat": "p50"}],
                                         ["AWS/ApiGateway", "Latency", *api, {"stat": "p99"}]], stat="p99")
        graph("API requests and errors", [["AWS/ApiGateway", "Count", *api], ["AWS/ApiGateway", "4XXError", *api],
                                          ["AWS/ApiGateway", "5XXError", *api]])
    if ingest_queue_name:
        q = ["QueueName", ingest_queue_name]
        graph("Ingest queue depth", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", *q],
                                     ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", *q]], stat="Maximum")
        graph("Ingest queue oldest message (s)", [["AWS/SQS", "ApproximateAgeOfOldestMessage", *q]], stat="Maximum")
    if dead_letter_queue_names:
        graph("Dead-letter queues", [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", name]
                                     for _, name in sorted(dead_letter_queue_names.items())], stat="Maximum")
    names = [fn.function_name for _, fn in sorted(functions.items())]
    if names:
        for title, metric, stat in (("Lambda invocations", "Invocations", "Sum"), ("Lambda errors", "Errors", "Sum"),
                                    ("Lambda duration p99 (ms)", "Duration", "p99"),
                                    ("Lambda throttles", "Throttles", "Sum")):
            graph(title, [["AWS/Lambda", metric, "FunctionName", n] for n in names], stat=stat)
    if table_name:
        t = ["TableName", table_name]
        graph("DynamoDB consumed capacity", [["AWS/DynamoDB", "ConsumedReadCapacityUnits", *t],
                                             ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", *t]])
        graph("DynamoDB throttles", [["AWS/DynamoDB", "ReadThrottleEvents", *t],
                                     ["AWS/DynamoDB", "WriteThrottleEvents", *t]])
    for vendor in delivery_vendor_ids:
        v = [*svc, "vendor_id", vendor]
        graph(f"Webhooks to {vendor}: success rate (%), attempts, exhausted", [
            [{"expression": "100 * successes / attempts", "id": "rate", "label": "success rate (%)", "yAxis": "right"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["attempts"], *v, {"id": "attempts", "label": "attempts"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["successes"], *v, {"id": "successes", "label": "successes"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["exhausted"], *v, {"id": "exhausted", "label": "exhausted"}],
        ])
        graph(f"Webhooks to {vendor}: latency p50, p99 (ms)", [
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["latency"], *v, {"stat": "p50"}],
            [BUSINESS_NAMESPACE, DELIVERY_METRICS["latency"], *v, {"stat": "p99"}]], stat="p99")
    if pipe_names:
        graph("Pipes failures", [["AWS/EventBridge/Pipes", m, "PipeName", p]
                                 for p in pipe_names for m in ("ExecutionFailed", "TargetStageFailed")])
    return {"widgets": widgets}
