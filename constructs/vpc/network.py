"""`Network`: the VPC the Lambdas run in.

Layout, for `az_count` availability zones, named literally: `availability_zones` when given, else
`{region}a`, `{region}b`, ... A literal list keeps the plan deterministic (an index into the
`aws_availability_zones` data source shifts, and replaces subnets, when AWS adds a zone) and works
the same against moto; regions whose zone letters skip (ap-northeast-1 has no `b`) set the names.

* the VPC CIDR is cut into 16 equal blocks: private subnet i = block i, public subnet i = block 8+i;
* one public route table (default route to the internet gateway) shared by the public subnets;
* one private route table per AZ, default route to a NAT *instance* (not a NAT gateway: a fraction of its hourly price):
  one per AZ (`nat_mode="per_az"`) or one in the first AZ for all (`"single"`);
* NAT instances, each with an Elastic IP (fixed egress addresses vendors can allow-list): Amazon Linux 2023 arm64 (SSM public parameter), `source_dest_check = false`,
  IMDSv2 only, encrypted root volume, user data enabling IP forwarding and masquerading (fixed
  text: the same settings give the same user data and no replacement), SSM-managed (no SSH);
* gateway endpoints for DynamoDB and S3 on the PRIVATE route tables (that is where the Lambdas'
  traffic is routed, so that is what makes them used);
* interface endpoints (private DNS) for the services the Lambdas call, behind one security group
  admitting 443 from the VPC only;
* VPC flow logs to a KMS-encrypted log group, through a role scoped to that log group;
* the default security group closed (no rules).

The Lambda security group allows egress only on 443: to the VPC CIDR (interface endpoints), to the
S3 and DynamoDB prefix lists (gateway endpoints), and - only when NAT instances exist - to
0.0.0.0/0 through the NAT: the processor downloads PayPal's signing certificate from the
`paypal-cert-url` of each webhook (an api.paypal.com HTTPS URL), which no VPC endpoint serves.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Sequence

from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.instance import Instance
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupEgress, SecurityGroupIngress
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from constructs import Construct

from constructs.core.limits import (
    INTERFACE_ENDPOINT_SERVICES,
    LOG_RETENTION_DAYS,
    NAT_MODES,
    VPC_AZ_COUNT,
    VPC_PREFIX_LENGTH,
)
from constructs.core.tokens import is_token
from constructs.vpc.nat import build_nat_instances

_SUBNET_NEWBITS = 4          # 16 blocks: private 0..7, public 8..15
_PUBLIC_BLOCK_OFFSET = 8
_HTTPS = 443


class Network(Construct):
    """VPC, subnets, NAT instances, endpoints, flow logs and the Lambda security group.

    Keyword arguments:
      name: prefix of every physical name and Name tag, e.g. "payments-dev" (required).
      region: the stack's region, for endpoint service names (required).
      cidr: IPv4 VPC CIDR, /16../20 (default "10.40.0.0/16").
      az_count: availability zones, 1..6 (default 3).
      availability_zones: their names, `az_count` of them in `region` (default `{region}a`, `b`, ...).
      nat_mode: "single" (one NAT instance) or "per_az" (default "single").
      nat_instance_type: arm64 (Graviton) instance type (default "t4g.nano").
      interface_endpoints: services from INTERFACE_ENDPOINT_SERVICES (default none).
      detailed_monitoring: 1-minute CloudWatch metrics on the NAT instances (default True).
      nat_instances: switch (default True); off, the private subnets have no default route
        (only the endpoints) and the Lambdas reach nothing outside AWS.

    Flow logs are added with `add_flow_logs(...)` once the logs KMS key exists (the stack builds
    the network before the keys, because the keys' policies do not depend on it).

    Attributes: vpc, private_subnet_ids, public_subnet_ids, private_route_tables,
      public_route_table, nat_instances, nat_elastic_ips and nat_public_ips (one Elastic IP per NAT
      instance: the fixed egress addresses), gateway_endpoints (service -> VpcEndpoint),
      interface_endpoint_resources, lambda_security_group (+ _id), endpoint_security_group,
      flow_log, flow_log_group (None when off).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name: str,
        region: str,
        cidr: str = "10.40.0.0/16",
        az_count: int = 3,
        nat_mode: str = "single",
        nat_instance_type: str = "t4g.nano",
        interface_endpoints: Sequence[str] = (),
        nat_instances: bool = True,
        availability_zones: Sequence[str] = (),
        detailed_monitoring: bool = True,
    ):
        super().__init__(scope, id_)
        problems: list[str] = []
        network = None
        if is_token(cidr):
            problems.append(f"cidr must be a literal CIDR (subnets are computed at synth), got a token {cidr}")
        try:
            network = ipaddress.ip_network(cidr)
            if network.version != 4 or network.prefixlen not in VPC_PREFIX_LENGTH:
                problems.append(f"cidr must be an IPv4 block /{VPC_PREFIX_LENGTH.low}../{VPC_PREFIX_LENGTH.high} "
                                f"(16 subnets of it), got {cidr}")
                network = None
        except ValueError:
            problems.append(f"cidr must be an IPv4 CIDR such as 10.40.0.0/16, got {cidr!r}")
        if az_count not in VPC_AZ_COUNT:
            problems.append(f"az_count must be {VPC_AZ_COUNT}, got {az_count}")
        if availability_zones:
            if len(availability_zones) != az_count or len(set(availability_zones)) != az_count:
                problems.append(f"availability_zones must name az_count ({az_count}) distinct zones, got {list(availability_zones)}")
            wrong = [z for z in availability_zones if not re.match(rf"^{re.escape(region)}[a-z]$", z)]
            if wrong and not is_token(region):
                problems.append(f"availability_zones must be zones of {region} such as {region}a, got {wrong}")
        if nat_mode not in NAT_MODES:
            problems.append(f"nat_mode must be 'single' or 'per_az', got {nat_mode!r}")
        unknown = [s for s in interface_endpoints if s not in INTERFACE_ENDPOINT_SERVICES]
        if unknown:
            problems.append(
                f"interface_endpoints has unknown services {unknown}; known: {', '.join(INTERFACE_ENDPOINT_SERVICES)}"
            )
        if problems:
            raise ValueError("Network: " + "; ".join(problems))

        assert network is not None  # validated above
        blocks = list(network.subnets(new_prefix=network.prefixlen + _SUBNET_NEWBITS))
        zones = list(availability_zones) or [f"{region}{letter}" for letter in "abcdef"[:az_count]]
        self.vpc = Vpc(self, "vpc", cidr_block=cidr, enable_dns_hostnames=True, enable_dns_support=True,
                       tags={"Name": name})
        vpc_id = self.vpc.id
        DefaultSecurityGroup(self, "default-sg", vpc_id=vpc_id, tags={"Name": f"{name}-default-closed"})
        igw = InternetGateway(self, "igw", vpc_id=vpc_id, tags={"Name": name})

        self.public_route_table = RouteTable(self, "public-rt", vpc_id=vpc_id, tags={"Name": f"{name}-public"})
        public_rt_id = self.public_route_table.id  # token strings read once (each read is a jsii round trip)
        Route(self, "public-default", route_table_id=public_rt_id,
              destination_cidr_block="0.0.0.0/0", gateway_id=igw.id)
        public, private, self.private_route_tables, private_rt_ids = [], [], [], []
        for i in range(az_count):
            az = zones[i]
            pub = Subnet(self, f"public-{i}", vpc_id=vpc_id, availability_zone=az,
                         cidr_block=str(blocks[_PUBLIC_BLOCK_OFFSET + i]), map_public_ip_on_launch=False,
                         tags={"Name": f"{name}-public-{i}", "Tier": "public"})
            RouteTableAssociation(self, f"public-rta-{i}", subnet_id=pub.id, route_table_id=public_rt_id)
            priv = Subnet(self, f"private-{i}", vpc_id=vpc_id, availability_zone=az, cidr_block=str(blocks[i]),
                          tags={"Name": f"{name}-private-{i}", "Tier": "private"})
            rt = RouteTable(self, f"private-rt-{i}", vpc_id=vpc_id, tags={"Name": f"{name}-private-{i}"})
            rt_id = rt.id
            RouteTableAssociation(self, f"private-rta-{i}", subnet_id=priv.id, route_table_id=rt_id)
            public.append(pub)
            private.append(priv)
            self.private_route_tables.append(rt)
            private_rt_ids.append(rt_id)
        self.public_subnet_ids = [s.id for s in public]
        self.private_subnet_ids = [s.id for s in private]

        # Gateway endpoints: on the private route tables, where the Lambdas are.
        self.gateway_endpoints = {
            service: VpcEndpoint(self, f"{service}-gateway", vpc_id=vpc_id,
                                 service_name=f"com.amazonaws.{region}.{service}", vpc_endpoint_type="Gateway",
                                 route_table_ids=private_rt_ids, tags={"Name": f"{name}-{service}"})
            for service in ("dynamodb", "s3")
        }

        self.nat_instances: list[Instance] = []
        self.nat_elastic_ips: list[Eip] = []
        self.nat_public_ips: list[str] = []
        if nat_instances:
            nat = build_nat_instances(self, name=name, vpc_id=vpc_id, cidr=cidr, nat_mode=nat_mode,
                                      instance_type=nat_instance_type, public=public,
                                      private_route_table_ids=private_rt_ids, detailed_monitoring=detailed_monitoring)
            self.nat_instances, self.nat_elastic_ips, self.nat_public_ips = nat.instances, nat.elastic_ips, nat.public_ips

        self.endpoint_security_group = None
        self.interface_endpoint_resources: dict[str, VpcEndpoint] = {}
        if interface_endpoints:
            self.endpoint_security_group = SecurityGroup(
                self, "endpoint-sg", name=f"{name}-endpoints", vpc_id=vpc_id,
                description="Interface VPC endpoints: HTTPS from the VPC only",
                ingress=[SecurityGroupIngress(description="HTTPS from the VPC", protocol="tcp", from_port=_HTTPS,
                                              to_port=_HTTPS, cidr_blocks=[cidr])],
                tags={"Name": f"{name}-endpoints"},
            )
            for service in interface_endpoints:
                self.interface_endpoint_resources[service] = VpcEndpoint(
                    self, f"{service}-interface", vpc_id=vpc_id, service_name=f"com.amazonaws.{region}.{service}",
                    vpc_endpoint_type="Interface", private_dns_enabled=True, subnet_ids=self.private_subnet_ids,
                    security_group_ids=[self.endpoint_security_group.id], tags={"Name": f"{name}-{service}"},
                )

        egress = [
            SecurityGroupEgress(description="HTTPS to interface endpoints in the VPC", protocol="tcp",
                                from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=[cidr]),
            SecurityGroupEgress(description="HTTPS to the S3 and DynamoDB gateway endpoints", protocol="tcp",
                                from_port=_HTTPS, to_port=_HTTPS,
                                prefix_list_ids=[e.prefix_list_id for e in self.gateway_endpoints.values()]),
        ]
        if self.nat_instances:
            egress.append(SecurityGroupEgress(
                description="HTTPS via the NAT instances: PayPal signing certificate download",
                protocol="tcp", from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=["0.0.0.0/0"]))
        self.lambda_security_group = SecurityGroup(
            self, "lambda-sg", name=f"{name}-lambda", vpc_id=vpc_id,
            description="Payment Lambdas: HTTPS egress only, no ingress", egress=egress,
            tags={"Name": f"{name}-lambda"},
        )
        self.lambda_security_group_id = self.lambda_security_group.id
        self._name = name
        self.flow_log: FlowLog | None = None
        self.flow_log_group: CloudwatchLogGroup | None = None

    def add_flow_logs(self, *, logs_kms_key_arn: str, retention_in_days: int = 30) -> FlowLog:
        """VPC flow logs (all traffic, 60 s aggregation) to a log group encrypted with
        `logs_kms_key_arn` (required; the key policy must admit logs.<region>.amazonaws.com),
        kept `retention_in_days` (a CloudWatch Logs retention, default 30). Once only."""
        problems = []
        if not logs_kms_key_arn:
            problems.append("logs_kms_key_arn is required (the flow log group is KMS-encrypted), got none")
        if not is_token(retention_in_days) and retention_in_days not in LOG_RETENTION_DAYS:
            problems.append(f"retention_in_days must be a CloudWatch Logs retention such as 30, got {retention_in_days}")
        if self.flow_log is not None:
            problems.append("flow logs are already added; call add_flow_logs once")
        if problems:
            raise ValueError("Network.add_flow_logs: " + "; ".join(problems))
        name, kms_key_arn, retention_days = self._name, logs_kms_key_arn, retention_in_days
        self.flow_log_group = log_group = CloudwatchLogGroup(
            self, "flow-log-group", name=f"/aws/vpc/flow-logs/{name}", retention_in_days=retention_days,
            kms_key_id=kms_key_arn,
        )
        role = IamRole(self, "flow-log-role", name=f"{name}-flow-logs", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                           "Action": "sts:AssumeRole"}],
        }))
        IamRolePolicy(self, "flow-log-policy", role=role.id, name="write-flow-logs", policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group.arn, f"{log_group.arn}:*"],
            }],
        }))
        self.flow_log = FlowLog(self, "flow-log", vpc_id=self.vpc.id, traffic_type="ALL",
                                log_destination_type="cloud-watch-logs", log_destination=log_group.arn,
                                iam_role_arn=role.arn, max_aggregation_interval=60)
        return self.flow_log
