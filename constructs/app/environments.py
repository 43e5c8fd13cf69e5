"""The environments as configuration: cdktf.json `context.environments` -> validated `Settings`.

`load_settings(name)`: that environment's values from cdktf.json, then the PAYMENTS_* environment
variables, then `overrides` (tests), validated by the schema (constructs/app/settings/) onto its
defaults. Adding an environment (e.g. `staging`) is a cdktf.json edit: main.py and the tests take
the list from it (`environment_names()`).

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

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from constructs.app import capacity
from constructs.app.settings import Settings, SettingsError

CDKTF_JSON = Path(__file__).resolve().parents[2] / "cdktf.json"
#: How the cdktf CLI passes cdktf.json's context to the app it runs.
CONTEXT_VARIABLE = "CDKTF_CONTEXT_JSON"


def read_environments(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """`context.environments`: environment name -> its values. From `path`, else as the cdktf CLI
    hands them to the app (CDKTF_CONTEXT_JSON: the context of the cdktf.json it runs with), else
    from the repository's cdktf.json."""
    handed = os.environ.get(CONTEXT_VARIABLE) if path is None else None
    if handed and "environments" in json.loads(handed):
        source, context = CONTEXT_VARIABLE, json.loads(handed)
    else:
        path = path or CDKTF_JSON
        source, context = path.name, json.loads(path.read_text(encoding="utf-8")).get("context", {})
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise SettingsError([f"{source}: context.environments must map environment names to their settings, "
                             f"got {environments!r}"])
    return environments


def environment_names(environments: Mapping[str, Any] | None = None) -> list[str]:
    """The environments to synthesize, in the order cdktf.json lists them."""
    return list(read_environments() if environments is None else environments)


def load_settings(
    environment: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    environments: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    capacity_checks: bool = True,
) -> Settings:
    """One environment's validated settings: its values in cdktf.json (`environments`, default:
    read the file), the PAYMENTS_* variables (`environ`, default os.environ), then `overrides` (the
    same shape; tests use them). Raises SettingsError with every problem: the schema's, then, once
    those hold, whether the stack fits the account's quotas and carries the design rate
    (constructs/app/capacity/; `capacity_checks=False` leaves these to the caller)."""
    configured = read_environments() if environments is None else environments
    if environment not in configured:
        raise SettingsError([f"{environment}: not an environment of cdktf.json; context.environments has "
                             f"{', '.join(configured)}"])
    values = configured[environment] or {}
    if not isinstance(values, Mapping):
        raise SettingsError([f"{environment}: must be an object of settings, got {values!r}"])
    values = _environment_variables(environment, values, os.environ if environ is None else environ)
    settings = Settings.load(environment, _merged(Settings, values, overrides or {}))
    problems = capacity.problems(settings) if capacity_checks else []
    if problems:
        raise SettingsError([f"{environment}: {key}: {message}" for key, message in problems])
    return settings


def _environment_variables(environment: str, raw: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The PAYMENTS_* overrides (see the module docstring), applied to cdktf.json's values."""
    values: dict[str, Any] = copy.deepcopy(dict(raw))
    if values.get("emulator") is True:
        if "PAYMENTS_LOCAL_ENDPOINT" in environ:
            local = values.get("local")
            values["local"] = {**(local if isinstance(local, Mapping) else {}),
                               "endpoint_url": environ["PAYMENTS_LOCAL_ENDPOINT"]}
        return values
    region = environ.get("PAYMENTS_REGION", values.get("region", Settings.model_fields["region"].default))
    values["region"] = region
    backend = values.get("backend", {})
    if isinstance(backend, Mapping):
        key_prefix = environ.get("PAYMENTS_STATE_KEY_PREFIX", "payment-platform")
        values["backend"] = {
            **backend,
            "bucket": environ.get("PAYMENTS_STATE_BUCKET", backend.get("bucket", "")),
            "key": f"{key_prefix}/{environment}/terraform.tfstate",
            "region": environ.get("PAYMENTS_STATE_REGION", backend.get("region") or region),
            "kms_key_id": environ.get("PAYMENTS_STATE_KMS_KEY_ID", backend.get("kms_key_id", "")),
        }
    domain = values.get("custom_domain")
    if isinstance(domain, Mapping) and isinstance(domain.get("certificate_arn"), str) and region != "us-east-1":
        # the example certificate lives in us-east-1; another region needs its own certificate
        values["custom_domain"] = {**domain,
                                   "certificate_arn": domain["certificate_arn"].replace(":us-east-1:", f":{region}:")}
    return values


def _merged(model: type[BaseModel], base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """`overrides` onto `base`, both in cdktf.json's shape: a section of the schema (a nested
    model, or a map of them such as `functions`) is merged key by key; any other value, free-form
    maps included (`delivery.vendors`, `disabled_features`), replaces the one in `base`."""
    merged = dict(base)
    for key, value in overrides.items():
        info = model.model_fields.get(key)
        section = _section(info.annotation) if info is not None else None
        current = merged.get(key)
        if isinstance(section, type) and isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = _merged(section, current, value)
        elif isinstance(section, tuple) and isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = {**current, **{name: _merged(section[0], current.get(name) or {}, item)
                                         if isinstance(item, Mapping) else item for name, item in value.items()}}
        else:
            merged[key] = value
    return merged


def _section(annotation: Any) -> type[BaseModel] | tuple[type[BaseModel]] | None:
    """The nested model of a field (`X | None` included), or `(model,)` for a map of models."""
    for candidate in (annotation, *get_args(annotation)):
        inner = get_args(candidate)[0] if getattr(candidate, "__metadata__", None) else candidate
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
        args = get_args(inner)
        if len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel) and \
                getattr(inner, "__origin__", None) is dict:
            return (args[1],)
    return None
