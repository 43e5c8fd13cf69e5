"""Reader API: ``GET /transactions/{id}`` and ``GET /transactions?vendor_id=|customer_id=...``.

IAM-authorized REST routes (proxy integration). Only allow-listed fields leave the API
(paycore.query); listings are paginated with an HMAC-signed opaque cursor (paycore.cursor).
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response

from paycore import obs
from paycore.obs import logger, tracer
from paycore.cursor import cursor_secret
from paycore.query import QueryError, get_transaction, list_transactions, parse_list_request, validate_id
from paycore.query_api import json_response, make_app

app = make_app(logger)


@lru_cache(maxsize=1)
def table():
    return boto3.resource("dynamodb", config=obs.BOTO_CONFIG).Table(os.environ["TABLE_NAME"])


@app.get("/transactions/<transaction_id>")
def get_one(transaction_id: str) -> Response:
    validate_id(transaction_id, "transaction id")
    found = get_transaction(table(), transaction_id)
    if found is None:
        raise QueryError(404, "not_found", "transaction not found")
    return json_response(200, found, app)


@app.get("/transactions")
def list_many() -> Response:
    request = parse_list_request(app.current_event.query_string_parameters)
    page = list_transactions(table(), request, secret=cursor_secret(os.environ["TABLE_NAME"]))
    return json_response(200, page, app)


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
