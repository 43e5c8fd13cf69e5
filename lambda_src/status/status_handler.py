"""Status API: ``GET /status/{id}`` -> ``{"transaction_id", "status", "updated_at"}``."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response

from paycore.obs import logger, tracer
from paycore.query import get_status, validate_id
from paycore.query_api import found_or_404, ledger_table, make_app

app = make_app(logger)


@app.get("/status/<transaction_id>")
def get_one_status(transaction_id: str) -> Response:
    validate_id(transaction_id, "transaction id")
    return found_or_404(get_status(ledger_table(), transaction_id), app)


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
