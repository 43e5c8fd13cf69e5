"""The environments as configuration: cdktf.json `context.environments` -> validated `Settings`.

`load_settings(name)` returns a frozen `Settings`: the schema's defaults, then that environment's
values from cdktf.json, then the PAYMENTS_* environment variables, then `overrides` (tests). Every
value is checked (unknown keys and wrong types too); all problems are raised together in one
`SettingsError` naming the value given and the fix. Adding an environment (e.g. `staging`) is a
cdktf.json edit: main.py and the tests derive the environment list from it (`environment_names()`).

Environment variables read (all optional):
  PAYMENTS_REGION              AWS region of the AWS (non-emulator) stacks (default us-east-1)
  PAYMENTS_STATE_BUCKET        S3 bucket holding the Terraform state (else backend.bucket of
                               cdktf.json; an AWS environment with neither fails synth)
  PAYMENTS_STATE_KEY_PREFIX    key prefix; the key is {prefix}/{environment}/terraform.tfstate
  PAYMENTS_STATE_REGION        region of the state bucket (default: the stack's region)
  PAYMENTS_STATE_KMS_KEY_ID    KMS key for the state object (default: the bucket's key)
  PAYMENTS_LOCAL_ENDPOINT      the emulator's URL (emulator environments, default http://127.0.0.1:4566)
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from constructs.app.settings import (
    FUNCTION_NAMES,
    CustomDomain,
    FunctionSettings,
    LocalEmulator,
    Settings,
    SettingsError,
    VendorSubscription,
)

CDKTF_JSON = Path(__file__).resolve().parents[2] / "cdktf.json"
# JSON has no tuples or dataclasses: these fields are converted on the way in.
_PAIRS = {"extra_tags", "stage_variables"}              # JSON object -> tuple of (name, value)
_OPTIONAL = {"custom_domain": CustomDomain, "local": LocalEmulator}


def read_environments(path: Path = CDKTF_JSON) -> dict[str, dict[str, Any]]:
    """`context.environments` of cdktf.json: environment name -> its values (the shape of
    `Settings`, only what differs from the schema's defaults)."""
    context = json.loads(path.read_text(encoding="utf-8")).get("context", {})
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise SettingsError("*", [f"{path.name} context.environments must map environment names to their "
                                  f"settings, got {environments!r}"])
    return environments


def environment_names(environments: Mapping[str, Any] | None = None) -> list[str]:
    """The environments to synthesize, in the order cdktf.json lists them."""
    return list(read_environments() if environments is None else environments)


def _convert(base: Any, value: Any, path: str, problems: list[str]) -> Any:
    """`value` (plain JSON, or already typed) applied onto `base`, with its types; a wrong key or
    type is added to `problems` (the base is kept) so every problem is reported together."""
    if dataclasses.is_dataclass(base) and not isinstance(base, type):
        if dataclasses.is_dataclass(value):
            return value
        if not isinstance(value, Mapping):
            problems.append(f"{path} must be an object of {type(base).__name__} settings, got {value!r}")
            return base
        names = {f.name for f in dataclasses.fields(base)}
        changes = {}
        for key, item in value.items():
            if key not in names:
                problems.append(f"unknown setting {key!r} in {type(base).__name__} ({path or 'environment'}); "
                                f"known: {', '.join(sorted(names))}")
                continue
            changes[key] = _field(base, key, item, f"{path}.{key}".lstrip("."), problems)
        return dataclasses.replace(base, **changes)
    if isinstance(base, bool) or isinstance(value, bool):
        if isinstance(base, bool) != isinstance(value, bool) and base is not None:
            problems.append(f"{path} must be {'true or false' if isinstance(base, bool) else 'a number'}, got {value!r}")
            return base
        return value
    if isinstance(base, (int, float)) and not isinstance(value, (int, float)) and value is not None:
        problems.append(f"{path} must be a number, got {value!r}")
        return base
    if isinstance(base, str) and not isinstance(value, str):
        problems.append(f"{path} must be a string, got {value!r}")
        return base
    if isinstance(value, list):
        return tuple(value)
    return value


def _field(base: Any, key: str, value: Any, path: str, problems: list[str]) -> Any:
    current = getattr(base, key)
    if key == "functions" and isinstance(value, Mapping):
        functions = dict(current) if current else {name: FunctionSettings() for name in FUNCTION_NAMES}
        for name, sizing in value.items():
            functions[name] = _convert(functions.get(name, FunctionSettings()), sizing, f"{path}.{name}", problems)
        return functions
    if key == "vendor_subscriptions" and isinstance(value, (list, tuple)):
        subscriptions = []
        for index, item in enumerate(value):
            if isinstance(item, VendorSubscription):
                subscriptions.append(item)
            elif isinstance(item, Mapping) and set(item) == {"vendor_id", "protocol", "endpoint"}:
                subscriptions.append(VendorSubscription(**item))
            else:
                problems.append(f"{path}[{index}] must be {{vendor_id, protocol, endpoint}}, got {item!r}")
        return tuple(subscriptions)
    if key in _PAIRS and isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    if key in _OPTIONAL:
        if value is None or dataclasses.is_dataclass(value):
            return value
        kind = _OPTIONAL[key]
        if not isinstance(value, Mapping):
            problems.append(f"{path} must be an object ({kind.__name__}) or null, got {value!r}")
            return current
        required = {f.name for f in dataclasses.fields(kind)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - set(value))
        if current is None and missing:
            problems.append(f"{path} needs {', '.join(missing)}, got {dict(value)!r}")
            return current
        return _convert(current if current is not None else kind(**{k: value[k] for k in required}),
                        value, path, problems)
    if key == "disabled_features" and isinstance(value, Mapping):
        return dict(value)
    return _convert(current, value, path, problems)


def _environment_variables(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """The PAYMENTS_* overrides (see the module docstring)."""
    environment = settings.environment
    if settings.emulator:
        if "PAYMENTS_LOCAL_ENDPOINT" in environ:
            local = settings.local or LocalEmulator()
            settings = dataclasses.replace(
                settings, local=dataclasses.replace(local, endpoint_url=environ["PAYMENTS_LOCAL_ENDPOINT"]))
        return settings
    region = environ.get("PAYMENTS_REGION", settings.region)
    key_prefix = environ.get("PAYMENTS_STATE_KEY_PREFIX", "payment-platform")
    backend = settings.backend
    settings = dataclasses.replace(
        settings,
        region=region,
        backend=dataclasses.replace(
            backend,
            bucket=environ.get("PAYMENTS_STATE_BUCKET", backend.bucket),
            key=f"{key_prefix}/{environment}/terraform.tfstate",
            region=environ.get("PAYMENTS_STATE_REGION", backend.region or region),
            kms_key_id=environ.get("PAYMENTS_STATE_KMS_KEY_ID", backend.kms_key_id),
        ),
    )
    if settings.custom_domain is not None and region != "us-east-1":
        # the example certificate lives in us-east-1; another region needs its own certificate
        arn = settings.custom_domain.certificate_arn.replace(":us-east-1:", f":{region}:")
        settings = dataclasses.replace(
            settings, custom_domain=dataclasses.replace(settings.custom_domain, certificate_arn=arn)
        )
    return settings


def load_settings(
    environment: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    environments: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Build and validate the settings of one environment: the schema's defaults, then the
    environment's values from cdktf.json (`environments`, default: read the file), then the
    PAYMENTS_* environment variables (`environ`, default os.environ), then `overrides` (the same
    nested shape; tests use it). Every problem is raised together in one SettingsError."""
    environ = os.environ if environ is None else environ
    configured = read_environments() if environments is None else environments
    if environment not in configured:
        raise SettingsError(environment, [
            f"environment must be one of {', '.join(configured)} (cdktf.json context.environments), "
            f"got {environment!r}"])
    problems: list[str] = []
    settings = _convert(Settings(environment=environment), configured[environment] or {}, "", problems)
    settings = _environment_variables(settings, environ)
    if overrides:
        settings = _convert(settings, overrides, "", problems)
    problems.extend(settings.problems())
    if problems:
        raise SettingsError(environment, problems)
    return settings
