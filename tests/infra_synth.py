"""Helpers for the infrastructure construct tests: synthesize a whole environment once per test
process (cached), or a small stack with just the provider for one construct, and read resources
back out of the synthesized JSON. (`Testing.synth_scope` does not work from Python.)"""

from __future__ import annotations

import json
from functools import lru_cache

from cdktf import TerraformStack, Testing
from cdktf_cdktf_provider_aws.provider import AwsProvider

from constructs.app.environments import load_settings
from constructs.app.stack import PaymentPlatformStack

Testing.__test__ = False  # cdktf's helper class, not a pytest test class (no collection warning)


@lru_cache(maxsize=None)
def _synth(environment: str, overrides: str) -> tuple[PaymentPlatformStack, str]:
    settings = load_settings(environment, json.loads(overrides), environ={})
    stack = PaymentPlatformStack(Testing.app(), environment, settings=settings)
    return stack, Testing.synth(stack)


def synth(environment: str, **overrides) -> str:
    """The synthesized JSON (a string, for the Testing matchers) of one environment's stack."""
    return _synth(environment, json.dumps(overrides, sort_keys=True))[1]


def stack(environment: str, **overrides) -> PaymentPlatformStack:
    return _synth(environment, json.dumps(overrides, sort_keys=True))[0]


def small_stack(id_: str = "test") -> TerraformStack:
    """An empty stack with the provider configured, for one construct under test."""
    stack_ = TerraformStack(Testing.app(), id_)
    AwsProvider(stack_, "aws", region="us-east-1")
    return stack_


def resources(synthesized: str, resource_type: str) -> dict[str, dict]:
    return json.loads(synthesized).get("resource", {}).get(resource_type, {})


def data_sources(synthesized: str, data_type: str) -> dict[str, dict]:
    return json.loads(synthesized).get("data", {}).get(data_type, {})


def named(synthesized: str, resource_type: str, **properties) -> tuple[str, dict]:
    """(logical id, resource) of the one resource of a type with these properties (fails otherwise)."""
    found = [(key, r) for key, r in resources(synthesized, resource_type).items()
             if all(r.get(k) == v for k, v in properties.items())]
    assert len(found) == 1, f"{len(found)} {resource_type} with {properties}"
    return found[0]


def by(synthesized: str, resource_type: str, **properties) -> dict:
    """The one resource of a type whose properties include `properties` (fails otherwise)."""
    return named(synthesized, resource_type, **properties)[1]
