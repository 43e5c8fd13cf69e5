"""API Gateway as deployed, in front of the functions: the associated web ACL's body-size rules,
the method's REQUEST authorizer, the integration request template (rendered by apigw_vtl) and the
`SendMessage` it makes; an SQS error becomes the status of the matching integration response."""

from __future__ import annotations

import collections
import fnmatch
import json
import re
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import botocore.exceptions

import apigw_vtl

from .functions import REGION, Functions
from .wiring import Route, Wiring

ACCOUNT = "123456789012"


@dataclass
class HttpResult:
    status: int
    body: str


class ApiGateway:
    def __init__(self, wiring: Wiring, functions: Functions, sqs: Any):
        self.wiring = wiring
        self.functions = functions
        self.sqs = sqs
        self.http_status: collections.Counter[int] = collections.Counter()

    def request(self, method: str, path: str, *, headers: dict[str, str], query: dict[str, str], body: bytes,
                received_at_ms: int | None = None, source_ip: str = "203.0.113.10") -> HttpResult:
        path_params = {"provider": path.rsplit("/", 1)[-1]} if path.startswith("/webhooks/") else {}
        for rule in self.wiring.waf_body_rules:  # the web ACL sees the request first
            if len(body) > rule.max_bytes:
                self.functions.metrics[f"WafBlocked[rule={rule.name}]"] += 1
                return self._answer(rule.status, {"message": f"blocked by WAF rule {rule.name}"})
        route = self.wiring.routes.get((method, path))
        if route is None:
            return self._answer(404, {"message": "Missing Authentication Token"})
        request_id = str(uuid.uuid4())
        received_at_ms = received_at_ms or int(time.time() * 1000)
        if route.authorizer_function:
            decision = self._authorize(route, route.authorizer_function, method, path, headers, query,
                                       path_params, request_id)
            if decision is not None:
                return decision
        if route.integration_type != "AWS" or ":sqs:" not in route.uri:
            return self._answer(501, {"message": f"local runner does not emulate {route.integration_type} here"})
        template = route.request_templates.get("application/json", "")
        form = apigw_vtl.render(template, body=body, headers=headers, query=query, path=path_params,
                                request_id=request_id, request_time_ms=received_at_ms, source_ip=source_ip)
        fields = {k: v[0] for k, v in urllib.parse.parse_qs(form, keep_blank_values=True).items()}
        try:
            self.sqs.send_message(QueueUrl=self.wiring.queue_url_for_integration(route.uri),
                                  MessageBody=fields["MessageBody"], MessageGroupId=fields["MessageGroupId"],
                                  MessageDeduplicationId=fields["MessageDeduplicationId"])
        except botocore.exceptions.ClientError as error:
            return self._integration_error(route, error)
        return self._answer(200, {"received": True})

    def _authorize(self, route: Route, authorizer: str, method: str, path: str, headers: dict[str, str],
                   query: dict[str, str], path_params: dict[str, str], request_id: str) -> HttpResult | None:
        w = self.wiring
        method_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{w.api_id}/{w.stage}/{method}{path}"
        event = {
            "type": "REQUEST", "methodArn": method_arn, "resource": route.path, "path": path, "httpMethod": method,
            "headers": dict(headers), "queryStringParameters": dict(query) or None, "pathParameters": path_params,
            "stageVariables": {}, "requestContext": {"requestId": request_id, "stage": w.stage,
                                                     "resourcePath": route.path, "httpMethod": method,
                                                     "apiId": w.api_id, "accountId": ACCOUNT},
        }
        try:
            policy = self.functions.invoke(authorizer, event)
        except Exception as error:  # the authorizer raised: API Gateway answers 401 for "Unauthorized"
            if str(error) == "Unauthorized":
                return self._answer(401, {"message": "Unauthorized"})
            return self._answer(500, {"message": "AuthorizerConfigurationException"})
        statements = policy.get("policyDocument", {}).get("Statement", [])
        allowed = any(s.get("Effect") == "Allow" and _arn_matches(s.get("Resource"), method_arn) for s in statements)
        denied = any(s.get("Effect") == "Deny" and _arn_matches(s.get("Resource"), method_arn) for s in statements)
        if denied or not allowed:
            return self._answer(403, {"message": "User is not authorized to access this resource with an explicit deny"})
        return None

    def _integration_error(self, route: Route, error: botocore.exceptions.ClientError) -> HttpResult:
        """API Gateway picks the integration response whose selection pattern matches the
        integration's HTTP status (for AWS integrations)."""
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        chosen = None
        for pattern, code in route.status_for_error.items():
            if pattern and re.fullmatch(pattern, status):
                chosen = int(code)
                break
        return self._answer(chosen or 500, {"message": "could not accept the webhook, retry later",
                                            "error": error.response.get("Error", {}).get("Code", "")})

    def _answer(self, status: int, body: dict[str, Any]) -> HttpResult:
        self.http_status[status] += 1
        return HttpResult(status, json.dumps(body))


def _arn_matches(resource: Any, arn: str) -> bool:
    resources = resource if isinstance(resource, list) else [resource]
    return any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources)
