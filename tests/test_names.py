"""constructs/app/names.py: every physical name of an environment in one place. The stack deploys
exactly these names, the ops tools find resources by them, and the module stays light (an ops
command must not load cdktf or the provider bindings)."""

import ast
import json
import subprocess
import sys

import pytest

from constructs.app.environments import environment_names, load_settings
from constructs.app.names import REDRIVABLE_QUEUES, Names
from infra_synth import resources, synth
from support import ROOT

#: attribute of the synthesized resource that holds its physical name, by resource type
NAME_ATTRIBUTE = {"aws_lambda_function": "function_name", "aws_s3_bucket": "bucket", "aws_lambda_layer_version": "layer_name"}


def deployed_names(synthesized: str) -> set[str]:
    """Every literal physical name in a synthesized stack (resources' name-like attributes)."""
    found = set()
    for resource_type, items in json.loads(synthesized)["resource"].items():
        for item in items.values():
            value = item.get(NAME_ATTRIBUTE.get(resource_type, "name"))
            if isinstance(value, str):
                found.add(value)
    return found


def names_of(names: Names) -> dict[str, str]:
    """The name-valued properties of a Names (not the prefixes or the derived tables)."""
    return {attribute: getattr(names, attribute) for attribute in dir(Names)
            if isinstance(getattr(Names, attribute), property)
            and attribute not in ("parameter_prefix", "secret_prefix", "redrivable_queues")}


@pytest.mark.parametrize("environment", ["dev", "local"])
def test_every_name_is_a_resource_the_stack_deploys(environment):
    names = load_settings(environment, environ={}).names
    deployed = deployed_names(synth(environment))
    missing = {attribute: name for attribute, name in names_of(names).items() if name not in deployed}
    if environment == "local":  # reconcile_schedules is disabled there (moto never runs schedules)
        missing = {k: v for k, v in missing.items() if k not in ("reconcile_schedule_group", "reconcile_scheduler_role")}
    assert not missing, missing
    functions = {r["function_name"] for r in resources(synth(environment), "aws_lambda_function").values()}
    assert {names.function(name) for name in load_settings(environment, environ={}).functions} <= functions


def test_the_archive_bucket_and_the_prefixes_are_the_ones_deployed():
    names = Names("dev")
    out = synth("dev")
    buckets = {b["bucket"] for b in resources(out, "aws_s3_bucket").values()}
    assert names.archive_bucket("${data.aws_caller_identity.caller.account_id}", "${data.aws_region.region.name}") in buckets
    secrets = [s["name"] for s in resources(out, "aws_secretsmanager_secret").values()]
    parameters = [p["name"] for p in resources(out, "aws_ssm_parameter").values()]
    assert secrets and all(name.startswith(names.secret_prefix) for name in secrets), secrets[:3]
    assert parameters and all(name.startswith(names.parameter_prefix) for name in parameters), parameters[:3]


def test_the_redrivable_queues_are_queues_and_their_dead_letter_queues():
    names = Names("prod")
    deployed = deployed_names(synth("prod"))
    assert set(names.redrivable_queues) == set(REDRIVABLE_QUEUES)
    for queue, dead_letter_queue in names.redrivable_queues.values():
        assert {queue, dead_letter_queue} <= deployed


def test_every_environment_has_its_own_names():
    all_names = [set(names_of(Names(environment)).values()) for environment in environment_names()]
    for index, names in enumerate(all_names):
        for other in all_names[index + 1:]:
            assert not names & other


def test_names_and_settings_load_without_cdktf_or_the_provider_bindings():
    probe = ("import sys; from constructs.app.environments import load_settings; "
             "from constructs.app.names import Names; load_settings('dev').names.ingest_queue; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cdktf', 'cdktf_cdktf_provider_aws')))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout
    tree = ast.parse((ROOT / "constructs" / "app" / "names.py").read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"__future__", "dataclasses"} and not [n for n in ast.walk(tree) if isinstance(n, ast.Import)]
