"""Capacity: where a service's tasks can run, as ECS and its capacity providers decide.

* EC2: the Auto Scaling groups behind a cluster's capacity providers, their instances
  registered as container instances (zone, CPU and memory by instance size) with their
  remaining resources kept equal to registered minus their tasks; an EC2 task is placed on
  an instance with room, by the service's placement strategy.
* Fargate: a task goes to FARGATE or FARGATE_SPOT by the strategy's base and weights;
  Fargate Spot can run out.
* Application Auto Scaling keeps a service's desired count inside its scalable target.
* ``ECS Service Action`` events: placement failures (once per failure) and steady states.

This module starts and stops no task: an instance that leaves its group is reported to the
caller (``drained``), which stops its tasks.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto loads only where its backends are read

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.server import ACCOUNT_ID, REGION, Clients
from sandbox.simulator.bus import EventQueue, iso, make_event
from sandbox.simulator.state import (
    FARGATE_PROVIDERS,
    SimInstance,
    SimService,
    SimState,
    SimulatorError,
    ecs_backend,
    moto_service,
)
from sandbox.timeline import Timeline

if TYPE_CHECKING:
    from moto.ecs.models import Service

#: CPU units and MiB an ECS container instance registers, by instance size.
INSTANCE_SIZES = {"medium": (1024, 3840), "large": (2048, 7680), "xlarge": (4096, 15_360)}


class Capacity:
    def __init__(
        self, clients: Clients, state: SimState, queue: EventQueue, timeline: Timeline
    ) -> None:
        self.clients = clients
        self.state = state
        self.queue = queue
        self.timeline = timeline
        #: Auto Scaling group name -> the cluster (name) whose capacity provider it backs
        self.asg_clusters: dict[str, str] = {}
        #: False: Fargate Spot has no capacity (placements on FARGATE_SPOT fail)
        self.fargate_spot_available = True

    # ------------------------------------------------------------------ EC2 instances
    def start(self, cluster_arns: list[str], *, drained: Callable[[str], None]) -> None:
        """Each cluster's Auto Scaling groups (by its capacity providers) start with one
        instance per zone (within max): what managed scaling would have launched for the
        stack's EC2 services."""
        ecs = self.clients("ecs")
        autoscaling = self.clients("autoscaling")
        for cluster_arn in cluster_arns:
            described = ecs.describe_clusters(clusters=[cluster_arn])["clusters"]
            names = (
                [
                    n
                    for n in (described[0].get("capacityProviders") or [])
                    if described and n not in FARGATE_PROVIDERS
                ]
                if described
                else []
            )
            if not names:
                continue
            for cp in ecs.describe_capacity_providers(capacityProviders=names)["capacityProviders"]:
                arn = (cp.get("autoScalingGroupProvider") or {}).get("autoScalingGroupArn", "")
                asg = arn.split("autoScalingGroupName/", 1)[-1]
                if asg:
                    self.asg_clusters[asg] = cluster_arn.rsplit("/", 1)[-1]
        for name in sorted(self.asg_clusters):
            g = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[name])[
                "AutoScalingGroups"
            ]
            if not g:
                continue
            want = min(
                int(g[0]["MaxSize"]),
                max(int(g[0]["DesiredCapacity"]), len(g[0]["AvailabilityZones"])),
            )
            if want != int(g[0]["DesiredCapacity"]):
                autoscaling.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=want)
        self.sync_instances(drained=drained)

    def sync_instances(self, *, drained: Callable[[str], None]) -> None:
        """Instances follow their Auto Scaling groups: a new one registers with the cluster
        (the ECS agent's job); a gone one is deregistered and ``drained(instance_id)`` is
        called for it (its tasks stop and are replaced)."""
        if not self.asg_clusters:
            return
        from moto.autoscaling.models import autoscaling_backends

        backend = autoscaling_backends[ACCOUNT_ID][REGION]
        ecs = ecs_backend()
        live: set[str] = set()
        for name, cluster in self.asg_clusters.items():
            group = backend.autoscaling_groups.get(name)
            if group is None:
                continue
            for state in group.instance_states:
                if state.lifecycle_state not in ("InService", "Pending"):
                    continue
                iid = state.instance.id
                live.add(iid)
                if iid in self.state.instances:
                    continue
                ci = ecs.register_container_instance(cluster, iid)
                cpu, memory = INSTANCE_SIZES.get(
                    str(state.instance.instance_type).rsplit(".", 1)[-1], (2048, 7680)
                )
                for res in (*ci.registered_resources, *ci.remaining_resources):
                    if res["name"] == "CPU":
                        res["integerValue"] = cpu
                    elif res["name"] == "MEMORY":
                        res["integerValue"] = memory
                az = getattr(state.instance.placement, "zone", None) or str(state.availability_zone)
                self.state.instances[iid] = SimInstance(
                    iid, az, name, cluster, ci.container_instance_arn, cpu, memory
                )
                self.timeline.add(
                    "state", f"instance {iid} of {name} in {az} joined {cluster} ({cpu} CPU)"
                )
        for iid in [i for i in self.state.instances if i not in live]:
            gone = self.state.instances.pop(iid)
            self.timeline.add("state", f"instance {iid} in {gone.az} left {gone.cluster_name}")
            ci_id = gone.container_instance_arn.rsplit("/", 1)[-1]
            ecs.container_instances.get(gone.cluster_name, {}).pop(ci_id, None)
            drained(iid)
        self.sync_instance_resources()

    def sync_instance_resources(self) -> None:
        """Container instances' remaining CPU and memory, as ECS reports them."""
        if not self.state.instances:
            return
        used = self._used()
        cis = ecs_backend().container_instances
        for inst in self.state.instances.values():
            ci = cis.get(inst.cluster_name, {}).get(inst.container_instance_arn.rsplit("/", 1)[-1])
            if ci is None:
                continue
            cpu, memory = used[inst.instance_id]
            for res in ci.remaining_resources:
                if res["name"] == "CPU":
                    res["integerValue"] = inst.cpu - cpu
                elif res["name"] == "MEMORY":
                    res["integerValue"] = inst.memory - memory
            ci.running_tasks_count = self.state.tasks_on(inst.instance_id)

    def lose_instance(self, az: str) -> None:
        """Managed scaling scales in: the instance in ``az`` is terminated (the group's
        desired capacity goes down by one); the next sync_instances drains it."""
        victims = [i for i in self.state.instances.values() if i.az == az]
        if not victims:
            raise SimulatorError(f"no instance in {az} (instances: {self.instance_zones()})")
        victim = victims[0]
        self.timeline.add("note", f"{victim.asg}: scale-in terminates {victim.instance_id} in {az}")
        self.clients("autoscaling").terminate_instance_in_auto_scaling_group(
            InstanceId=victim.instance_id, ShouldDecrementDesiredCapacity=True
        )

    def instance_zones(self) -> dict[str, int]:
        return dict(sorted(Counter(i.az for i in self.state.instances.values()).items()))

    def zones(self) -> list[str]:
        """The zones the cluster's instances are in."""
        return sorted({i.az for i in self.state.instances.values()})

    # ------------------------------------------------------------------ placement
    def place_ec2(self, svc: SimService, zone: str | None = None) -> SimInstance | str:
        """The instance ECS would place the service's next task on, or the failure reason
        (``RESOURCE:CPU`` / ``RESOURCE:MEMORY``)."""
        used = self._used()
        fits_cpu = [
            i
            for i in self.state.instances.values()
            if i.cluster_name == svc.cluster_name and i.cpu - used[i.instance_id][0] >= svc.cpu
        ]
        fits = [i for i in fits_cpu if i.memory - used[i.instance_id][1] >= svc.memory]
        if zone is not None:
            fits = [i for i in fits if i.az == zone]
        elif svc.impaired_az:
            fits = [i for i in fits if i.az != svc.impaired_az] or fits
        if not fits:
            return "RESOURCE:CPU" if not fits_cpu else "RESOURCE:MEMORY"
        mine = Counter(t.instance_id for t in svc.running())
        per_zone = Counter(t.az for t in svc.running())
        strategy = placement_strategy(moto_service(svc))
        kind = [p.get("type") for p in strategy]
        fields = [p.get("field") for p in strategy]
        if kind[:1] == ["binpack"]:
            return min(fits, key=lambda i: (i.memory - used[i.instance_id][1], i.instance_id))
        if kind[:1] == ["spread"] and "availability-zone" in str(fields[0]):
            return min(fits, key=lambda i: (per_zone[i.az], mine[i.instance_id], i.az))
        return min(fits, key=lambda i: (mine[i.instance_id], per_zone[i.az], i.az))

    def _used(self) -> dict[str, tuple[int, int]]:
        """Instance id -> (CPU units, MiB) its running tasks take."""
        out: dict[str, tuple[int, int]] = dict.fromkeys(self.state.instances, (0, 0))
        for svc in self.state.services.values():
            for t in svc.running():
                if t.instance_id in out:
                    cpu, mem = out[t.instance_id]
                    out[t.instance_id] = (cpu + svc.cpu, mem + svc.memory)
        return out

    def ec2_provider(self, svc: SimService) -> str | None:
        """The service's EC2 capacity provider (the first non-Fargate one of its strategy)."""
        names = [
            i.get("capacityProvider")
            for i in self._strategy(svc)
            if i.get("capacityProvider") not in FARGATE_PROVIDERS
        ]
        return str(names[0]) if names else None

    def fargate_provider(self, svc: SimService) -> str:
        """FARGATE or FARGATE_SPOT for the next task, by the strategy's base and weights."""
        strategy = [
            i for i in self._strategy(svc) if i.get("capacityProvider") in FARGATE_PROVIDERS
        ]
        if not strategy:
            return "FARGATE"
        on = Counter(t.provider for t in svc.running())
        for item in strategy:
            if on[item["capacityProvider"]] < int(item.get("base") or 0):
                return str(item["capacityProvider"])
        total = sum(int(i.get("weight") or 0) for i in strategy) or 1
        count = len(svc.running()) + 1
        return str(
            min(
                strategy,
                key=lambda i: (
                    on[i["capacityProvider"]] - count * int(i.get("weight") or 0) / total,
                    -int(i.get("weight") or 0),
                ),
            )["capacityProvider"]
        )

    def _strategy(self, svc: SimService) -> list[dict[str, Any]]:
        return list(getattr(moto_service(svc), "capacity_provider_strategy", None) or [])

    def placement_failed(self, svc: SimService, reason: str, provider: str | None = None) -> None:
        """ECS reports that a task cannot be placed, once per failure (not on every retry)."""
        if svc.placement_failure == reason:
            return
        svc.placement_failure = reason
        self.timeline.add("state", f"{svc.name}: a task cannot be placed ({reason})")
        providers = [provider] if provider else [p for p in [self.ec2_provider(svc)] if p]
        self.service_event(
            svc,
            "SERVICE_TASK_PLACEMENT_FAILURE",
            reason=reason,
            capacity_providers=providers,
        )

    # ------------------------------------------------------------------ Fargate Spot
    def set_spot_capacity(self, *, available: bool) -> None:
        """Fargate Spot runs out (placements on it fail) or comes back (the failures it
        caused are cleared, so the next placement is tried)."""
        self.fargate_spot_available = available
        self.timeline.add(
            "note",
            "Fargate Spot has no capacity" if not available else "Fargate Spot capacity is back",
        )
        if available:
            for svc in self.state.services.values():
                if svc.placement_failure == "RESOURCE:FARGATE":
                    svc.placement_failure = None

    # ------------------------------------------------------------------ scalable targets
    def apply_scalable_target(self, svc: SimService, ms: Service) -> None:
        """Application Auto Scaling keeps a service's desired count inside its scalable
        target's bounds (a raised minimum scales the service out)."""
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        backend = applicationautoscaling_backends[ACCOUNT_ID][REGION]
        rid = f"service/{svc.cluster_name}/{svc.name}"
        target = backend.targets.get("ecs:service:DesiredCount", {}).get(rid)
        if target is None or target.min_capacity is None or target.max_capacity is None:
            return
        desired = int(ms.desired_count or 0)
        bounded = max(int(target.min_capacity), min(int(target.max_capacity), desired))
        if bounded != desired:
            self.timeline.add(
                "state",
                f"{svc.name}: Application Auto Scaling sets desired count {desired} -> {bounded} "
                f"(bounds {target.min_capacity}-{target.max_capacity})",
            )
            ms.desired_count = bounded

    # ------------------------------------------------------------------ service actions
    def service_event(
        self,
        svc: SimService,
        event_name: str,
        *,
        reason: str | None = None,
        capacity_providers: list[str] | None = None,
    ) -> None:
        """Put an ``ECS Service Action`` on the queue, shaped as ECS sends it."""
        detail: dict[str, Any] = {
            "eventType": "ERROR" if "FAILURE" in event_name else "INFO",
            "eventName": event_name,
            "clusterArn": svc.cluster_arn,
            "createdAt": iso(millis=True),
        }
        if capacity_providers:
            detail["capacityProviderArns"] = [
                f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:capacity-provider/{p}"
                for p in capacity_providers
            ]
        if reason:
            detail["reason"] = reason
        self.queue.put(
            make_event("aws.ecs", "ECS Service Action", detail, [svc.arn]),
            label=f"ECS Service Action {svc.name}: {event_name}" + (f" {reason}" if reason else ""),
        )


def placement_strategy(ms: Service) -> list[dict[str, Any]]:
    """The service's placement strategy, as UpdateService set it on moto's service."""
    return list(getattr(ms, "placement_strategy", None) or [])
