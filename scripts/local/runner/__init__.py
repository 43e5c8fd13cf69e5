"""The local runner: drives the deployed `local` stack with the real handler code, in-process, the
way AWS would, because the emulator cannot run Lambda (it needs Docker) nor API Gateway
integrations nor pipes. Everything it follows comes from what was deployed (`terraform show -json`
of the local state, read into typed wiring by wiring.py):

- apigateway.py: the web ACL's body rule, the REQUEST authorizer, the integration template and the
  `SendMessage` to the queue the integration names, its errors as the integration responses' status;
  AWS_PROXY functions; the events shaped as AWS's samples for the deployed route;
- event_sources.py: the SQS event source mappings (batch size, partial batch failures);
- pipes.py: the DynamoDB stream pipes to the archiver and to the bus (the emulator evaluates the
  rules and SNS subscription filters from there on);
- eventbridge.py: event patterns and Pipes' input templates, applied to the deployed ones;
- apigw_vtl.py: API Gateway's Velocity variables ($input, $util, $context) for the templates;
- functions.py: the handlers in-process with their deployed environment, logs and EMF metrics;
- vendors.py: the vendors' webhook receivers (HTTP servers on loopback, verifying signatures);
- platform.py: the facade the scenarios drive (`LocalPlatform`).
"""

from .apigateway import HttpResult, IamCaller
from .platform import LocalPlatform
from .wiring import Wiring

__all__ = ["HttpResult", "IamCaller", "LocalPlatform", "Wiring"]
