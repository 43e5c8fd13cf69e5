"""API Gateway (REST, proxy integration) plumbing shared by the reader, status and notify handlers.

One resolver factory, one error shape: ``{"error": {"code": "...", "message": "..."}}`` with
400/404/500; CORS ``*`` by default; the request id echoed in ``X-Request-Id``.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types

from paycore import obs
from paycore.cursor import CursorKeyUnavailable, InvalidCursor
from paycore.query import QueryError


@lru_cache(maxsize=1)
def ledger_table():
    """The ledger table (env TABLE_NAME), created on first use and kept for the container."""
    return boto3.resource("dynamodb", config=obs.BOTO_CONFIG).Table(os.environ["TABLE_NAME"])


def found_or_404(found: Any, app: APIGatewayRestResolver) -> Response:
    """200 with the item, or the API's 404 error shape."""
    if found is None:
        raise QueryError(404, "not_found", "transaction not found")
    return json_response(200, found, app)


def json_response(status: int, body: Any, app: APIGatewayRestResolver | None = None) -> Response:
    headers = {}
    request_id = app.current_event.request_context.request_id if app is not None else None
    if request_id:
        headers["X-Request-Id"] = request_id
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(status: int, code: str, message: str) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
    )


def make_app(logger: Logger) -> APIGatewayRestResolver:
    """The resolver routes on the event's ``path``, which on a custom domain starts with the base
    path mapping (``API_BASE_PATH``, e.g. ``/payments``): it is stripped, and a path without it
    (the execute-api endpoint) is routed as it is."""
    base_path = os.environ.get("API_BASE_PATH") or None
    app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=300),
                                 strip_prefixes=[base_path] if base_path else None)

    @app.exception_handler(QueryError)
    def _client_error(exc: QueryError) -> Response:
        logger.info("request rejected", extra={"code": exc.code, "status": exc.status})
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(InvalidCursor)
    def _bad_cursor(exc: InvalidCursor) -> Response:
        logger.warning("invalid pagination cursor rejected", extra={"reason": str(exc)})
        return error_response(400, "invalid_cursor", "cursor is invalid or belongs to another query")

    @app.exception_handler(CursorKeyUnavailable)
    def _no_cursor_key(exc: CursorKeyUnavailable) -> Response:
        # fail closed: a listing must sign its next_cursor; the cause, never a key value
        logger.error("pagination cursor key unavailable", extra={"reason": str(exc)})
        return error_response(500, "internal_error", "internal error")

    @app.not_found
    def _no_route(_exc: Exception) -> Response:
        return error_response(404, "not_found", "no such route")

    @app.exception_handler(Exception)
    def _internal(exc: Exception) -> Response:
        logger.exception("unhandled error", extra={"error": type(exc).__name__})
        return error_response(500, "internal_error", "internal error")

    return app
