"""NAT instances for `Network` (not NAT gateways): Amazon Linux 2023 arm64 (SSM public parameter),
`source_dest_check = false`, IMDSv2 only, encrypted root volume, user data enabling IP forwarding
and masquerading (fixed text: the same settings give the same user data and no replacement),
SSM-managed (no SSH), an Elastic IP each (fixed egress addresses vendors can allow-list)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.eip_association import EipAssociation
from cdktf_cdktf_provider_aws.iam_instance_profile import IamInstanceProfile
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.instance import Instance, InstanceMetadataOptions, InstanceRootBlockDevice
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.security_group import SecurityGroup, SecurityGroupEgress, SecurityGroupIngress
from cdktf_cdktf_provider_aws.subnet import Subnet
from constructs import Construct

#: The AMI: the public SSM parameter AWS keeps pointing at the newest AL2023 arm64 image.
AL2023_ARM64_AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
# AL2023 images need 2 GiB; 8 GiB is the image default, stated so the request is complete.
NAT_ROOT_VOLUME_GIB = 8
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


@dataclass(frozen=True)
class NatInstances:
    """What `build_nat_instances` made: the instances, their Elastic IPs and public addresses."""

    instances: list[Instance]
    elastic_ips: list[Eip]
    public_ips: list[str]


def build_nat_instances(scope: Construct, *, name: str, vpc_id: str, cidr: str, nat_mode: str, instance_type: str,
                        public: Sequence[Subnet], private_route_table_ids: Sequence[str],
                        detailed_monitoring: bool) -> NatInstances:
    """One NAT instance in the first public subnet (`nat_mode` "single") or one per subnet
    ("per_az"), each with an Elastic IP, and the private route tables' default routes through
    them; created in `scope` (ids nat-sg, nat-role, nat-0, nat-eip-0, private-default-0, ...)."""
    ami = DataAwsSsmParameter(scope, "nat-ami", name=AL2023_ARM64_AMI_PARAMETER)
    sg = SecurityGroup(
        scope, "nat-sg", name=f"{name}-nat", vpc_id=vpc_id,
        description="NAT instances: any traffic from the VPC in, HTTPS out",
        ingress=[SecurityGroupIngress(description="All traffic from the VPC only", protocol="-1", from_port=0,
                                      to_port=0, cidr_blocks=[cidr])],
        egress=[SecurityGroupEgress(description="HTTPS to the internet (forwarded Lambda traffic, packages)",
                                    protocol="tcp", from_port=_HTTPS, to_port=_HTTPS, cidr_blocks=["0.0.0.0/0"])],
        tags={"Name": f"{name}-nat"},
    )
    role = IamRole(scope, "nat-role", name=f"{name}-nat", assume_role_policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }))
    IamRolePolicyAttachment(scope, "nat-ssm", role=role.name,
                            policy_arn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")
    profile = IamInstanceProfile(scope, "nat-profile", name=f"{name}-nat", role=role.name)
    instances: list[Instance] = []
    elastic_ips: list[Eip] = []
    count = len(public) if nat_mode == "per_az" else 1
    user_data = nat_user_data(cidr)
    for i in range(count):
        instances.append(Instance(
            scope, f"nat-{i}", ami=ami.value, instance_type=instance_type, subnet_id=public[i].id,
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
    for i, nat in enumerate(instances):
        eip = Eip(scope, f"nat-eip-{i}", domain="vpc", tags={"Name": f"{name}-nat-{i}"})
        EipAssociation(scope, f"nat-eip-association-{i}", allocation_id=eip.id, instance_id=nat.id)
        elastic_ips.append(eip)
    enis = [nat.primary_network_interface_id for nat in instances]
    for i, rt_id in enumerate(private_route_table_ids):
        Route(scope, f"private-default-{i}", route_table_id=rt_id, destination_cidr_block="0.0.0.0/0",
              network_interface_id=enis[i if nat_mode == "per_az" else 0])
    return NatInstances(instances, elastic_ips, [eip.public_ip for eip in elastic_ips])
