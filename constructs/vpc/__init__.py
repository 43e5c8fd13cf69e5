"""Network (C13, F2, F8): the VPC the Lambdas run in.

Layout, for `az_count` availability zones, named literally: `availability_zones` when given, else
`{region}a`, `{region}b`, ... A literal list keeps the plan deterministic (an index into the
`aws_availability_zones` data source shifts, and replaces subnets, when AWS adds a zone) and works
the same against moto; regions whose zone letters skip (ap-northeast-1 has no `b`) set the names.

* the VPC CIDR is cut into 16 equal blocks: private subnet i = block i, public subnet i = block 8+i;
* one public route table (default route to the internet gateway) shared by the public subnets;
* one private route table per AZ, default route to a NAT *instance* (not a NAT gateway, C13):
  one per AZ (`nat_mode="per_az"`) or one in the first AZ for all (`"single"`);
* NAT instances, each with an Elastic IP (fixed egress addresses vendors can allow-list): Amazon Linux 2023 arm64 (SSM public parameter), `source_dest_check = false`,
  IMDSv2 only, encrypted root volume, user data enabling IP forwarding and masquerading (fixed
  text: the same settings give the same user data and no replacement), SSM-managed (no SSH);
* gateway endpoints for DynamoDB and S3 on the PRIVATE route tables (F8: that is where the Lambdas'
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
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.eip_association import EipAssociation
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.instance import Instance, InstanceMetadataOptions, InstanceRootBlockDevice
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

#: The AMI: the public SSM parameter AWS keeps pointing at the newest AL2023 arm64 image.
AL2023_ARM64_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
_SUBNET_NEWBITS = 4          # 16 blocks: private 0..7, public 8..15
_PUBLIC_BLOCK_OFFSET = 8
_HTTPS = 443


def nat_user_data(vpc_cidr: str) -> str:
    """Cloud-init script of a NAT instance: forward and masquerade the VPC's traffic.

    AL2023 ships without iptables: `iptables-services` is installed (over the instance's own public
    address), its stock FORWARD reject rule flushed, then the MASQUERADE rule saved so it survives
    a reboot. Fixed text: the same CIDR always gives the same bytes."""
    return "\n".join([
        "#!/bin/bash",
        "set -euo pipefail",
        "echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-nat.conf",
        "sysctl -p /etc/sysctl.d/90-nat.conf",
        "dnf install -y iptables-services",
        "systemctl enable --now iptables",
        "IFACE=$(ip -o -4 route show to default | awk '{print $5}' | head -n1)",
        "iptables -F FORWARD",
        f"iptables -t nat -A POSTROUTING -o \"$IFACE\" -s {vpc_cidr} -j MASQUERADE",
        "iptables-save > /etc/sysconfig/iptables",
        "",
    ])


# AL2023 images need 2 GiB; 8 GiB is the image default, stated so the request is complete.
NAT_ROOT_VOLUME_GIB = 8


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

        self._private_rt_ids = private_rt_ids
        self.nat_instances: list[Instance] = []
        self.nat_elastic_ips: list[Eip] = []
        self.nat_public_ips: list[str] = []
        if nat_instances:
            self._build_nat_instances(name, cidr, nat_mode, nat_instance_type, public, detailed_monitoring)

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

    def _build_nat_instances(self, name: str, cidr: str, nat_mode: str, instance_type: str,
                             public: list[Subnet], detailed_monitoring: bool) -> None:
        ami = DataAwsSsmParameter(self, "nat-ami", name=AL2023_ARM64_AMI_PARAMETER)
        sg = SecurityGroup(
            self, "nat-sg", name=f"{name}-nat", vpc_id=self.vpc.id,
            description="NAT instances: any traffic from the VPC in, HTTPS out",
            ingress=[SecurityGroupIngress(description="All traffic from the VPC only", protocol="-1", from_port=0,
                                          to_port=0, cidr_blocks=[cidr])],
            egress=[SecurityGroupEgress(description="HTTPS to the internet (forwarded Lambda traffic, packages)",
                                        protocol="tcp", from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=["0.0.0.0/0"])],
            tags={"Name": f"{name}-nat"},
        )
        role = IamRole(self, "nat-role", name=f"{name}-nat", assume_role_policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
        }))
        IamRolePolicyAttachment(self, "nat-ssm", role=role.name,
                                policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
        profile = IamInstanceProfile(self, "nat-profile", name=f"{name}-nat", role=role.name)
        count = len(public) if nat_mode == "per_az" else 1
        user_data = nat_user_data(cidr)
        for i in range(count):
            self.nat_instances.append(Instance(
                self, f"nat-{i}", ami=ami.value, instance_type=instance_type, subnet_id=public[i].id,
                vpc_security_group_ids=[sg.id], associate_public_ip_address=True, source_dest_check=False,
                iam_instance_profile=profile.name, monitoring=detailed_monitoring, ebs_optimized=True, user_data=user_data,
                user_data_replace_on_change=True,
                metadata_options=InstanceMetadataOptions(http_endpoint="enabled", http_tokens="required",
                                                         http_put_response_hop_limit=1),
                root_block_device=InstanceRootBlockDevice(encrypted=True, volume_type="gp3", volume_size=NAT_ROOT_VOLUME_GIB,
                                                          delete_on_termination=True),
                lifecycle={"ignore_changes": ["ami"]},
                tags={"Name": f"{name}-nat-{i}"},
            ))
        # A fixed public address per NAT instance: what leaves the private subnets (vendor webhooks)
        # comes from these, so vendors can allow-list them; an instance replacement keeps them.
        for i, nat in enumerate(self.nat_instances):
            eip = Eip(self, f"nat-eip-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"})
            EipAssociation(self, f"nat-eip-association-{i}", allocation_id=eip.id, instance_id=nat.id)
            self.nat_elastic_ips.append(eip)
        self.nat_public_ips = [eip.public_ip for eip in self.nat_elastic_ips]
        enis = [nat.primary_network_interface_id for nat in self.nat_instances]
        for i, rt_id in enumerate(self._private_rt_ids):
            Route(self, f"private-default-{i}", route_table_id=rt_id, destination_cidr_block="0.0.0.0/0",
                  network_interface_id=enis[i if nat_mode == "per_az" else 0])

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

