"""EC2: the Availability Zones of a service's subnets."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from autopilot.aws.translate import translate

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client


def subnet_zones(ec2: EC2Client, subnets: Iterable[str]) -> tuple[str, ...]:
    """The Availability Zones of ``subnets`` (one DescribeSubnets call)."""
    ids = sorted(set(subnets))
    if not ids:
        return ()
    with translate("ec2:DescribeSubnets"):
        response = ec2.describe_subnets(SubnetIds=ids)
    return tuple(
        sorted(
            {s["AvailabilityZone"] for s in response.get("Subnets", []) if "AvailabilityZone" in s}
        )
    )
