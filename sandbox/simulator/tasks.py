"""Tasks: which of a service's tasks run, where, and what ECS says when that changes.

A task is started where ECS would place it (an EC2 instance with room, chosen by
:mod:`sandbox.simulator.capacity`, or the least loaded Fargate zone), mirrored into moto's
ECS backend with its ``availabilityZone`` (so ``ListTasks`` and ``DescribeTasks`` answer
as ECS does; a stopped task with its stop code, time and each container's exit code, which
task-events reads before it counts a crash), and every start and stop emits ``ECS Task
State Change``. A task lost
outside a deployment is replaced a little later; a service keeps its desired count; ECS's
own AZ rebalancing moves one task at a time for a service that has it on.

Tasks use capacity to place themselves; capacity never starts or stops a task.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto loads only where its backends are read

from __future__ import annotations

import math
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sandbox.server import ACCOUNT_ID, REGION, Clients
from sandbox.simulator.bus import Event, EventQueue, iso, make_event
from sandbox.simulator.capacity import Capacity, placement_strategy
from sandbox.simulator.presentation import short
from sandbox.simulator.state import (
    SimInstance,
    SimService,
    SimState,
    SimTask,
    SimulatorError,
    ecs_backend,
    image_digest,
    moto_service,
)
from sandbox.timeline import Timeline

if TYPE_CHECKING:
    from moto.ecs.models import Service

#: A replacement for a task lost outside a deployment (a zone's loss, StopTask, a drained
#: instance, a Spot interruption) starts this long after the stop's events were delivered.
#: ECS takes tens of seconds; 1.2 s lets a 1 s debounce window (the demo config's) pass.
REPLACEMENT_SECONDS = 1.2
REBALANCING_REASON = "Availability-zone rebalancing initiated by (deployment {})"


class Tasks:
    def __init__(
        self,
        clients: Clients,
        state: SimState,
        queue: EventQueue,
        capacity: Capacity,
        timeline: Timeline,
    ) -> None:
        self.clients = clients
        self.state = state
        self.queue = queue
        self.capacity = capacity
        self.timeline = timeline
        self.replacement_seconds = REPLACEMENT_SECONDS

    # ------------------------------------------------------------------ start and stop
    def start(
        self,
        svc: SimService,
        *,
        quiet: bool = False,
        deployment_id: str | None = None,
        task_definition: str | None = None,
        zone: str | None = None,
    ) -> SimTask | None:
        """Start one task where ECS would place it; None (and a placement failure, once) if
        no capacity can take it."""
        instance: SimInstance | None = None
        if svc.ec2:
            placed = self.capacity.place_ec2(svc, zone)
            if isinstance(placed, str):
                self.capacity.placement_failed(svc, placed)
                return None
            instance, az, provider = placed, placed.az, self.capacity.ec2_provider(svc)
        else:
            provider = self.capacity.fargate_provider(svc)
            if provider == "FARGATE_SPOT" and not self.capacity.fargate_spot_available:
                self.capacity.placement_failed(svc, "RESOURCE:FARGATE", provider="FARGATE_SPOT")
                return None
            az = zone or self._choose_az(svc)
        svc.placement_failure = None
        td = task_definition or svc.task_definition
        dep = deployment_id or svc.deployment_id
        arn = self._mirror_start(svc, td, az, dep, instance)
        task = SimTask(arn, td, az, svc.subnets.get(az), dep, provider=provider)
        task.instance_id = instance.instance_id if instance else None
        svc.tasks.append(task)
        self.capacity.sync_instance_resources()
        if not quiet:
            self.queue.put(
                self._task_event(svc, task),
                label=f"task {arn.rsplit('/', 1)[-1][:8]} RUNNING in {az} ({svc.name}"
                + (f" on {instance.instance_id}" if instance else f", {provider}")
                + ")",
            )
        return task

    def stop(
        self,
        svc: SimService,
        task: SimTask,
        *,
        stop_code: str,
        reason: str,
        exit_code: int | None = 0,
        mirror: bool = True,
    ) -> None:
        task.status = "STOPPED"
        task.version += 1
        event = self._task_event(svc, task, stop_code=stop_code, reason=reason, exit_code=exit_code)
        mt = ecs_backend().tasks.get(svc.cluster_name, {}).get(task.arn)
        if mt is not None:
            if mirror:
                mt.desired_status = "STOPPED"
                mt.last_status = "STOPPED"
                mt.stopped_reason = reason
            # DescribeTasks answers the stop as the event tells it (task-events judges a
            # crash on ECS's answer): moto's task keeps one container, exit code 0, and no
            # stop code or time
            detail = event["detail"]
            vars(mt).update(
                stop_code=stop_code,
                stopped_at=datetime.fromisoformat(detail["stoppedAt"]),
                containers=[
                    {k: c[k] for k in ("name", "lastStatus", "exitCode", "imageDigest") if k in c}
                    for c in detail["containers"]
                ],
            )
        self.queue.put(
            event,
            label=f"task {short(task.arn)} STOPPED in {task.az} ({svc.name}): {reason}",
        )

    def _choose_az(self, svc: SimService) -> str:
        spread = svc.spread()
        candidates = [az for az in svc.azs if az != svc.impaired_az] or svc.azs
        if svc.impaired_az:
            # the replacements of a zone's lost tasks land lopsidedly: all in one other zone
            return candidates[0]
        return min(candidates, key=lambda az: (spread.get(az, 0), svc.azs.index(az)))

    def _mirror_start(
        self, svc: SimService, td_arn: str, az: str, dep: str, instance: SimInstance | None
    ) -> str:
        """Create the task in moto's ECS backend too, with its Availability Zone."""
        from moto.ecs.models import Task

        backend = ecs_backend()
        ms = moto_service(svc)
        cluster = backend._get_cluster(svc.cluster_name)
        td = backend.describe_task_definition(td_arn)
        net = getattr(ms, "network_configuration", None) or None
        if net and svc.subnets.get(az):
            net = {
                "awsvpcConfiguration": {**net["awsvpcConfiguration"], "subnets": [svc.subnets[az]]}
            }
        # the simulator keeps the instances' remaining resources itself (StopTask on a task
        # with an instance subtracts these from moto's copy: nothing)
        no_resources: Any = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
        task = Task(
            cluster,
            td,
            instance.container_instance_arn if instance else None,
            # moto annotates this dict[str, str]; it holds CPU/MEMORY numbers and port lists
            no_resources if instance else None,
            backend,
            group=f"service:{svc.name}",
            launch_type=ms.launch_type or "",
            started_by=dep,
            networking_configuration=net if td.network_mode == "awsvpc" else None,
        )
        # moto's Task has no zone of its own; DescribeTasks answers with every attribute
        task.availability_zone = az  # type: ignore[attr-defined]
        task.last_status = "RUNNING"
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return str(task.task_arn)

    def _task_event(
        self,
        svc: SimService,
        task: SimTask,
        *,
        stop_code: str | None = None,
        reason: str | None = None,
        exit_code: int | None = 0,
    ) -> Event:
        td = self.clients("ecs").describe_task_definition(taskDefinition=task.task_definition_arn)[
            "taskDefinition"
        ]
        now = iso(millis=True)
        containers = []
        for c in td.get("containerDefinitions", []):
            container: dict[str, Any] = {
                "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:container/"
                f"{svc.cluster_name}/{short(task.arn, 32)}/{uuid.uuid4()}",
                "lastStatus": task.status,
                "name": c["name"],
                "image": c.get("image", ""),
                "taskArn": task.arn,
                "cpu": str(c.get("cpu", 0)),
            }
            if digest := image_digest(c.get("image", "")):
                container["imageDigest"] = digest
            if task.status == "STOPPED" and exit_code is not None:
                container["exitCode"] = exit_code if c.get("essential", True) else 0
            containers.append(container)
        detail: dict[str, Any] = {
            "attachments": [
                {
                    "id": str(uuid.uuid4()),
                    "type": "eni",
                    "status": "ATTACHED" if task.status == "RUNNING" else "DELETED",
                    "details": [{"name": "subnetId", "value": task.subnet or ""}],
                }
            ]
            if task.subnet
            else [],
            "availabilityZone": task.az,
            "clusterArn": svc.cluster_arn,
            "containers": containers,
            "createdAt": iso(task.created, millis=True),
            "launchType": "EC2" if svc.ec2 else "FARGATE",
            "cpu": str(td.get("cpu", "")),
            "memory": str(td.get("memory", "")),
            "desiredStatus": task.status,
            "group": f"service:{svc.name}",
            "lastStatus": task.status,
            "overrides": {
                "containerOverrides": [
                    {"name": c["name"]} for c in td.get("containerDefinitions", [])
                ]
            },
            "startedBy": task.deployment_id,
            "taskArn": task.arn,
            **({"capacityProviderName": task.provider} if task.provider else {}),
            **(
                {
                    "containerInstanceArn": self.state.instances[
                        task.instance_id
                    ].container_instance_arn
                }
                if task.instance_id in self.state.instances
                else {}
            ),
            "taskDefinitionArn": task.task_definition_arn,
            "updatedAt": now,
            "version": task.version,
        }
        if task.status == "RUNNING":
            detail["startedAt"] = now
            detail["connectivity"] = "CONNECTED"
        else:
            detail.update(
                {
                    "stopCode": stop_code,
                    "stoppedReason": reason,
                    "stoppingAt": now,
                    "stoppedAt": now,
                    "executionStoppedAt": now,
                    "connectivity": "DISCONNECTED",
                }
            )
        return make_event("aws.ecs", "ECS Task State Change", detail, [task.arn])

    # ------------------------------------------------------------------ lost tasks
    def lost(self, svc: SimService) -> None:
        """A task was lost outside a deployment: ECS replaces it a little later (counted
        from when the events of the moment have been delivered: see pending_replacements)."""
        svc.replace_after = math.inf

    def pending_replacements(self) -> float | None:
        """Seconds until the next lost task is due to be replaced (None: none is pending).
        Called when the bus is quiet: replacements pending since then become due
        ``replacement_seconds`` from now."""
        now = time.monotonic()
        for svc in self.state.services.values():
            if svc.replace_after == math.inf:
                svc.replace_after = now + self.replacement_seconds
        due = [
            s.replace_after
            for s in self.state.services.values()
            if s.replace_after > now and s.placement_failure is None
        ]
        return max(0.0, min(due) - now) if due else None

    def reap_stopped(self, svc: SimService) -> None:
        """Tasks stopped through the API (StopTask) become STOPPED here, and are replaced."""
        for t in svc.running():
            mt = ecs_backend().tasks.get(svc.cluster_name, {}).get(t.arn)
            if mt is not None and mt.desired_status == "STOPPED":
                self.stop(
                    svc,
                    t,
                    stop_code="UserInitiated",
                    reason=mt.stopped_reason or "Task stopped by user",
                    mirror=False,
                )
                self.lost(svc)

    def lose_zone(self, svc: SimService, az: str) -> None:
        """A zone loses the service's tasks; their replacements land lopsidedly in one other
        zone (``impaired_az``) until the service is back at its desired count."""
        if az not in svc.azs:
            raise SimulatorError(f"{svc.name} runs in {', '.join(svc.azs)}, not in {az}")
        victims = [t for t in svc.running() if t.az == az]
        self.timeline.add("note", f"{svc.name}: zone {az} loses {len(victims)} task(s)")
        svc.impaired_az = az
        for t in victims:
            self.stop(
                svc, t, stop_code="TaskFailedToStart", reason=f"Host in {az} became unavailable"
            )
        self.lost(svc)

    def instance_drained(self, instance_id: str) -> None:
        """An instance left its group: the tasks on it stop, and are replaced elsewhere."""
        for svc in self.state.services.values():
            for t in [t for t in svc.running() if t.instance_id == instance_id]:
                self.stop(
                    svc,
                    t,
                    stop_code="ServiceSchedulerInitiated",
                    reason=f"Container instance {instance_id} was drained and terminated",
                )
                self.lost(svc)

    def interrupt_spot(self) -> None:
        """Fargate Spot ran out: its running tasks are interrupted, and replaced."""
        for svc in self.state.services.values():
            spot = [t for t in svc.running() if t.provider == "FARGATE_SPOT"]
            for t in spot:
                self.stop(
                    svc,
                    t,
                    stop_code="SpotInterruption",
                    reason="Your Spot Task was interrupted.",
                )
            if spot:
                self.lost(svc)

    # ------------------------------------------------------------------ desired count
    def scale(self, svc: SimService, desired: int) -> bool:
        """Start or stop tasks to match the desired count (lost tasks once they are due);
        True if any task was started or stopped."""
        running = svc.running()
        changed = False
        if len(running) < desired and time.monotonic() >= svc.replace_after:
            for _ in range(desired - len(running)):
                if self.start(svc) is None:
                    break
                changed = True
            svc.impaired_az = None
        elif len(running) > desired:
            changed = True
            for t in self._most_loaded_first(svc)[: len(running) - desired]:
                self.stop(
                    svc,
                    t,
                    stop_code="ServiceSchedulerInitiated",
                    reason="Scaling activity initiated by (deployment " + svc.deployment_id + ")",
                )
        return changed

    def _most_loaded_first(self, svc: SimService) -> list[SimTask]:
        spread = svc.spread()
        return sorted(svc.running(), key=lambda t: (-spread[t.az], t.created), reverse=False)

    def sync_counts(self, svc: SimService) -> None:
        """moto's running and pending counts of the service, as ECS reports them."""
        ms = moto_service(svc)
        ms.running_count = len(svc.running())
        ms.pending_count = 0

    # ------------------------------------------------------------------ AZ rebalancing
    def rebalance(self, svc: SimService, ms: Service) -> None:
        """ECS's own AZ rebalancing, for an eligible service that has it on: start a task in
        the least loaded zone, then stop one in the most loaded (one move at a time)."""
        if getattr(ms, "availability_zone_rebalancing", None) != "ENABLED" or svc.impaired_az:
            return
        strategy = placement_strategy(ms)
        eligible = not svc.ec2 or (
            bool(strategy)
            and strategy[0].get("type") == "spread"
            and "availability-zone" in str(strategy[0].get("field"))
        )
        if not eligible:
            return
        zones = self.capacity.zones() if svc.ec2 else svc.azs
        zones = [z for z in zones if z in svc.azs] or zones
        spread = dict.fromkeys(zones, 0)
        for t in svc.running():
            spread[t.az] = spread.get(t.az, 0) + 1
        if not spread or max(spread.values()) - min(spread.values()) <= 1:
            return
        low = min(spread, key=lambda z: (spread[z], z))
        high = max(spread, key=lambda z: (spread[z], z))
        if svc.ec2 and isinstance(self.capacity.place_ec2(svc, low), str):
            return  # no room in that zone: ECS cannot rebalance into it
        self.timeline.add("state", f"{svc.name}: ECS rebalances a task from {high} to {low}")
        if self.start(svc, zone=low) is None:
            return
        victim = min((t for t in svc.running() if t.az == high), key=lambda t: t.created)
        self.stop(
            svc,
            victim,
            stop_code="ServiceSchedulerInitiated",
            reason=REBALANCING_REASON.format(svc.deployment_id),
        )
