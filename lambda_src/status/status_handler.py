"""Status API: ``GET /status/{id}`` -> ``{"transaction_id", "status", "updated_at"}``."""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools.event_handler import Response

from paycore import obs
from paycore.obs import logger, tracer
from paycore.query import QueryError, get_status, validate_id
from paycore.query_api import json_response, make_app

app = make_app(logger)


@lru_cache(maxsize=1)
def table():
    return boto3.resource("dynamodb", config=obs.BOTO_CONFIG).Table(os.environ["TABLE_NAME"])


@app.get("/status/<transaction_id>")
def get_one_status(transaction_id: str) -> Response:
    validate_id(transaction_id, "transaction id")
    found = get_status(table(), transaction_id)
    if found is None:
        raise QueryError(404, "not_found", "transaction not found")
    return json_response(200, found, app)


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
