"""The one factory of the ledger's stores: ``Ledger(dynamodb, table)`` opens every kind of
item on one table. Each store is built (and its module imported) on first use, so a
function loads only the stores it reads and writes.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from autopilot.store.table import Clock, Table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from autopilot.store.approvals import Approvals
    from autopilot.store.capacity import CapacityTargets
    from autopilot.store.crashes import Crashes
    from autopilot.store.decisions import Decisions
    from autopilot.store.deploys import Deploys
    from autopilot.store.events import HandledEvents
    from autopilot.store.leases import Leases
    from autopilot.store.pauses import Pauses
    from autopilot.store.rechecks import Rechecks
    from autopilot.store.reports import Reports
    from autopilot.store.scans import Scans
    from autopilot.store.spot import SpotFallbacks
    from autopilot.store.state import ServiceStates
    from autopilot.store.vulnerable import VulnerableMarks
    from autopilot.store.zone import ZoneBalance

# ruff: noqa: PLC0415 - each store's module is imported when it is first used


class Ledger:
    """The ledger table's stores (audit trail and shared state of the functions)."""

    def __init__(self, client: DynamoDBClient, table: str, *, clock: Clock | None = None) -> None:
        self.table = Table(client, table, clock=clock)

    @cached_property
    def decisions(self) -> Decisions:
        from autopilot.store.decisions import Decisions

        return Decisions(self.table)

    @cached_property
    def events(self) -> HandledEvents:
        from autopilot.store.events import HandledEvents

        return HandledEvents(self.table)

    @cached_property
    def state(self) -> ServiceStates:
        from autopilot.store.state import ServiceStates

        return ServiceStates(self.table)

    @cached_property
    def approvals(self) -> Approvals:
        from autopilot.store.approvals import Approvals

        return Approvals(self.table)

    @cached_property
    def pauses(self) -> Pauses:
        from autopilot.store.pauses import Pauses

        return Pauses(self.table)

    @cached_property
    def deploys(self) -> Deploys:
        from autopilot.store.deploys import Deploys

        return Deploys(self.table)

    @cached_property
    def leases(self) -> Leases:
        from autopilot.store.leases import Leases

        return Leases(self.table)

    @cached_property
    def reports(self) -> Reports:
        from autopilot.store.reports import Reports

        return Reports(self.table)

    @cached_property
    def scans(self) -> Scans:
        from autopilot.store.scans import Scans

        return Scans(self.table)

    @cached_property
    def zone(self) -> ZoneBalance:
        from autopilot.store.zone import ZoneBalance

        return ZoneBalance(self.table)

    @cached_property
    def rechecks(self) -> Rechecks:
        from autopilot.store.rechecks import Rechecks

        return Rechecks(self.table)

    @cached_property
    def crashes(self) -> Crashes:
        from autopilot.store.crashes import Crashes

        return Crashes(self.table)

    @cached_property
    def capacity(self) -> CapacityTargets:
        from autopilot.store.capacity import CapacityTargets

        return CapacityTargets(self.table)

    @cached_property
    def spot(self) -> SpotFallbacks:
        from autopilot.store.spot import SpotFallbacks

        return SpotFallbacks(self.table)

    @cached_property
    def vulnerable(self) -> VulnerableMarks:
        from autopilot.store.vulnerable import VulnerableMarks

        return VulnerableMarks(self.table)
