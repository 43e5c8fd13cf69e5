"""API Gateway as deployed, in front of the functions: the associated web ACL's body-size rules,
the method's REQUEST authorizer, then the integration: the request template (rendered by
apigw_vtl) and the `SendMessage` it makes, an SQS error becoming the status of the matching
integration response; or an AWS_PROXY function.

The events the functions get are the ones AWS documents for the deployed route (the keys of AWS's
published samples, checked by tests/test_local_runner_events.py):
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#api-gateway-simple-proxy-for-lambda-input-format
A literal resource has no path parameter (`{}` to an authorizer, null to a proxy); there is no
`clientCert` (no mutual TLS) and no `apiKey` (no method requires one). An AWS_IAM method is called
with the SigV4 caller the scenario names: the runner checks no signature."""

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

from . import apigw_vtl
from .functions import REGION, Functions
from .wiring import Route, Wiring


@dataclass
class HttpResult:
    status: int
    body: str
    content_type: str = "application/json"


@dataclass(frozen=True)
class IamCaller:
    """The SigV4 identity of a request to an AWS_IAM method, as API Gateway puts it in
    `requestContext.identity`."""

    account_id: str
    user: str
    access_key: str
    user_arn: str


class ApiGateway:
    def __init__(self, wiring: Wiring, functions: Functions, sqs: Any):
        self.wiring = wiring
        self.functions = functions
        self.sqs = sqs
        self.http_status: collections.Counter[int] = collections.Counter()

    def request(self, method: str, path: str, *, headers: dict[str, str], query: dict[str, str], body: bytes,
                received_at_ms: int | None = None, source_ip: str = "203.0.113.10",
                caller: IamCaller | None = None) -> HttpResult:
        for rule in self.wiring.waf_body_rules:  # the web ACL sees the request first
            if len(body) > rule.max_bytes:
                self.functions.metrics[f"WafBlocked[rule={rule.name}]"] += 1
                return self._answer(rule.status, {"message": f"blocked by WAF rule {rule.name}"})
        found = self.wiring.route_for(method, path)
        # A REST API answers an unknown resource or method, and an unsigned request to an AWS_IAM
        # method, 403 Missing Authentication Token (AWS Knowledge Center,
        # https://repost.aws/knowledge-center/api-gateway-authentication-token-errors).
        if found is None:
            return self._answer(403, {"message": "Missing Authentication Token"})
        route, path_params = found
        request_id = str(uuid.uuid4())
        received_at_ms = received_at_ms or int(time.time() * 1000)
        if route.authorization == "AWS_IAM" and caller is None:
            return self._answer(403, {"message": "Missing Authentication Token"})
        if route.authorizer_function:
            event = self.authorizer_event(route, method, path, headers=headers, query=query,
                                          path_params=path_params, request_id=request_id, source_ip=source_ip)
            decision = self._authorize(route.authorizer_function, event)
            if decision is not None:
                return decision
        if route.integration_type == "AWS_PROXY" and route.function:
            event = self.proxy_event(route, method, path, headers=headers, query=query, body=body,
                                     path_params=path_params, request_id=request_id, received_at_ms=received_at_ms,
                                     source_ip=source_ip, caller=caller)
            answer = self.functions.invoke(route.function, event)
            self.http_status[int(answer["statusCode"])] += 1
            return HttpResult(int(answer["statusCode"]), answer.get("body") or "")
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
            return self._integration_response(route, str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)))
        return self._integration_response(route, "200")

    def method_arn(self, method: str, path: str) -> str:
        w = self.wiring
        return f"arn:aws:execute-api:{REGION}:{w.account}:{w.api_id}/{w.stage}/{method}{path}"

    def authorizer_event(self, route: Route, method: str, path: str, *, headers: dict[str, str],
                         query: dict[str, str], path_params: dict[str, str], request_id: str,
                         source_ip: str) -> dict[str, Any]:
        """A REST API REQUEST authorizer's input (AWS's GET /request example): an empty map is `{}`."""
        w = self.wiring
        return {
            "type": "REQUEST", "methodArn": self.method_arn(method, path), "resource": route.path, "path": path,
            "httpMethod": method, "headers": dict(headers), "queryStringParameters": dict(query),
            "pathParameters": dict(path_params), "stageVariables": dict(w.stage_variables),
            "requestContext": {
                "path": path, "accountId": w.account, "resourceId": route.resource_id, "stage": w.stage,
                "requestId": request_id, "identity": {"apiKey": None, "sourceIp": source_ip},
                "resourcePath": route.path, "httpMethod": method, "apiId": w.api_id,
            },
        }

    def proxy_event(self, route: Route, method: str, path: str, *, headers: dict[str, str], query: dict[str, str],
                    body: bytes, path_params: dict[str, str], request_id: str, received_at_ms: int,
                    source_ip: str, caller: IamCaller | None) -> dict[str, Any]:
        """An AWS_PROXY integration's input (REST, payload 1.0): an empty map is null; the body is
        text (the API lists no binary media types)."""
        w = self.wiring
        identity: dict[str, Any] = {
            "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
            "accessKey": None, "sourceIp": source_ip, "cognitoAuthenticationType": None,
            "cognitoAuthenticationProvider": None, "userArn": None,
            "userAgent": next((v for k, v in headers.items() if k.lower() == "user-agent"), None), "user": None,
        }
        if caller is not None:
            identity.update(accountId=caller.account_id, caller=caller.user, accessKey=caller.access_key,
                            userArn=caller.user_arn, user=caller.user)
        return {
            "body": body.decode("utf-8") if body else None, "resource": route.path, "path": path,
            "httpMethod": method, "isBase64Encoded": False,
            "queryStringParameters": dict(query) or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "pathParameters": dict(path_params) or None, "stageVariables": dict(w.stage_variables) or None,
            "headers": dict(headers), "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": {
                "accountId": w.account, "resourceId": route.resource_id, "stage": w.stage, "requestId": request_id,
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(received_at_ms // 1000)),
                "requestTimeEpoch": received_at_ms,
                "identity": identity,
                "path": f"/{w.stage}{path}", "resourcePath": route.path, "httpMethod": method, "apiId": w.api_id,
                "protocol": "HTTP/1.1",
            },
        }

    def _authorize(self, authorizer: str, event: dict[str, Any]) -> HttpResult | None:
        method_arn = event["methodArn"]
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

    def _integration_response(self, route: Route, status: str) -> HttpResult:
        """The deployed integration response of an AWS integration: the one whose selection pattern
        matches the integration's HTTP status code, else the default one (no pattern), which catches
        any response not otherwise configured (API reference, IntegrationResponse.selectionPattern;
        https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration-responses.html)."""
        chosen = next((response for pattern, response in route.responses.items()
                       if pattern and re.fullmatch(pattern, status)), route.responses.get(""))
        if chosen is None:
            raise RuntimeError(f"{route.method} {route.path}: no integration response for status {status}")
        self.http_status[chosen.status] += 1
        return HttpResult(chosen.status, chosen.body, chosen.content_type)

    def _answer(self, status: int, body: dict[str, Any]) -> HttpResult:
        self.http_status[status] += 1
        return HttpResult(status, json.dumps(body))


def _arn_matches(resource: Any, arn: str) -> bool:
    resources = resource if isinstance(resource, list) else [resource]
    return any(isinstance(r, str) and fnmatch.fnmatchcase(arn, r) for r in resources)
