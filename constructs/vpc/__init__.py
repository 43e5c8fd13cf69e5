"""The VPC the Lambdas run in (`Network`, network.py) and its NAT instances (nat.py)."""

from constructs.vpc.nat import AL2023_ARM64_AMI_PARAMETER, NAT_ROOT_VOLUME_GIB, NatInstances, nat_user_data
from constructs.vpc.network import Network

__all__ = ["AL2023_ARM64_AMI_PARAMETER", "NAT_ROOT_VOLUME_GIB", "NatInstances", "Network", "nat_user_data"]
