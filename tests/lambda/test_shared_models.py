"""The suite parses botocore's service models once per test process (tests/conftest.py): moto's
mock starts a new boto3 session for every test, and the sessions share one loader."""

from moto import mock_aws


def test_sessions_that_moto_starts_share_the_parsed_service_models():
    import boto3

    def model_of_a_new_session() -> dict:
        with mock_aws():  # resets boto3's default session, as for every handler test
            return boto3.client("sqs", region_name="us-east-1").meta.service_model._service_description

    first, second = model_of_a_new_session(), model_of_a_new_session()
    assert first is second, "each session parsed the SQS model again"
    assert first["metadata"]["serviceId"] == "SQS"
