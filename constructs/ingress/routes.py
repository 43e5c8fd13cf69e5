"""The ingress construct's routes as data, and the helpers that name and escape them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ROUTE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PATH = re.compile(r"^(/[A-Za-z0-9._-]+|/\{[A-Za-z0-9_]+\})+$")
LITERAL_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+$")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
JSON = "application/json"
#: What a queue route answers by default once SQS accepted the message.
ACCEPTED_BODY = '{"received": true}'


def slug(path: str) -> str:
    """`/transactions/{id}/notify` -> `transactions-id-notify` (construct ids of a path's resources)."""
    return path.strip("/").replace("/", "-").replace("{", "").replace("}", "")


def terraform_literal(text: str) -> str:
    """`text` as a literal Terraform JSON string: `${` and `%{` start template sequences in
    Terraform, so they are doubled (VTL uses `${name}`). Terraform reads the value back as `text`."""
    return text.replace("${", "$${").replace("%{", "%%{")


@dataclass(frozen=True)
class LambdaTarget:
    """A function behind the API: its name (for the invoke permission) and invoke ARN."""

    function_name: str
    invoke_arn: str


@dataclass(frozen=True)
class SqsRoute:
    """`POST {path}` sent straight to the ingress queue (AWS service integration, SendMessage): no
    Lambda in the hot path. Gated by the construct's REQUEST authorizer.

    route_id: lower-case slug naming the route's resources (`sqs-{route_id}`, ...) and, to the
    REQUEST authorizer, the route (`gated_routes`); path: the literal resource path, e.g.
    "/webhooks/stripe" (no `{...}`: the authorizer allows exactly the method ARN of a declared
    path); request_template: the VTL template that turns the
    request into the SendMessage form body (application/x-www-form-urlencoded); request_parameters:
    method request parameters -> required (e.g. {"method.request.querystring.key": False});
    accepted_body / accepted_content_type: the 200 answer once SQS took the message (default
    `{"received": true}` as application/json; a literal such as "[accepted]" as text/plain).
    """

    route_id: str
    path: str
    request_template: str
    request_parameters: Mapping[str, bool] = field(default_factory=dict)
    accepted_body: str = ACCEPTED_BODY
    accepted_content_type: str = JSON


@dataclass(frozen=True)
class LambdaRoute:
    """`{method} {path}` proxied to a function (AWS_PROXY).

    authorization: "AWS_IAM" (SigV4 callers, the default) or "NONE"; request_model: the title of
    one of the construct's `request_models` to validate the JSON body against (default none);
    request_parameters: method request parameters -> required; cors: add an OPTIONS (MOCK) method
    on the path for browsers (default True).
    """

    method: str
    path: str
    target: LambdaTarget
    authorization: str = "AWS_IAM"
    request_model: str | None = None
    request_parameters: Mapping[str, bool] = field(default_factory=dict)
    cors: bool = True


def gated_routes(routes: Sequence[SqsRoute]) -> dict[str, str]:
    """Resource path -> route id of each queue route: what the REQUEST authorizer needs to tell
    the routes apart. For a literal resource API Gateway sends no path parameter (`pathParameters`
    is `{}` or null); it sends the resource path as the event's `resource`, in
    `requestContext.resourcePath` and at the end of `methodArn`."""
    return {route.path: route.route_id for route in routes}
