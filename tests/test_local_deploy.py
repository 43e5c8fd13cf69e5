"""The local deployment retries once, from scratch, only when the emulator lost a response during
the apply (the provider then finds its own create done: AlreadyExists); other failures surface."""
from __future__ import annotations

import os

import boto3
import pytest

from scripts.local import deploy as local_deploy


@pytest.mark.parametrize("race", [
    "Error: creating SSM Parameter (...): ParameterAlreadyExists: The parameter already exists",
    "Error: creating Lambda Function (payment-authorizer-local): operation error Lambda: CreateFunction, https "
    "response error StatusCode: 409, RequestID: x, ResourceConflictException: Function already exist: "
    "payment-authorizer-local",
])
def test_an_emulator_race_is_retried_once_from_a_reset_emulator(monkeypatch, race):
    calls, resets, prepared = [], [], []
    monkeypatch.setattr(local_deploy, "reset_emulator", resets.append)

    def attempt(number):
        calls.append(number)
        if number == 1:
            raise RuntimeError(race)
        return "deployed"

    assert local_deploy.with_one_retry(attempt, "http://127.0.0.1:1", prepare=lambda: prepared.append(1)) == "deployed"
    assert (calls, resets, len(prepared)) == ([1, 2], ["http://127.0.0.1:1"], 2)


@pytest.mark.parametrize("messages", [["Error: invalid value for bucket"], ["AlreadyExists", "AlreadyExists again"]])
def test_other_failures_and_a_second_race_are_raised(monkeypatch, messages):
    resets = []
    monkeypatch.setattr(local_deploy, "reset_emulator", resets.append)
    remaining = list(messages)

    def attempt(number):
        raise RuntimeError(remaining.pop(0))

    with pytest.raises(RuntimeError) as error:
        local_deploy.with_one_retry(attempt, "http://127.0.0.1:1")
    assert str(error.value) == messages[-1]
    assert len(resets) == len(messages) - 1


def test_reset_empties_the_emulator():
    with local_deploy.LocalEmulator() as emulator:
        ssm = boto3.client("ssm", endpoint_url=emulator.endpoint_url, region_name="us-east-1")
        ssm.put_parameter(Name="/payments/local/x", Value="1", Type="String")
        local_deploy.reset_emulator(emulator.endpoint_url)
        assert ssm.describe_parameters()["Parameters"] == []


def test_the_emulator_sets_its_environment_only_while_it_runs(monkeypatch):
    """Left set after the server stops, MOTO_IAM_LOAD_MANAGED_POLICIES made every later moto reset in
    the process load AWS's ~1,000 managed policies per IAM backend (a test module after the local
    runner's took 79 s instead of 6)."""
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "the-caller-s")
    with local_deploy.LocalEmulator():
        assert os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "true"
        assert os.environ["AWS_ACCESS_KEY_ID"] == local_deploy.FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert "MOTO_IAM_LOAD_MANAGED_POLICIES" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "the-caller-s"


def test_an_emulator_that_fails_to_start_leaves_the_environment_as_it_was(monkeypatch):
    from moto import server

    def refuse(self):
        raise OSError("address already in use")

    monkeypatch.setattr(server.ThreadedMotoServer, "start", refuse)
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES", raising=False)
    with pytest.raises(OSError), local_deploy.LocalEmulator():
        pass
    assert "MOTO_IAM_LOAD_MANAGED_POLICIES" not in os.environ
