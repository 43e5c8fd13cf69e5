"""Reader API: ``GET /transactions/{id}`` and ``GET /transactions?vendor_id=|customer_id=...``.

IAM-authorized REST routes (proxy integration). Only allow-listed fields leave the API
(paycore.query); listings are paginated with an HMAC-signed opaque cursor (paycore.cursor) whose
key is the ``{SECRET_PREFIX}query/cursor-key`` secret: without it listings fail closed (500).
"""
from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import Response

from paycore import obs
from paycore.obs import logger, tracer
from paycore.cursor import load_cursor_keys
from paycore.query import get_transaction, list_transactions, parse_list_request, validate_id
from paycore.query_api import found_or_404, json_response, ledger_table, make_app
from paycore.secrets import SecretStore

app = make_app(logger)
secrets = SecretStore(obs.client("secretsmanager"), prefix=os.environ.get("SECRET_PREFIX", ""))


@app.get("/transactions/<transaction_id>")
def get_one(transaction_id: str) -> Response:
    validate_id(transaction_id, "transaction id")
    return found_or_404(get_transaction(ledger_table(), transaction_id), app)


@app.get("/transactions")
def list_many() -> Response:
    request = parse_list_request(app.current_event.query_string_parameters)
    page = list_transactions(ledger_table(), request, keys=load_cursor_keys(secrets))
    return json_response(200, page, app)


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
