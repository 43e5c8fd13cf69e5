"""The payments API's function routes (IAM-signed callers): what each path runs, its body model and
its required parameters. The webhook routes are in webhook_routes.py."""

from __future__ import annotations

from typing import Mapping

from constructs.app.functions import FUNCTION_ENVIRONMENT
from constructs.ingress import LambdaRoute, LambdaTarget
from constructs.processing import ServerlessFunction

_PATH_ID = {"method.request.path.id": True}
#: (method, path, function, request model, required parameters) of every route, in API order.
API_ROUTES: tuple[tuple[str, str, str, str | None, dict[str, bool]], ...] = (
    ("POST", "/payments", "validator", "PaymentRequest", {"method.request.header.Idempotency-Key": True}),
    ("GET", "/transactions", "reader", None, {}),
    ("GET", "/transactions/{id}", "reader", None, _PATH_ID),
    ("GET", "/status/{id}", "status", None, _PATH_ID),
    ("POST", "/transactions/{id}/notify", "notify", "NotifyRequest", _PATH_ID),
)


def function_targets(functions: Mapping[str, ServerlessFunction]) -> dict[str, LambdaTarget]:
    """One target per function: each token read is a new string, and the ingress grants one invoke
    permission per distinct function name."""
    return {name: LambdaTarget(fn.function.function_name, fn.function.invoke_arn) for name, fn in functions.items()}


def api_routes(targets: Mapping[str, LambdaTarget], base_path: str = "") -> list[LambdaRoute]:
    """The routes of API_ROUTES whose function is deployed. Raises ValueError when the custom
    domain's `base_path` is the first part of a route whose function strips it (API_BASE_PATH):
    on the execute-api endpoint that route would lose it."""
    stripping = {name for name in targets if "API_BASE_PATH" in FUNCTION_ENVIRONMENT.get(name, ())}
    shadowed = [f"{verb} {path}" for verb, path, name, *_ in API_ROUTES
                if base_path and name in targets and name in stripping and path.split("/")[1] == base_path]
    if shadowed:
        raise ValueError(f"custom_domain.base_path {base_path!r} is the first part of {shadowed}: the "
                         "functions strip it from request paths (API_BASE_PATH), so on the execute-api "
                         "endpoint those routes would lose it; choose another base path")
    return [LambdaRoute(method=verb, path=path, target=targets[name], authorization="AWS_IAM", request_model=model,
                        request_parameters=params)
            for verb, path, name, model, params in API_ROUTES if name in targets]
