"""Network: VPC over the configured AZs, NAT instances (never NAT gateways), endpoints on the
private route tables, a closed default security group, and flow logs to an encrypted group."""


import pytest
from cdktf import Testing
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.instance import Instance
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint

from constructs.vpc import AL2023_ARM64_AMI_PARAMETER, Network, nat_user_data
from infra_synth import data_sources, resources, small_stack, synth


def test_nat_instance_forwards_and_no_nat_gateway_exists():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, Instance.TF_RESOURCE_TYPE, {
        "source_dest_check": False,
        "instance_type": "t4g.nano",
        "metadata_options": {"http_tokens": "required"},
        "root_block_device": {"encrypted": True},
        "user_data": nat_user_data("10.40.0.0/16"),
    })
    assert not Testing.to_have_resource(dev, "aws_nat_gateway")
    assert len(resources(dev, Instance.TF_RESOURCE_TYPE)) == 1  # nat_mode single
    ami = data_sources(dev, "aws_ssm_parameter")
    assert any(d["name"] == AL2023_ARM64_AMI_PARAMETER for d in ami.values())


def test_prod_has_one_nat_instance_per_az_and_each_private_route_uses_its_own():
    prod = synth("prod")
    nats = resources(prod, Instance.TF_RESOURCE_TYPE)
    assert len(nats) == 3 and all(n["source_dest_check"] is False for n in nats.values())
    routes = [r for r in resources(prod, Route.TF_RESOURCE_TYPE).values() if "network_interface_id" in r]
    assert len({r["network_interface_id"] for r in routes}) == 3


def test_subnets_span_the_configured_azs():
    dev = synth("dev")
    subnets = resources(dev, Subnet.TF_RESOURCE_TYPE).values()
    assert sorted(s["tags"]["Tier"] for s in subnets) == ["private"] * 3 + ["public"] * 3
    assert all(s["map_public_ip_on_launch"] is False for s in subnets if s["tags"]["Tier"] == "public")
    assert len(resources(synth("local"), Subnet.TF_RESOURCE_TYPE)) == 4  # local: 2 AZs


def test_gateway_endpoints_are_on_the_private_route_tables_only():
    dev = synth("dev")
    tables = resources(dev, "aws_route_table")
    private = {f"${{aws_route_table.{k}.id}}" for k, t in tables.items() if "private" in t["tags"]["Name"]}
    gateways = [e for e in resources(dev, VpcEndpoint.TF_RESOURCE_TYPE).values() if e["vpc_endpoint_type"] == "Gateway"]
    assert sorted(e["service_name"] for e in gateways) == ["com.amazonaws.us-east-1.dynamodb",
                                                           "com.amazonaws.us-east-1.s3"]
    for endpoint in gateways:
        assert set(endpoint["route_table_ids"]) == private and len(private) == 3


def test_interface_endpoints_use_private_dns_and_an_https_only_group():
    dev = synth("dev")
    interfaces = [e for e in resources(dev, VpcEndpoint.TF_RESOURCE_TYPE).values()
                  if e["vpc_endpoint_type"] == "Interface"]
    # the services the functions call (tests/test_interface_endpoints.py derives them from the code)
    assert len(interfaces) == 5 and all(e["private_dns_enabled"] is True for e in interfaces)
    assert Testing.to_have_resource_with_properties(dev, "aws_security_group", {
        "ingress": [{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["10.40.0.0/16"]}]})
    assert not any(e["vpc_endpoint_type"] == "Interface"
                   for e in resources(synth("local"), VpcEndpoint.TF_RESOURCE_TYPE).values())


def test_lambda_security_group_allows_only_https_egress():
    groups = resources(synth("dev"), "aws_security_group")
    lam = next(g for g in groups.values() if g["name"] == "payments-dev-lambda")
    assert "ingress" not in lam or not lam["ingress"]
    assert {(e["protocol"], e["from_port"], e["to_port"]) for e in lam["egress"]} == {("tcp", 443, 443)}
    nat = next(g for g in groups.values() if g["name"] == "payments-dev-nat")
    assert [i["cidr_blocks"] for i in nat["ingress"]] == [["10.40.0.0/16"]]


def test_default_security_group_has_no_rules():
    dev = synth("dev")
    assert Testing.to_have_resource(dev, DefaultSecurityGroup.TF_RESOURCE_TYPE)
    default = next(iter(resources(dev, DefaultSecurityGroup.TF_RESOURCE_TYPE).values()))
    assert not default.get("ingress") and not default.get("egress")


def test_flow_logs_go_to_a_kms_encrypted_group_through_a_scoped_role():
    dev = synth("dev")
    assert Testing.to_have_resource_with_properties(dev, FlowLog.TF_RESOURCE_TYPE, {"traffic_type": "ALL"})
    group = next(g for g in resources(dev, "aws_cloudwatch_log_group").values()
                 if g["name"].startswith("/aws/vpc/flow-logs/"))
    assert group["kms_key_id"].startswith("${aws_kms_key.")
    policy = next(p for p in resources(dev, "aws_iam_role_policy").values() if p["name"] == "write-flow-logs")
    assert '"Resource": ["${aws_cloudwatch_log_group.' in policy["policy"]


def test_disabled_nat_instances_leave_no_internet_route_and_no_open_egress():
    dev = synth("dev", disabled_features={"nat_instances": "test"})
    assert not Testing.to_have_resource(dev, Instance.TF_RESOURCE_TYPE)
    lam = next(g for g in resources(dev, "aws_security_group").values() if g["name"] == "payments-dev-lambda")
    assert all("0.0.0.0/0" not in (e.get("cidr_blocks") or []) for e in lam["egress"])


def _network(**overrides):
    options = dict(name="payments-test", region="us-east-1")
    options.update(overrides)
    return Network(small_stack(), "network", **options)


def test_fails_when_cidr_is_not_a_cidr():
    with pytest.raises(ValueError, match=r"cidr must be an IPv4 CIDR such as 10.40.0.0/16, got 'ten'"):
        _network(cidr="ten")


def test_fails_when_cidr_is_too_small_for_16_subnets():
    with pytest.raises(ValueError, match=r"cidr must be an IPv4 block /16../20 .*got 10.0.0.0/24"):
        _network(cidr="10.0.0.0/24")


def test_fails_when_az_count_is_out_of_range():
    with pytest.raises(ValueError, match="az_count must be 1..6, got 7"):
        _network(az_count=7)


def test_fails_when_nat_mode_is_unknown():
    with pytest.raises(ValueError, match="nat_mode must be 'single' or 'per_az', got 'gateway'"):
        _network(nat_mode="gateway")


def test_fails_when_an_interface_endpoint_is_unknown():
    with pytest.raises(ValueError, match=r"interface_endpoints has unknown services \['ec2'\]"):
        _network(interface_endpoints=("sqs", "ec2"))


def test_all_network_problems_are_reported_together():
    with pytest.raises(ValueError) as error:
        _network(az_count=0, nat_mode="x")
    assert "az_count" in str(error.value) and "nat_mode" in str(error.value)


def test_fails_when_flow_log_retention_is_not_a_cloudwatch_value():
    network = _network()
    with pytest.raises(ValueError, match="retention_in_days must be a CloudWatch Logs retention such as 30, got 31"):
        network.add_flow_logs(logs_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/x", retention_in_days=31)


def test_fails_when_flow_logs_have_no_kms_key():
    with pytest.raises(ValueError, match="logs_kms_key_arn is required"):
        _network().add_flow_logs(logs_kms_key_arn="")


def test_subnets_use_literal_zone_names_derived_from_the_region():
    zones = sorted(s["availability_zone"] for s in resources(synth("dev"), Subnet.TF_RESOURCE_TYPE).values())
    assert zones == ["us-east-1a", "us-east-1a", "us-east-1b", "us-east-1b", "us-east-1c", "us-east-1c"]
    assert not data_sources(synth("dev"), "aws_availability_zones")


def test_fails_when_availability_zones_do_not_match_the_count():
    with pytest.raises(ValueError, match=r"availability_zones must name az_count \(3\) distinct zones"):
        _network(availability_zones=("us-east-1a",))
