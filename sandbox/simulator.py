"""THE SIMULATOR: everything the sandbox fakes because moto does not do it.

moto stores ECS services, ECR images and CloudWatch alarms, but nothing *happens* to
them: services never run tasks, deployments never finish, pushes emit no events, scans
never complete, alarms change state silently. This module supplies exactly those
behaviours, in the sandbox process, next to moto's in-process backends:

* **Tasks**: each service runs its desired count of tasks, spread over the Availability
  Zones of its subnets (each task carries ``availabilityZone``). Tasks are mirrored into
  moto's ECS backend so ``ListTasks`` (filtered by service, which moto ignores on its
  own) and ``DescribeTasks`` answer as ECS would. Starts and stops emit
  ``ECS Task State Change``.
* **Deployments**: a new task definition on a service (moto's ``UpdateService`` is made to
  answer with the new PRIMARY deployment, as ECS does) becomes a deployment
  (``SERVICE_DEPLOYMENT_IN_PROGRESS``) that reaches ``COMPLETED``, or, when the image
  digest was pushed as crashing, ``FAILED`` by the circuit breaker; with rollback on,
  ECS's rollback follows (an ``IN_PROGRESS`` deployment "rolling back to" the previous
  one, then ``COMPLETED``). The service's ``deployments`` in moto show the same.
* **ECR**: a push (``PutImage`` with a generated manifest) emits ``ECR Image Action``;
  then the scan result with the given findings, as ``ECR Image Scan`` (basic) or
  ``Inspector2 Scan`` (enhanced) according to the registry's scanning configuration and
  the repository's scan-on-push setting.
* **CloudWatch**: ``SetAlarmState`` plus the ``CloudWatch Alarm State Change`` event.

Every event has the shape AWS sends (see shared/reference-events) and goes through the
router, like EventBridge. Nothing in ``functions/`` knows any of this.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

import fnmatch
import hashlib
import json
import math
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox import moto_adjustments as adj
from sandbox.deploy import DeployedStack
from sandbox.router import Router, RouteResult, normalize_event
from sandbox.server import ACCOUNT_ID, REGION, Clients
from sandbox.timeline import Timeline

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
MAX_STEPS = 500  # bound on events produced by one stimulus (a loop guard)


class SimulatorError(ValueError):
    """A stimulus the simulator cannot apply (unknown repository, service, alarm...)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(dt: datetime | None = None, *, millis: bool = False) -> str:
    dt = dt or _now()
    if millis:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_event(
    source: str, detail_type: str, detail: dict[str, Any], resources: list[str] | None = None
) -> dict[str, Any]:
    """An EventBridge event envelope as AWS services put them on the default bus."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": _iso(),
        "region": REGION,
        "resources": resources or [],
        "detail": detail,
    }


def image_digest(image: str) -> str | None:
    return image.split("@", 1)[1] if "@sha256:" in image else None


#: A replacement for a task lost outside a deployment (a zone's loss, StopTask, a drained
#: instance, a Spot interruption) starts this long after the stop's events were delivered.
#: ECS takes tens of seconds; 1.2 s lets a 1 s debounce window (the demo config's) pass.
REPLACEMENT_SECONDS = 1.2
#: CPU units and MiB an ECS container instance registers, by instance size.
INSTANCE_SIZES = {"medium": (1024, 3840), "large": (2048, 7680), "xlarge": (4096, 15_360)}
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
REBALANCING_REASON = "Availability-zone rebalancing initiated by (deployment {})"


@dataclass
class SimTask:
    arn: str
    task_definition_arn: str
    az: str
    subnet: str | None
    deployment_id: str
    status: str = "RUNNING"
    version: int = 1
    created: datetime = field(default_factory=_now)
    #: FARGATE / FARGATE_SPOT, or the EC2 capacity provider
    provider: str | None = None
    instance_id: str | None = None


@dataclass
class SimInstance:
    """An EC2 instance of an Auto Scaling group, registered with the cluster."""

    instance_id: str
    az: str
    asg: str
    cluster_name: str
    container_instance_arn: str
    cpu: int
    memory: int


@dataclass
class SimService:
    arn: str
    name: str
    cluster_arn: str
    task_definition: str
    deployment_id: str
    azs: list[str]
    subnets: dict[str, str]  # az -> subnet
    rollback: bool = True
    impaired_az: str | None = None
    tasks: list[SimTask] = field(default_factory=list)
    ec2: bool = False
    cpu: int = 0
    memory: int = 0
    #: monotonic time before which lost tasks are not replaced
    replace_after: float = 0.0
    #: the reason of the placement failure reported and not yet resolved
    placement_failure: str | None = None
    steady: bool = True

    @property
    def cluster_name(self) -> str:
        return self.cluster_arn.rsplit("/", 1)[-1]

    def running(self) -> list[SimTask]:
        return [t for t in self.tasks if t.status == "RUNNING"]

    def spread(self) -> dict[str, int]:
        counts = dict.fromkeys(self.azs, 0)
        for t in self.running():
            counts[t.az] = counts.get(t.az, 0) + 1
        return counts


@dataclass
class PushResult:
    repository: str
    tag: str | None
    digest: str
    scan: str | None
    routes: list[RouteResult]
    events: list[dict[str, Any]]


class Simulator:
    def __init__(
        self,
        clients: Clients,
        router: Router,
        stacks: list[DeployedStack],
        timeline: Timeline | None = None,
    ) -> None:
        self.clients = clients
        self.router = router
        self.stacks = stacks
        self.timeline = timeline or Timeline()
        self.services: dict[str, SimService] = {}
        self.crashing: set[str] = set()
        self.emitted: list[dict[str, Any]] = []
        self._queue: list[Any] = []  # events, and steps (callables) between them
        self._lock = threading.RLock()
        self._draining = False
        self._routes: list[RouteResult] = []
        self.instances: dict[str, SimInstance] = {}
        self.asg_clusters: dict[str, str] = {}  # ASG name -> cluster name
        #: False: Fargate Spot has no capacity (placements on FARGATE_SPOT fail)
        self.fargate_spot_available = True
        self.replacement_seconds = REPLACEMENT_SECONDS
        #: True: alarm events carry ``alarmTags`` (CloudWatch's alarm tag propagation);
        #: False (AWS's default): they do not, and capacity-events reads the tags itself
        self.propagate_alarm_tags = False

    # ------------------------------------------------------------------ moto access
    @staticmethod
    def _ecs_backend() -> Any:
        from moto.ecs.models import ecs_backends

        return ecs_backends[ACCOUNT_ID][REGION]

    def _moto_service(self, svc: SimService) -> Any:
        return self._ecs_backend()._get_service(svc.cluster_name, svc.name)

    # ------------------------------------------------------------------ start
    def start(self) -> Simulator:
        """Find the stacks' services and bring each to a steady state with its tasks running."""
        adj.patch_backends()
        ecs = self.clients("ecs")
        ec2 = self.clients("ec2")
        self._start_capacity()
        clusters = {
            arn for s in self.stacks for arn in s.resources_of("AWS::ECS::Cluster").values()
        }
        for cluster in sorted(clusters):
            arns = ecs.list_services(cluster=cluster, maxResults=100).get("serviceArns", [])
            for i in range(0, len(arns), 10):
                for d in ecs.describe_services(cluster=cluster, services=arns[i : i + 10])[
                    "services"
                ]:
                    subnets = (
                        (d.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}
                    ).get("subnets", [])
                    by_az: dict[str, str] = {}
                    if subnets:
                        for sn in ec2.describe_subnets(SubnetIds=subnets)["Subnets"]:
                            by_az.setdefault(sn["AvailabilityZone"], sn["SubnetId"])
                    azs = sorted(by_az) or [f"{REGION}a", f"{REGION}b"]
                    breaker = (d.get("deploymentConfiguration") or {}).get(
                        "deploymentCircuitBreaker"
                    ) or {}
                    dep = (d.get("deployments") or [{}])[0].get(
                        "id"
                    ) or f"ecs-svc/{secrets.randbelow(10**18)}"
                    td = ecs.describe_task_definition(taskDefinition=d["taskDefinition"])[
                        "taskDefinition"
                    ]
                    svc = SimService(
                        d["serviceArn"],
                        d["serviceName"],
                        d["clusterArn"],
                        d["taskDefinition"],
                        dep,
                        azs,
                        by_az,
                        rollback=bool(breaker.get("enable") and breaker.get("rollback", True)),
                        ec2=_runs_on_ec2(d, td),
                        cpu=_task_size(td)[0],
                        memory=_task_size(td)[1],
                    )
                    self.services[svc.arn] = svc
                    for _ in range(int(d.get("desiredCount") or 0)):
                        self._start_task(svc, quiet=True)
                    self._write_deployments(
                        svc,
                        [
                            self._deployment(
                                svc,
                                svc.deployment_id,
                                svc.task_definition,
                                "PRIMARY",
                                "COMPLETED",
                                f"ECS deployment {svc.deployment_id} completed.",
                            )
                        ],
                    )
        return self

    def service(self, name_or_arn: str) -> SimService:
        for svc in self.services.values():
            if name_or_arn in (svc.arn, svc.name):
                return svc
        raise SimulatorError(
            f"no service named {name_or_arn!r} in the sandbox "
            f"(known: {', '.join(sorted(s.name for s in self.services.values())) or 'none'})"
        )

    # ------------------------------------------------------------------ routing
    def emit(self, event: dict[str, Any], *, label: str | None = None) -> list[RouteResult]:
        """Put one event on the bus; route it and everything it causes. Returns all routes."""
        event = normalize_event(event)
        with self._lock:
            start = len(self._routes)
            self._enqueue(event, label=label)
            self._drain()
            return self._routes[start:]

    def settle(self) -> list[RouteResult]:
        """Catch up with changes made outside the bus (e.g. `autopilot invoke` against the
        sandbox): start their deployments and route what follows."""
        with self._lock:
            start = len(self._routes)
            self.observe()
            self._drain()
            return self._routes[start:]

    def tick(self) -> list[RouteResult]:
        """Fire every schedule rule once (EventBridge's clock: e.g. task-events' re-check
        rule), then route whatever follows until the bus is quiet. Scenes and tests call it
        when they want the schedule to come, e.g. after a debounce window."""
        with self._lock:
            start = len(self._routes)
            for rule in self.router.schedules:
                event = rule.scheduled_event()
                self._enqueue(event, label=f"Scheduled Event of {rule.name} ({rule.schedule})")
            self._drain()
            return self._routes[start:]

    def _enqueue(self, event: dict[str, Any], *, label: str | None = None) -> None:
        self._queue.append(event)
        self.emitted.append(event)
        self.timeline.add(
            "event",
            label or describe_event(event),
            id=event.get("id"),
            detail_type=event.get("detail-type"),
        )

    def _enqueue_step(self, step: Any) -> None:
        """A state change that happens after the events queued before it are delivered."""
        self._queue.append(step)

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        try:
            steps = 0
            while True:
                if not self._queue:
                    wait = self.pending_replacements()
                    if wait is None:
                        break
                    time.sleep(wait + 0.01)
                    self.observe()
                    continue
                steps += 1
                if steps > MAX_STEPS:
                    raise RuntimeError(
                        "the simulator produced more than 500 events for one stimulus: a loop?"
                    )
                event = self._queue.pop(0)
                if callable(event):
                    event()
                    continue
                for res in self.router.route(event):
                    self._routes.append(res)
                    self._record_route(res)
                self.observe()
        finally:
            self._draining = False

    def _record_route(self, res: RouteResult) -> None:
        if not res.matched:
            self.timeline.add(
                "unmatched", f"no rule matched {res.detail_type} ({res.event_id[:8]})"
            )
            return
        if not res.ok:
            where = "dead-letter queue" if res.dead_lettered else "nowhere (no DLQ)"
            self.timeline.add(
                "failed",
                f"{res.function} failed {res.attempts}x: {res.error} -> event to {where}",
                function=res.function,
                error=res.error,
            )
            return
        self.timeline.add(
            "route",
            f"{res.function} via {res.rule}: {summarize_report(res.report)}",
            function=res.function,
            rule=res.rule,
            report=res.report,
        )

    # ------------------------------------------------------------------ observe
    def observe(self) -> None:
        """Compare moto's services with what runs; start deployments, replace and scale tasks;
        EC2 capacity follows its Auto Scaling groups; steady states and ECS's own AZ
        rebalancing as ECS does them."""
        self._sync_instances()
        for svc in list(self.services.values()):
            try:
                ms = self._moto_service(svc)
            except Exception:
                continue
            # tasks stopped through the API (StopTask) become STOPPED here, and are replaced
            for t in svc.running():
                mt = self._ecs_backend().tasks.get(svc.cluster_name, {}).get(t.arn)
                if mt is not None and mt.desired_status == "STOPPED":
                    self._stop_task(
                        svc,
                        t,
                        stop_code="UserInitiated",
                        reason=mt.stopped_reason or "Task stopped by user",
                        mirror=False,
                    )
                    self._lost(svc)
            primary = (ms.deployments or [{}])[0]
            forced = primary.get("rolloutState") == "IN_PROGRESS" and primary.get("id") not in (
                svc.deployment_id,
                None,
            )
            if ms.task_definition != svc.task_definition or forced:
                self._deploy(svc, ms.task_definition)
                continue
            self._apply_scalable_target(svc, ms)
            desired = int(ms.desired_count or 0)
            running = svc.running()
            changed = False
            if len(running) < desired and time.monotonic() >= svc.replace_after:
                for _ in range(desired - len(running)):
                    if self._start_task(svc) is None:
                        break
                    changed = True
                svc.impaired_az = None
            elif len(running) > desired:
                changed = True
                for t in self._most_loaded_first(svc)[: len(running) - desired]:
                    self._stop_task(
                        svc,
                        t,
                        stop_code="ServiceSchedulerInitiated",
                        reason="Scaling activity initiated by (deployment "
                        + svc.deployment_id
                        + ")",
                    )
            self._sync_counts(svc)
            in_progress = primary.get("rolloutState") == "IN_PROGRESS"
            if len(svc.running()) != desired or in_progress:
                svc.steady = False
            elif not svc.steady:
                svc.steady = True
                self._service_event(svc, "SERVICE_STEADY_STATE")
            elif not changed:
                self._native_rebalance(svc, ms)

    def _lost(self, svc: SimService) -> None:
        """A task was lost outside a deployment: ECS replaces it a little later (counted
        from when the events of the moment have been delivered: see pending_replacements)."""
        svc.replace_after = math.inf

    def pending_replacements(self) -> float | None:
        """Seconds until the next lost task is due to be replaced (None: none is pending).
        Called when the bus is quiet: replacements pending since then become due
        ``replacement_seconds`` from now."""
        now = time.monotonic()
        for svc in self.services.values():
            if svc.replace_after == math.inf:
                svc.replace_after = now + self.replacement_seconds
        due = [
            s.replace_after
            for s in self.services.values()
            if s.replace_after > now and s.placement_failure is None
        ]
        return max(0.0, min(due) - now) if due else None

    def _most_loaded_first(self, svc: SimService) -> list[SimTask]:
        spread = svc.spread()
        return sorted(svc.running(), key=lambda t: (-spread[t.az], t.created), reverse=False)

    # ------------------------------------------------------------------ deployments
    def _deployment(  # noqa: PLR0917 - internal step
        self,
        svc: SimService,
        dep_id: str,
        td: str,
        status: str,
        rollout: str,
        reason: str,
        running: int | None = None,
    ) -> dict[str, Any]:
        ms = self._moto_service(svc)
        now = _now()
        return {
            "id": dep_id,
            "status": status,
            "taskDefinition": td,
            "desiredCount": ms.desired_count,
            "pendingCount": 0,
            "runningCount": ms.desired_count if running is None else running,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": ms.launch_type,
            "capacityProviderStrategy": getattr(ms, "capacity_provider_strategy", None) or [],
            "networkConfiguration": getattr(ms, "network_configuration", None) or None,
            "rolloutState": rollout,
            "rolloutStateReason": reason,
        }

    def _write_deployments(self, svc: SimService, deployments: list[dict[str, Any]]) -> None:
        ms = self._moto_service(svc)
        ms.deployments = [{k: v for k, v in d.items() if v is not None} for d in deployments]

    def _deployment_event(
        self, svc: SimService, name: str, dep_id: str, reason: str
    ) -> dict[str, Any]:
        return make_event(
            "aws.ecs",
            "ECS Deployment State Change",
            {
                "eventType": "ERROR" if name.endswith("FAILED") else "INFO",
                "eventName": name,
                "deploymentId": dep_id,
                "updatedAt": _iso(millis=True),
                "reason": reason,
            },
            [svc.arn],
        )

    def _deploy(self, svc: SimService, new_td: str) -> None:
        """A new task definition on a service: one deployment, told step by step.

        Each step changes the service's state and then puts the event that AWS would send
        at that moment on the queue, so a handler sees the state of its own moment.
        """
        old_td, old_dep = svc.task_definition, svc.deployment_id
        ms = self._moto_service(svc)
        primary = (ms.deployments or [{}])[0]
        # moto's UpdateService has already opened the deployment (the backend patch
        # ecs-update-service-deployment in sandbox/moto_adjustments.py)
        dep = (
            primary.get("id")
            if primary.get("taskDefinition") == new_td and primary.get("id") != old_dep
            else None
        )
        dep = dep or f"ecs-svc/{secrets.randbelow(10**18)}"
        svc.task_definition, svc.deployment_id = new_td, dep
        self.timeline.add("state", f"{svc.name}: deployment {dep} to {_td_label(new_td)} started")
        self._write_deployments(
            svc,
            [
                self._deployment(
                    svc,
                    dep,
                    new_td,
                    "PRIMARY",
                    "IN_PROGRESS",
                    f"ECS deployment {dep} in progress.",
                    running=0,
                ),
                self._deployment(
                    svc,
                    old_dep,
                    old_td,
                    "ACTIVE",
                    "COMPLETED",
                    f"ECS deployment {old_dep} completed.",
                ),
            ],
        )
        self._enqueue(
            self._deployment_event(
                svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", dep, f"ECS deployment {dep} in progress."
            )
        )
        crashing = sorted(d for d in self._digests(new_td) if d in self.crashing)
        if crashing:
            self._enqueue_step(lambda: self._fail(svc, dep, new_td, old_dep, old_td, crashing[0]))
        else:
            self._enqueue_step(lambda: self._complete(svc, dep, new_td))

    def _complete(self, svc: SimService, dep: str, new_td: str) -> None:
        if svc.deployment_id != dep:
            return  # superseded by a newer deployment
        old_tasks = [t for t in svc.running() if t.deployment_id != dep]
        for _ in old_tasks:
            self._start_task(svc, deployment_id=dep, task_definition=new_td)
        for t in old_tasks:
            self._stop_task(
                svc,
                t,
                stop_code="ServiceSchedulerInitiated",
                reason=f"Task stopped by ECS deployment {dep}",
            )
        self._write_deployments(
            svc,
            [
                self._deployment(
                    svc, dep, new_td, "PRIMARY", "COMPLETED", f"ECS deployment {dep} completed."
                )
            ],
        )
        self.timeline.add(
            "state",
            f"{svc.name}: deployment {dep} COMPLETED, "
            f"{len(svc.running())} tasks on {_td_label(new_td)}",
        )
        self._enqueue(
            self._deployment_event(
                svc, "SERVICE_DEPLOYMENT_COMPLETED", dep, f"ECS deployment {dep} completed."
            )
        )

    def _fail(  # noqa: PLR0917 - internal step
        self, svc: SimService, dep: str, new_td: str, old_dep: str, old_td: str, digest: str
    ) -> None:
        if svc.deployment_id != dep:
            return
        # the new tasks start and exit: the circuit breaker counts them and trips
        for _ in range(min(3, max(1, int(self._moto_service(svc).desired_count or 1)))):
            t = self._start_task(svc, quiet=True, deployment_id=dep, task_definition=new_td)
            if t is None:
                break
            self._stop_task(
                svc,
                t,
                stop_code="EssentialContainerExited",
                reason="Essential container in task exited",
                exit_code=1,
            )
        failed_reason = "ECS deployment circuit breaker: tasks failed to start."
        if not svc.rollback:
            self._write_deployments(
                svc,
                [
                    self._deployment(
                        svc, dep, new_td, "PRIMARY", "FAILED", failed_reason, running=0
                    ),
                    self._deployment(
                        svc,
                        old_dep,
                        old_td,
                        "ACTIVE",
                        "COMPLETED",
                        f"ECS deployment {old_dep} completed.",
                    ),
                ],
            )
            self.timeline.add(
                "state", f"{svc.name}: {dep} FAILED (crashing image), no automatic rollback"
            )
            self._enqueue(
                self._deployment_event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, failed_reason)
            )
            return
        back = f"ecs-svc/{secrets.randbelow(10**18)}"
        rolling = f"ECS deployment circuit breaker: rolling back to deploymentId {old_dep}."
        # ECS has started the rollback by the time the FAILED event is delivered
        self._moto_service(svc).task_definition = old_td
        svc.task_definition, svc.deployment_id = old_td, back
        self._write_deployments(
            svc,
            [
                self._deployment(svc, back, old_td, "PRIMARY", "IN_PROGRESS", rolling),
                self._deployment(svc, dep, new_td, "ACTIVE", "FAILED", failed_reason, running=0),
            ],
        )
        self.timeline.add(
            "state",
            f"{svc.name}: {dep} FAILED (crashing {digest[:19]}...), "
            f"circuit breaker rolls back to {_td_label(old_td)}",
        )
        self._enqueue(self._deployment_event(svc, "SERVICE_DEPLOYMENT_FAILED", dep, failed_reason))
        self._enqueue(self._deployment_event(svc, "SERVICE_DEPLOYMENT_IN_PROGRESS", back, rolling))
        self._enqueue_step(lambda: self._complete(svc, back, old_td))

    def _digests(self, td_arn: str) -> list[str]:
        td = self.clients("ecs").describe_task_definition(taskDefinition=td_arn)["taskDefinition"]
        return [
            d for c in td.get("containerDefinitions", []) if (d := image_digest(c.get("image", "")))
        ]

    # ------------------------------------------------------------------ tasks
    def _choose_az(self, svc: SimService) -> str:
        spread = svc.spread()
        candidates = [az for az in svc.azs if az != svc.impaired_az] or svc.azs
        if svc.impaired_az:
            # the replacements of a zone's lost tasks land lopsidedly: all in one other zone
            return candidates[0]
        return min(candidates, key=lambda az: (spread.get(az, 0), svc.azs.index(az)))

    def _strategy(self, svc: SimService) -> list[dict[str, Any]]:
        return list(getattr(self._moto_service(svc), "capacity_provider_strategy", None) or [])

    def _fargate_provider(self, svc: SimService) -> str:
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

    def _place_ec2(self, svc: SimService, zone: str | None = None) -> SimInstance | str:
        """The instance ECS would place the service's next task on, or the failure reason
        (``RESOURCE:CPU`` / ``RESOURCE:MEMORY``)."""
        used = self._used()
        fits_cpu = [
            i
            for i in self.instances.values()
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
        kind = [
            p.get("type")
            for p in getattr(self._moto_service(svc), "placement_strategy", None) or []
        ]
        fields = [
            p.get("field")
            for p in getattr(self._moto_service(svc), "placement_strategy", None) or []
        ]
        if kind[:1] == ["binpack"]:
            return min(fits, key=lambda i: (i.memory - used[i.instance_id][1], i.instance_id))
        if kind[:1] == ["spread"] and "availability-zone" in str(fields[0]):
            return min(fits, key=lambda i: (per_zone[i.az], mine[i.instance_id], i.az))
        return min(fits, key=lambda i: (mine[i.instance_id], per_zone[i.az], i.az))

    def _used(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = dict.fromkeys(self.instances, (0, 0))
        for svc in self.services.values():
            for t in svc.running():
                if t.instance_id in out:
                    cpu, mem = out[t.instance_id]
                    out[t.instance_id] = (cpu + svc.cpu, mem + svc.memory)
        return out

    def _start_task(
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
            placed = self._place_ec2(svc, zone)
            if isinstance(placed, str):
                self._placement_failed(svc, placed)
                return None
            instance, az, provider = placed, placed.az, self._ec2_provider(svc)
        else:
            provider = self._fargate_provider(svc)
            if provider == "FARGATE_SPOT" and not self.fargate_spot_available:
                self._placement_failed(svc, "RESOURCE:FARGATE", provider="FARGATE_SPOT")
                return None
            az = zone or self._choose_az(svc)
        svc.placement_failure = None
        td = task_definition or svc.task_definition
        dep = deployment_id or svc.deployment_id
        arn = self._mirror_start(svc, td, az, dep, instance)
        task = SimTask(arn, td, az, svc.subnets.get(az), dep, provider=provider)
        task.instance_id = instance.instance_id if instance else None
        svc.tasks.append(task)
        self._sync_instance_resources()
        if not quiet:
            self._enqueue(
                self._task_event(svc, task),
                label=f"task {arn.rsplit('/', 1)[-1][:8]} RUNNING in {az} ({svc.name}"
                + (f" on {instance.instance_id}" if instance else f", {provider}")
                + ")",
            )
        return task

    def _ec2_provider(self, svc: SimService) -> str | None:
        names = [
            i.get("capacityProvider")
            for i in self._strategy(svc)
            if i.get("capacityProvider") not in FARGATE_PROVIDERS
        ]
        return str(names[0]) if names else None

    def _placement_failed(self, svc: SimService, reason: str, provider: str | None = None) -> None:
        if svc.placement_failure == reason:
            return  # ECS reports a placement failure once, not on every retry
        svc.placement_failure = reason
        self.timeline.add("state", f"{svc.name}: a task cannot be placed ({reason})")
        providers = [provider] if provider else [p for p in [self._ec2_provider(svc)] if p]
        self._service_event(
            svc,
            "SERVICE_TASK_PLACEMENT_FAILURE",
            reason=reason,
            capacity_providers=providers,
        )

    def _service_event(
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
            "createdAt": _iso(millis=True),
        }
        if capacity_providers:
            detail["capacityProviderArns"] = [
                f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:capacity-provider/{p}"
                for p in capacity_providers
            ]
        if reason:
            detail["reason"] = reason
        self._enqueue(
            make_event("aws.ecs", "ECS Service Action", detail, [svc.arn]),
            label=f"ECS Service Action {svc.name}: {event_name}" + (f" {reason}" if reason else ""),
        )

    def _native_rebalance(self, svc: SimService, ms: Any) -> None:
        """ECS's own AZ rebalancing, for an eligible service that has it on: start a task in
        the least loaded zone, then stop one in the most loaded (one move at a time)."""
        if getattr(ms, "availability_zone_rebalancing", None) != "ENABLED" or svc.impaired_az:
            return
        strategy = getattr(ms, "placement_strategy", None) or []
        eligible = not svc.ec2 or (
            bool(strategy)
            and strategy[0].get("type") == "spread"
            and "availability-zone" in str(strategy[0].get("field"))
        )
        if not eligible:
            return
        zones = sorted({i.az for i in self.instances.values()}) if svc.ec2 else svc.azs
        zones = [z for z in zones if z in svc.azs] or zones
        spread = dict.fromkeys(zones, 0)
        for t in svc.running():
            spread[t.az] = spread.get(t.az, 0) + 1
        if not spread or max(spread.values()) - min(spread.values()) <= 1:
            return
        low = min(spread, key=lambda z: (spread[z], z))
        high = max(spread, key=lambda z: (spread[z], z))
        if svc.ec2 and isinstance(self._place_ec2(svc, low), str):
            return  # no room in that zone: ECS cannot rebalance into it
        self.timeline.add("state", f"{svc.name}: ECS rebalances a task from {high} to {low}")
        if self._start_task(svc, zone=low) is None:
            return
        victim = min((t for t in svc.running() if t.az == high), key=lambda t: t.created)
        self._stop_task(
            svc,
            victim,
            stop_code="ServiceSchedulerInitiated",
            reason=REBALANCING_REASON.format(svc.deployment_id),
        )

    def _apply_scalable_target(self, svc: SimService, ms: Any) -> None:
        """Application Auto Scaling keeps a service's desired count inside its scalable
        target's bounds (a raised minimum scales the service out)."""
        from moto.applicationautoscaling.models import applicationautoscaling_backends

        backend = applicationautoscaling_backends[ACCOUNT_ID][REGION]
        rid = f"service/{svc.cluster_name}/{svc.name}"
        target = backend.targets.get("ecs:service:DesiredCount", {}).get(rid)
        if target is None:
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

    def _stop_task(
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
        if mirror:
            mt = self._ecs_backend().tasks.get(svc.cluster_name, {}).get(task.arn)
            if mt is not None:
                mt.desired_status = "STOPPED"
                mt.last_status = "STOPPED"
                mt.stopped_reason = reason
        event = self._task_event(svc, task, stop_code=stop_code, reason=reason, exit_code=exit_code)
        self._enqueue(
            event,
            label=f"task {_short(task.arn)} STOPPED in {task.az} ({svc.name}): {reason}",
        )

    def _mirror_start(
        self, svc: SimService, td_arn: str, az: str, dep: str, instance: SimInstance | None
    ) -> str:
        """Create the task in moto's ECS backend too, with its Availability Zone."""
        from moto.ecs.models import Task

        backend = self._ecs_backend()
        ms = self._moto_service(svc)
        cluster = backend._get_cluster(svc.cluster_name)
        td = backend.describe_task_definition(td_arn)
        net = getattr(ms, "network_configuration", None) or None
        if net and svc.subnets.get(az):
            net = {
                "awsvpcConfiguration": {**net["awsvpcConfiguration"], "subnets": [svc.subnets[az]]}
            }
        task = Task(
            cluster,
            td,
            instance.container_instance_arn if instance else None,
            # the simulator keeps the instances' remaining resources itself (StopTask on a
            # task with an instance subtracts these from moto's copy: nothing)
            {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []} if instance else None,
            backend,
            group=f"service:{svc.name}",
            launch_type=ms.launch_type or "",
            started_by=dep,
            networking_configuration=net if td.network_mode == "awsvpc" else None,
        )
        task.availability_zone = az
        task.last_status = "RUNNING"
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return str(task.task_arn)

    def _sync_counts(self, svc: SimService) -> None:
        ms = self._moto_service(svc)
        ms.running_count = len(svc.running())
        ms.pending_count = 0

    def _task_event(
        self,
        svc: SimService,
        task: SimTask,
        *,
        stop_code: str | None = None,
        reason: str | None = None,
        exit_code: int | None = 0,
    ) -> dict[str, Any]:
        td = self.clients("ecs").describe_task_definition(taskDefinition=task.task_definition_arn)[
            "taskDefinition"
        ]
        now = _iso(millis=True)
        containers = []
        for c in td.get("containerDefinitions", []):
            container: dict[str, Any] = {
                "containerArn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:container/"
                f"{svc.cluster_name}/{_short(task.arn, 32)}/{uuid.uuid4()}",
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
            "createdAt": _iso(task.created, millis=True),
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
                {"containerInstanceArn": self.instances[task.instance_id].container_instance_arn}
                if task.instance_id in self.instances
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

    def stop_tasks(self, service: str, az: str) -> list[RouteResult]:
        """A zone loses a service's tasks; ECS replaces them, lopsidedly, in the other zones."""
        with self._lock:
            svc = self.service(service)
            if az not in svc.azs:
                raise SimulatorError(f"{svc.name} runs in {', '.join(svc.azs)}, not in {az}")
            victims = [t for t in svc.running() if t.az == az]
            start = len(self._routes)
            self.timeline.add("note", f"{svc.name}: zone {az} loses {len(victims)} task(s)")
            svc.impaired_az = az
            for t in victims:
                self._stop_task(
                    svc, t, stop_code="TaskFailedToStart", reason=f"Host in {az} became unavailable"
                )
            self._lost(svc)
            self._drain()
            spread = ", ".join(f"{az} {n}" for az, n in svc.spread().items())
            self.timeline.add("state", f"{svc.name}: running tasks per zone: {spread}")
            return self._routes[start:]

    def service_action(
        self, service: str, event_name: str, reason: str | None = None
    ) -> list[RouteResult]:
        """Emit an ``ECS Service Action`` for a service (steady state, placement failure...)."""
        with self._lock:
            svc = self.service(service)
            start = len(self._routes)
            self._service_event(svc, event_name, reason=reason)
            self._drain()
            return self._routes[start:]

    # ------------------------------------------------------------------ EC2 capacity
    def _start_capacity(self) -> None:
        """Each cluster's Auto Scaling groups (by its capacity providers) start with one
        instance per zone (within max): what managed scaling would have launched for the
        stack's EC2 services."""
        ecs = self.clients("ecs")
        autoscaling = self.clients("autoscaling")
        clusters = {
            arn for s in self.stacks for arn in s.resources_of("AWS::ECS::Cluster").values()
        }
        for cluster_arn in sorted(clusters):
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
        self._sync_instances()

    def _sync_instances(self) -> None:
        """Instances follow their Auto Scaling groups: a new one registers with the cluster
        (the ECS agent's job), a gone one is drained (its tasks stop and are replaced)."""
        if not self.asg_clusters:
            return
        from moto.autoscaling.models import autoscaling_backends

        backend = autoscaling_backends[ACCOUNT_ID][REGION]
        ecs_backend = self._ecs_backend()
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
                if iid in self.instances:
                    continue
                ci = ecs_backend.register_container_instance(cluster, iid)
                cpu, memory = INSTANCE_SIZES.get(
                    str(state.instance.instance_type).rsplit(".", 1)[-1], (2048, 7680)
                )
                for res in (*ci.registered_resources, *ci.remaining_resources):
                    if res["name"] == "CPU":
                        res["integerValue"] = cpu
                    elif res["name"] == "MEMORY":
                        res["integerValue"] = memory
                az = state.instance.placement
                az = getattr(az, "zone", None) or str(state.availability_zone)
                self.instances[iid] = SimInstance(
                    iid, az, name, cluster, ci.container_instance_arn, cpu, memory
                )
                self.timeline.add(
                    "state", f"instance {iid} of {name} in {az} joined {cluster} ({cpu} CPU)"
                )
        for iid in [i for i in self.instances if i not in live]:
            gone = self.instances.pop(iid)
            self.timeline.add("state", f"instance {iid} in {gone.az} left {gone.cluster_name}")
            ci_id = gone.container_instance_arn.rsplit("/", 1)[-1]
            ecs_backend.container_instances.get(gone.cluster_name, {}).pop(ci_id, None)
            for svc in self.services.values():
                for t in [t for t in svc.running() if t.instance_id == iid]:
                    self._stop_task(
                        svc,
                        t,
                        stop_code="ServiceSchedulerInitiated",
                        reason=f"Container instance {iid} was drained and terminated",
                    )
                    self._lost(svc)
        self._sync_instance_resources()

    def _sync_instance_resources(self) -> None:
        """Container instances' remaining CPU and memory, as ECS reports them."""
        if not self.instances:
            return
        used = self._used()
        cis = self._ecs_backend().container_instances
        for inst in self.instances.values():
            ci = cis.get(inst.cluster_name, {}).get(inst.container_instance_arn.rsplit("/", 1)[-1])
            if ci is None:
                continue
            cpu, memory = used[inst.instance_id]
            for res in ci.remaining_resources:
                if res["name"] == "CPU":
                    res["integerValue"] = inst.cpu - cpu
                elif res["name"] == "MEMORY":
                    res["integerValue"] = inst.memory - memory
            ci.running_tasks_count = sum(
                1
                for s in self.services.values()
                for t in s.running()
                if t.instance_id == inst.instance_id
            )

    def lose_instance(self, az: str) -> list[RouteResult]:
        """Managed scaling scales in: the instance in ``az`` is drained and terminated (the
        group's desired capacity goes down by one), leaving that zone without capacity."""
        with self._lock:
            victims = [i for i in self.instances.values() if i.az == az]
            if not victims:
                raise SimulatorError(f"no instance in {az} (instances: {self.instance_zones()})")
            start = len(self._routes)
            victim = victims[0]
            self.timeline.add(
                "note", f"{victim.asg}: scale-in terminates {victim.instance_id} in {az}"
            )
            self.clients("autoscaling").terminate_instance_in_auto_scaling_group(
                InstanceId=victim.instance_id, ShouldDecrementDesiredCapacity=True
            )
            self.observe()
            self._drain()
            return self._routes[start:]

    def instance_zones(self) -> dict[str, int]:
        return dict(sorted(Counter(i.az for i in self.instances.values()).items()))

    def fargate_spot_shortage(self, on: bool = True) -> list[RouteResult]:
        """Fargate Spot runs out of capacity (``on``): running Spot tasks are interrupted and
        new ones cannot be placed; or it comes back (``on=False``)."""
        with self._lock:
            start = len(self._routes)
            self.fargate_spot_available = not on
            self.timeline.add(
                "note", "Fargate Spot has no capacity" if on else "Fargate Spot capacity is back"
            )
            if on:
                for svc in self.services.values():
                    spot = [t for t in svc.running() if t.provider == "FARGATE_SPOT"]
                    for t in spot:
                        self._stop_task(
                            svc,
                            t,
                            stop_code="SpotInterruption",
                            reason="Your Spot Task was interrupted.",
                        )
                    if spot:
                        self._lost(svc)
            else:
                for svc in self.services.values():
                    if svc.placement_failure == "RESOURCE:FARGATE":
                        svc.placement_failure = None
            self.observe()
            self._drain()
            return self._routes[start:]

    # ------------------------------------------------------------------ ECR
    def push(
        self,
        repository: str,
        tag: str | None,
        *,
        findings: dict[str, int] | None = None,
        crashing: bool = False,
        scanner: str | None = None,
    ) -> PushResult:
        """Push a new image: ``ECR Image Action``, then the scan result with ``findings``."""
        with self._lock:
            ecr = self.clients("ecr")
            try:
                repo = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0]
            except ecr.exceptions.RepositoryNotFoundException as exc:
                raise SimulatorError(f"no repository {repository!r} in the sandbox") from exc
            manifest = _manifest(f"{repository}:{tag}:{secrets.token_hex(8)}")
            kwargs: dict[str, Any] = {
                "repositoryName": repository,
                "imageManifest": manifest,
                "imageManifestMediaType": "application/vnd.docker.distribution.manifest.v2+json",
            }
            if tag:
                kwargs["imageTag"] = tag
            try:
                digest = ecr.put_image(**kwargs)["image"]["imageId"]["imageDigest"]
            except ecr.exceptions.ClientError as exc:  # e.g. a tag of an IMMUTABLE repository
                message = exc.response["Error"]["Message"]
                raise SimulatorError(f"ECR refused the push: {message}") from exc
            if crashing:
                self.crashing.add(digest)
            start = len(self._routes)
            events: list[dict[str, Any]] = []
            detail: dict[str, Any] = {
                "result": "SUCCESS",
                "repository-name": repository,
                "image-digest": digest,
                "action-type": "PUSH",
            }
            if tag:
                detail["image-tag"] = tag
            push = make_event("aws.ecr", "ECR Image Action", detail, [])
            events.append(push)
            self._enqueue(
                push,
                label=f"push {repository}:{tag or '<digest>'} -> {digest[:19]}..."
                + (" (crashing image)" if crashing else ""),
            )
            self._drain()
            kind = scanner or self.scanner_for(repo)
            if kind != "none":
                scan = self.scan_event(repo, digest, [tag] if tag else [], findings or {}, kind)
                events.append(scan)
                self._enqueue(
                    scan,
                    label=f"{scan['detail-type']} of {repository}@{digest[:19]}...: "
                    f"{_counts_label(findings or {})}",
                )
                self._drain()
            return PushResult(
                repository,
                tag,
                digest,
                None if kind == "none" else kind,
                self._routes[start:],
                events,
            )

    def scanner_for(self, repo: dict[str, Any]) -> str:
        """``inspector2``, ``basic`` or ``none``, as the registry and repository are configured."""
        cfg = (
            self.clients("ecr")
            .get_registry_scanning_configuration()
            .get("scanningConfiguration", {})
        )
        name = repo["repositoryName"]

        def rule_matches(rule: dict[str, Any]) -> bool:
            return any(
                fnmatch.fnmatchcase(name, f.get("filter", "*"))
                for f in rule.get("repositoryFilters", [])
            )

        if cfg.get("scanType") == "ENHANCED":
            return "inspector2" if any(rule_matches(r) for r in cfg.get("rules", [])) else "none"
        if (repo.get("imageScanningConfiguration") or {}).get("scanOnPush"):
            return "basic"
        if any(
            r.get("scanFrequency") == "SCAN_ON_PUSH" and rule_matches(r)
            for r in cfg.get("rules", [])
        ):
            return "basic"
        return "none"

    @staticmethod
    def scan_event(
        repo: dict[str, Any], digest: str, tags: list[str], findings: dict[str, int], kind: str
    ) -> dict[str, Any]:
        arn = repo["repositoryArn"]
        if kind == "inspector2":
            counts = {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0, **dict(findings.items())}
            counts["TOTAL"] = sum(v for k, v in counts.items() if k != "TOTAL")
            return make_event(
                "aws.inspector2",
                "Inspector2 Scan",
                {
                    "scan-status": "INITIAL_SCAN_COMPLETE",
                    "repository-name": arn,
                    "finding-severity-counts": counts,
                    "image-digest": digest,
                    "image-tags": tags,
                    "version": "1.0",
                },
                [arn],
            )
        return make_event(
            "aws.ecr",
            "ECR Image Scan",
            {
                "scan-status": "COMPLETE",
                "repository-name": repo["repositoryName"],
                "finding-severity-counts": {
                    k: v for k, v in findings.items() if v
                },  # zero keys omitted
                "image-digest": digest,
                "image-tags": tags,
            },
            [arn],
        )

    # ------------------------------------------------------------------ CloudWatch
    def alarm(self, name: str, state: str, reason: str | None = None) -> list[RouteResult]:
        with self._lock:
            cw = self.clients("cloudwatch")
            found = cw.describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
            if not found:
                raise SimulatorError(f"no alarm named {name!r} in the sandbox")
            before = found[0]
            reason = reason or f"Threshold Crossed: set by the sandbox to {state}"
            cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)
            after = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
            if before["StateValue"] == state:
                self.timeline.add(
                    "note", f"alarm {name} already {state}: no state change, no event"
                )
                return []
            start = len(self._routes)
            event = alarm_event(before, after)
            if self.propagate_alarm_tags:
                tags = cw.list_tags_for_resource(ResourceARN=after["AlarmArn"]).get("Tags", [])
                event["detail"]["alarmTags"] = {t["Key"]: t["Value"] for t in tags}
            self._enqueue(event, label=f"alarm {name}: {before['StateValue']} -> {state}")
            self._drain()
            return self._routes[start:]


def alarm_event(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    def state(a: dict[str, Any]) -> dict[str, Any]:
        ts = a.get("StateUpdatedTimestamp") or _now()
        return {
            "reason": a.get("StateReason", ""),
            "reasonData": a.get("StateReasonData", "{}") or "{}",
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}+0000",
            "value": a["StateValue"],
        }

    metrics: list[dict[str, Any]]
    if after.get("Metrics"):
        metrics = [{k[:1].lower() + k[1:]: v for k, v in m.items()} for m in after["Metrics"]]
    else:
        metrics = [
            {
                "id": str(uuid.uuid4()),
                "metricStat": {
                    "metric": {
                        "dimensions": {d["Name"]: d["Value"] for d in after.get("Dimensions", [])},
                        "name": after.get("MetricName"),
                        "namespace": after.get("Namespace"),
                    },
                    "period": after.get("Period"),
                    "stat": after.get("Statistic") or after.get("ExtendedStatistic"),
                },
                "returnData": True,
            }
        ]
    config: dict[str, Any] = {"metrics": metrics}
    if after.get("AlarmDescription"):
        config["description"] = after["AlarmDescription"]
    return make_event(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        {
            "alarmName": after["AlarmName"],
            "configuration": config,
            "previousState": state(before),
            "state": state(after),
        },
        [after["AlarmArn"]],
    )


def _manifest(seed: str) -> str:
    def digest(kind: str) -> str:
        return "sha256:" + hashlib.sha256(f"{kind}:{seed}".encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": digest("config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 3370628,
                    "digest": digest("layer"),
                }
            ],
        }
    )


def _runs_on_ec2(service: dict[str, Any], td: dict[str, Any]) -> bool:
    """EC2 unless the capacity provider strategy (else launch type, else the task
    definition's compatibilities) says Fargate."""
    strategy = [i.get("capacityProvider") for i in service.get("capacityProviderStrategy") or []]
    if strategy:
        return not all(p in FARGATE_PROVIDERS for p in strategy)
    if service.get("launchType") in ("FARGATE", "EC2"):
        return service.get("launchType") == "EC2"
    return "FARGATE" not in (td.get("requiresCompatibilities") or [])


def _task_size(td: dict[str, Any]) -> tuple[int, int]:
    """(CPU units, MiB) one task takes: task-level sizes, else the containers' sum."""
    containers = td.get("containerDefinitions", [])
    cpu = int(td.get("cpu") or 0) or sum(int(c.get("cpu") or 0) for c in containers)
    memory = int(td.get("memory") or 0) or sum(
        int(c.get("memory") or c.get("memoryReservation") or 0) for c in containers
    )
    return cpu, memory


# ---------------------------------------------------------------------- descriptions
def _short(arn: str, n: int = 8) -> str:
    return arn.rsplit("/", 1)[-1][:n]


def _td_label(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _counts_label(findings: dict[str, int]) -> str:
    shown = {k: v for k, v in findings.items() if v}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "no findings"


def describe_event(event: dict[str, Any]) -> str:
    d = event.get("detail", {}) or {}
    dt = event.get("detail-type", "?")
    if dt == "ECR Image Action":
        return f"{dt} {d.get('action-type')} {d.get('repository-name')}:{d.get('image-tag', '<digest>')}"  # noqa: E501
    if dt in ("ECR Image Scan", "Inspector2 Scan"):
        return f"{dt} {str(d.get('repository-name', '')).rsplit('/', 1)[-1]}: {_counts_label(d.get('finding-severity-counts') or {})}"  # noqa: E501
    if dt == "ECS Deployment State Change":
        svc = (event.get("resources") or ["?"])[0].rsplit("/", 1)[-1]
        return (
            f"{dt} {svc}: {d.get('eventName')} {d.get('deploymentId', '')} ({d.get('reason', '')})"
        )
    if dt == "ECS Task State Change":
        return f"{dt} {d.get('group')}: {d.get('lastStatus')} in {d.get('availabilityZone')}"
    if dt == "CloudWatch Alarm State Change":
        return f"{dt} {d.get('alarmName')}: {(d.get('previousState') or {}).get('value')} -> {(d.get('state') or {}).get('value')}"  # noqa: E501
    if dt == "ECS Service Action":
        return f"{dt} {d.get('eventName')} {d.get('reason', '')}".strip()
    return f"{dt} from {event.get('source')}"


def summarize_report(report: dict[str, Any] | None) -> str:
    if not report:
        return "ok (no report)"
    decisions = report.get("decisions") or []
    actions = [a for a in report.get("actions") or [] if a.get("done")]
    parts = []
    for d in decisions[:6]:
        reason = d.get("reason") or ""
        service = str(d.get("service") or "?").rsplit("/", 1)[-1]
        parts.append(f"{service} {d.get('outcome', '?')}" + (f" ({reason})" if reason else ""))
    text = "; ".join(parts) or "no decision"
    if len(decisions) > 6:
        text += f"; +{len(decisions) - 6} more"
    if actions:
        text += " | " + ", ".join(str(a.get("api")) for a in actions)
    return text
