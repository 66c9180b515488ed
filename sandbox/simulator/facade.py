"""The :class:`Simulator`: the one object the sandbox, the demo and the tests use.

It owns the event loop: a stimulus (a push, an alarm, a zone's loss, a raw event) puts
events on the queue, and :meth:`Simulator._drain` routes them one by one through the
router, like EventBridge, running the state changes queued between them and, after each
delivery, :meth:`Simulator.observe`: whatever the handlers changed in moto (a new task
definition, a desired count, a stopped task) is carried on, until the bus is quiet and no
lost task is waiting for its replacement.

What happens is told by the concern modules next to this one, which share
:class:`~sandbox.simulator.state.SimState` and the :class:`~sandbox.simulator.bus.EventQueue`:
tasks, deployments, capacity, registry, alarms (see sandbox/README.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sandbox import moto_adjustments as adj
from sandbox.deploy import DeployedStack
from sandbox.router import Router, RouteResult, RuleInfo, normalize_event
from sandbox.server import Clients
from sandbox.simulator import lifecycle
from sandbox.simulator.alarms import Alarms
from sandbox.simulator.bus import Event, EventQueue
from sandbox.simulator.capacity import Capacity
from sandbox.simulator.delivery import Clock, Delivery
from sandbox.simulator.deployments import Deployments
from sandbox.simulator.lifecycle import Expired
from sandbox.simulator.presentation import record_route
from sandbox.simulator.registry import PushResult, Registry, hold_scan, scan_event
from sandbox.simulator.state import (
    SimInstance,
    SimService,
    SimState,
    SimulatorError,
    moto_service,
    new_service,
    primary_deployment,
)
from sandbox.simulator.tasks import Tasks
from sandbox.timeline import Timeline

MAX_STEPS = 500  # bound on events produced by one stimulus (a loop guard)


class Simulator:
    def __init__(
        self,
        clients: Clients,
        router: Router,
        stacks: list[DeployedStack],
        timeline: Timeline | None = None,
        *,
        clusters: Sequence[str] = (),
    ) -> None:
        """``clusters``: the ARNs of clusters the sandbox holds beside the stacks' own (made by
        plain API calls: the brownfield estate); their services run too."""
        self.clients = clients
        self.router = router
        self.stacks = stacks
        self.extra_clusters = tuple(clusters)
        self.timeline = timeline or Timeline()
        self.state = SimState()
        self.queue = EventQueue(self.timeline)
        self.capacity = Capacity(clients, self.state, self.queue, self.timeline)
        self.tasks = Tasks(clients, self.state, self.queue, self.capacity, self.timeline)
        self.deployments = Deployments(clients, self.state, self.queue, self.tasks, self.timeline)
        self.delivery = Delivery(clients, self.queue, self.timeline, self.deployments, router)
        self.deployments.hand_over = self.delivery.take
        self.registry = Registry(clients, self.state, self.queue)
        self.alarms = Alarms(clients, self.queue, self.timeline)
        self.delivery.set_alarm = self.alarms.set_state
        self._lock = threading.RLock()  # one stimulus at a time (callers may hold it too)
        self._draining = False
        self._routes: list[RouteResult] = []
        self._watcher: tuple[threading.Thread, threading.Event] | None = None
        #: how many minutes of the sandbox clock pass per wall-clock second while
        #: :meth:`watch`-ing (0: the clock moves only with :meth:`advance`)
        self.minutes_per_second = 0.0

    # ------------------------------------------------------------------ what callers read
    @property
    def services(self) -> dict[str, SimService]:
        """Service ARN -> the service the simulator runs."""
        return self.state.services

    @property
    def instances(self) -> dict[str, SimInstance]:
        """EC2 instance id -> the instance, registered with its cluster."""
        return self.state.instances

    @property
    def crashing(self) -> set[str]:
        """Image digests whose tasks exit (pushed ``crashing``)."""
        return self.state.crashing

    @property
    def asg_clusters(self) -> dict[str, str]:
        """Auto Scaling group name -> the cluster whose capacity provider it backs."""
        return self.capacity.asg_clusters

    @property
    def emitted(self) -> list[Event]:
        """Every event put on the bus, in order."""
        return self.queue.emitted

    @property
    def fargate_spot_available(self) -> bool:
        return self.capacity.fargate_spot_available

    @property
    def replacement_seconds(self) -> float:
        """How long after the events of its loss a lost task is replaced (scenes shorten it)."""
        return self.tasks.replacement_seconds

    @replacement_seconds.setter
    def replacement_seconds(self, seconds: float) -> None:
        self.tasks.replacement_seconds = seconds

    @property
    def propagate_alarm_tags(self) -> bool:
        """True: alarm events carry ``alarmTags`` (CloudWatch's alarm tag propagation)."""
        return self.alarms.propagate_tags

    @propagate_alarm_tags.setter
    def propagate_alarm_tags(self, on: bool) -> None:
        self.alarms.propagate_tags = on

    def service(self, name_or_arn: str) -> SimService:
        return self.state.service(name_or_arn)

    # ------------------------------------------------------------------ start
    @property
    def clusters(self) -> list[str]:
        """Every cluster whose services run here: the stacks' (all of them) and the others
        the sandbox holds."""
        return sorted(
            {arn for s in self.stacks for arn in s.resources_of("AWS::ECS::Cluster").values()}
            | set(self.extra_clusters)
        )

    def start(self) -> Simulator:
        """Find the clusters' services and bring each to a steady state with its tasks
        running (a service without a task definition, whose controller runs task sets, has
        none)."""
        adj.patch_backends()
        # what functions put on the bus (the reconciler's shards) is routed in order, like
        # every other event
        self.router.on_put = self.queue.put
        ecs = self.clients("ecs")
        clusters = self.clusters
        self.capacity.start(clusters, drained=self.tasks.instance_drained)
        for cluster in clusters:
            arns = [
                a
                for page in ecs.get_paginator("list_services").paginate(cluster=cluster)
                for a in page.get("serviceArns", [])
            ]
            for i in range(0, len(arns), 10):
                for d in ecs.describe_services(cluster=cluster, services=arns[i : i + 10])[
                    "services"
                ]:
                    self._take_in(d)
        return self

    def add_service(self, arn: str) -> SimService:
        """Take in a service made after :meth:`start` (in a cluster whose services run here),
        as :meth:`start` takes in those it finds: its tasks started, its deployment recorded.
        A service already taken in is returned as it is; one without a task definition (its
        controller runs task sets) or not found is a ``SimulatorError``."""
        with self._lock:
            if arn in self.state.services:
                return self.state.services[arn]
            cluster = arn.rsplit("/", 2)[-2] if arn.count("/") >= 2 else "default"
            found = self.clients("ecs").describe_services(cluster=cluster, services=[arn])
            services = [d for d in found["services"] if d.get("status") == "ACTIVE"]
            svc = self._take_in(services[0]) if services else None
            if svc is None:
                raise SimulatorError(f"no active service {arn} with a task definition")
            return svc

    def _take_in(self, d: dict[str, Any]) -> SimService | None:
        """One service as DescribeServices answers it: run its desired tasks, quietly, and
        record its deployment (None: it has no task definition)."""
        if not d.get("taskDefinition"):
            return None
        ecs = self.clients("ecs")
        subnets = ((d.get("networkConfiguration") or {}).get("awsvpcConfiguration") or {}).get(
            "subnets", []
        )
        by_az: dict[str, str] = {}
        if subnets:
            for sn in self.clients("ec2").describe_subnets(SubnetIds=subnets)["Subnets"]:
                by_az.setdefault(sn["AvailabilityZone"], sn["SubnetId"])
        td = ecs.describe_task_definition(taskDefinition=d["taskDefinition"])["taskDefinition"]
        svc = new_service(d, td, by_az)
        self.state.services[svc.arn] = svc
        for _ in range(int(d.get("desiredCount") or 0)):
            self.tasks.start(svc, quiet=True)
        self.deployments.record_current(svc)
        return svc

    # ------------------------------------------------------------------ routing
    def emit(
        self, event: dict[str, Any], *, label: str | None = None, droppable: bool = False
    ) -> list[RouteResult]:
        """Put one event on the bus; route it and everything it causes. Returns all routes.
        With ``droppable`` it may be lost at :attr:`drop_rate`, as the simulator's own ECR
        events are (a harness replaying a stream of them)."""
        event = normalize_event(event)
        with self._lock:
            start = len(self._routes)
            self.queue.put(event, label=label, droppable=droppable)
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

    def watch(self, every: float = 1.0) -> None:
        """Settle every ``every`` seconds in a thread of its own, until :meth:`unwatch`: the
        changes any client makes (the aws CLI, a second shell's `autopilot`, a script)
        start their consequences within that time, not at the next stimulus. `local up`
        watches; the demo and the tests do not (their stimuli settle as they go). With
        :attr:`minutes_per_second` above 0, each round also moves the sandbox clock by the
        wall-clock seconds since the last times that many minutes (ECS's bakes and hook
        timeouts pass by themselves)."""
        if self._watcher is not None:
            return
        stop = threading.Event()

        def loop() -> None:
            last = time.monotonic()
            while not stop.wait(every):
                try:
                    self.settle()
                    moved, last = time.monotonic() - last, time.monotonic()
                    if self.minutes_per_second > 0:
                        self.advance(moved * self.minutes_per_second, note=False)
                except Exception as exc:  # a client's change the simulator cannot follow
                    self.timeline.add("failed", f"the sandbox could not follow a change: {exc}")

        thread = threading.Thread(target=loop, name="sandbox-watch", daemon=True)
        self._watcher = (thread, stop)
        thread.start()

    def unwatch(self) -> None:
        if self._watcher is not None:
            thread, stop = self._watcher
            stop.set()
            thread.join(timeout=30)
            self._watcher = None

    def tick(self, only: str | None = None) -> list[RouteResult]:
        """Fire every schedule rule once (EventBridge's clock: e.g. task-events' re-check
        rule), then route whatever follows until the bus is quiet. Scenes and tests call it
        when they want the schedule to come, e.g. after a debounce window. ``only``: fire
        just the schedule rules whose name is it or ends in ``-<only>`` (``reconcile``:
        the reconciler's sweep); a name no schedule rule has is a ``SimulatorError``."""
        with self._lock:
            rules = self.schedule_rules(only)
            start = len(self._routes)
            for rule in rules:
                event = rule.scheduled_event()
                self.queue.put(event, label=f"Scheduled Event of {rule.name} ({rule.schedule})")
            self._drain()
            return self._routes[start:]

    def schedule_rules(self, only: str | None = None) -> list[RuleInfo]:
        """The schedule rules :meth:`tick` fires (``only``: see there)."""
        rules = self.router.schedules
        if only is None:
            return rules
        chosen = [r for r in rules if only in (r.name, r.name.rsplit("-", 1)[-1])]
        if not chosen:
            names = ", ".join(r.name for r in rules) or "none"
            raise SimulatorError(f"no schedule rule {only!r} (the schedule rules: {names})")
        return chosen

    # ------------------------------------------------------------------ the sandbox's clock
    @property
    def clock(self) -> Clock:
        """The clock of minutes ECS's waits run on (bakes, hook timeouts, a Lambda hook's
        callBackDelay): it moves only with :meth:`advance`."""
        return self.delivery.clock

    def advance(self, minutes: float, *, note: bool = True) -> list[RouteResult]:
        """Move the sandbox's clock ``minutes`` on: what ECS waits for that falls due (a
        bake's end, a pause hook's timeout, a Lambda hook's next invocation) happens in the
        order of its minute, with what follows routed; the deployment alarms are read.
        ``note``: a timeline line says how far the clock moved."""
        if minutes < 0:
            raise SimulatorError(f"the clock moves forward only, not {minutes} minutes")
        with self._lock:
            start = len(self._routes)
            until = self.clock.minutes + minutes
            self.observe()
            self._drain()
            while (step := self.clock.pop_due(until)) is not None:
                self.delivery.check_alarms()
                self.queue.later(step)
                self._drain()
            self.clock.minutes = until
            self.delivery.check_alarms()
            self._drain()
            if minutes and note:
                self.timeline.add("note", f"sandbox clock +{minutes:g} min")
            return self._routes[start:]

    # ------------------------------------------------------------------ lost events
    @property
    def drop_rate(self) -> float:
        """The share of ECR push and scan events the bus loses (EventBridge delivers them
        best effort); 0 by default. Set it with :meth:`drop_events`."""
        return self.queue.drop_rate

    def drop_events(self, rate: float, *, seed: int = 0) -> None:
        """From now on lose ``rate`` (0 to 1) of the ECR push and scan events the simulator
        emits, chosen by a random generator seeded with ``seed`` (the same seed and the
        same pushes: the same events lost). Events given to :meth:`emit` are lost only
        with ``droppable``."""
        try:
            self.queue.set_drop_rate(rate, seed=seed)
        except ValueError as exc:
            raise SimulatorError(str(exc)) from exc

    @property
    def dropped(self) -> list[Event]:
        """Every event the bus lost, in order."""
        return self.queue.dropped

    def _drain(self) -> None:
        """Route the queued events in order (running the steps between them) and observe
        after each; when the bus is quiet, wait for the next lost task's replacement."""
        if self._draining:
            return
        self._draining = True
        try:
            steps = 0
            while True:
                item = self.queue.next()
                if item is None:
                    wait = self.tasks.pending_replacements()
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
                if callable(item):
                    item()
                    continue
                for res in self.router.route(item):
                    self._routes.append(res)
                    record_route(self.timeline, res)
                self.observe()
        finally:
            self._draining = False

    # ------------------------------------------------------------------ observe
    def observe(self) -> None:
        """Compare moto's services with what runs; start deployments, replace and scale tasks;
        EC2 capacity follows its Auto Scaling groups; steady states and ECS's own AZ
        rebalancing as ECS does them."""
        self.capacity.sync_instances(drained=self.tasks.instance_drained)
        self.delivery.carry_continues()
        for svc in list(self.state.services.values()):
            try:
                ms = moto_service(svc)
            except Exception:
                continue
            self.tasks.reap_stopped(svc)
            if self.deployments.roll_back_stopped(svc, ms):
                continue
            if self.deployments.opened(svc, ms):
                self.deployments.deploy(svc, str(ms.task_definition))
                continue
            if self.delivery.walking(svc):
                continue  # both revisions run until the walk's CLEAN_UP
            self.capacity.apply_scalable_target(svc, ms)
            desired = int(ms.desired_count or 0)
            changed = self.tasks.scale(svc, desired)
            self.tasks.sync_counts(svc)
            in_progress = primary_deployment(ms).get("rolloutState") == "IN_PROGRESS"
            if len(svc.running()) != desired or in_progress:
                svc.steady = False
            elif not svc.steady:
                svc.steady = True
                self.capacity.service_event(svc, "SERVICE_STEADY_STATE")
            elif not changed:
                self.tasks.rebalance(svc, ms)

    def pending_replacements(self) -> float | None:
        """Seconds until the next lost task is due to be replaced (None: none is pending)."""
        return self.tasks.pending_replacements()

    # ------------------------------------------------------------------ stimuli: tasks
    def stop_tasks(self, service: str, az: str) -> list[RouteResult]:
        """A zone loses a service's tasks; ECS replaces them, lopsidedly, in the other zones."""
        with self._lock:
            svc = self.service(service)
            start = len(self._routes)
            self.tasks.lose_zone(svc, az)
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
            self.capacity.service_event(svc, event_name, reason=reason)
            self._drain()
            return self._routes[start:]

    # ------------------------------------------------------------------ stimuli: capacity
    def lose_instance(self, az: str) -> list[RouteResult]:
        """Managed scaling scales in: the instance in ``az`` is drained and terminated (the
        group's desired capacity goes down by one), leaving that zone without capacity."""
        with self._lock:
            start = len(self._routes)
            self.capacity.lose_instance(az)
            self.observe()
            self._drain()
            return self._routes[start:]

    def instance_zones(self) -> dict[str, int]:
        return self.capacity.instance_zones()

    def fargate_spot_shortage(self, on: bool = True) -> list[RouteResult]:
        """Fargate Spot runs out of capacity (``on``): running Spot tasks are interrupted and
        new ones cannot be placed; or it comes back (``on=False``)."""
        with self._lock:
            start = len(self._routes)
            self.capacity.set_spot_capacity(available=not on)
            if on:
                self.tasks.interrupt_spot()
            self.observe()
            self._drain()
            return self._routes[start:]

    # ------------------------------------------------------------------ stimuli: ECR
    def push(
        self,
        repository: str,
        tag: str | None,
        *,
        findings: dict[str, int] | None = None,
        crashing: bool = False,
        stalling: bool = False,
        alarming: str | None = None,
        scanner: str | None = None,
        platforms: tuple[str, ...] = (),
        attestation: bool = False,
        drop_event: bool = False,
    ) -> PushResult:
        """Push a new image: ``ECR Image Action``, then the scan result with ``findings``
        (ECR holds it too). With ``stalling`` its deployments stay IN_PROGRESS (its tasks
        never turn healthy) until stopped or superseded. With ``alarming`` (an alarm's
        name) a staged deployment of it (or a rolling one that bakes: sandbox.simulator.
        delivery) sets that alarm to ALARM when it reaches BAKE_TIME, so ECS rolls it back
        if the alarm is one of its deployment alarms. With ``platforms`` the image is an
        index of one manifest per platform (plus, with ``attestation``, a provenance
        attestation), and each platform manifest is scanned. With ``drop_event`` the push's
        events (push and scan) never reach the rules (the image and its scan result are in
        ECR all the same: the reconciler's sweep finds them); without it, each is lost at
        :attr:`drop_rate`."""
        with self._lock:
            repo, digest, children = self.registry.put_image(
                repository, tag, crashing=crashing, platforms=platforms, attestation=attestation
            )
            if stalling:
                self.state.stalling.add(digest)
            if alarming:
                self.state.alarming[digest] = alarming
            start = len(self._routes)
            events = [
                self.registry.announce_push(
                    repository, tag, digest, crashing=crashing, drop=drop_event
                )
            ]
            self._drain()
            kind = scanner or self.registry.scanner_for(repo)
            if kind != "none":
                events.append(
                    self.registry.announce_scan(
                        repo, digest, tag, findings or {}, kind, drop=drop_event
                    )
                )
                self._drain()
            return PushResult(
                repository,
                tag,
                digest,
                None if kind == "none" else kind,
                self._routes[start:],
                events,
                children,
            )

    def expire(self, repository: str | None = None) -> dict[str, list[Expired]]:
        """A lifecycle expiry run (moto runs none): each repository's (or ``repository``'s)
        lifecycle policy evaluated as ECR documents it, and what it expires deleted
        (``simulator.lifecycle``); repository -> what was expired."""
        with self._lock:
            ecr = self.clients("ecr")
            if repository is None:
                names = [
                    r["repositoryName"]
                    for page in ecr.get_paginator("describe_repositories").paginate()
                    for r in page["repositories"]
                ]
            else:
                try:
                    ecr.describe_repositories(repositoryNames=[repository])
                except ecr.exceptions.RepositoryNotFoundException as exc:
                    raise SimulatorError(f"no repository {repository} in the sandbox") from exc
                names = [repository]
            return {name: lifecycle.expire(self.clients, name) for name in sorted(names)}

    def scanner_for(self, repo: dict[str, Any]) -> str:
        """``inspector2``, ``basic`` or ``none``, as the registry and repository are configured."""
        return self.registry.scanner_for(repo)

    @staticmethod
    def scan_event(
        repo: dict[str, Any], digest: str, tags: list[str], findings: dict[str, int], kind: str
    ) -> Event:
        """The scan event of ``digest`` (see ``registry.scan_event``); ECR holds the same
        result for it from now on (``registry.hold_scan``), as it does when AWS sends one."""
        hold_scan(repo, digest, findings, kind)
        return scan_event(repo, digest, tags, findings, kind)

    # ------------------------------------------------------------------ stimuli: CloudWatch
    def alarm(self, name: str, state: str, reason: str | None = None) -> list[RouteResult]:
        """Set an alarm's state; its state change event (if it changed) and what follows."""
        with self._lock:
            start = len(self._routes)
            if not self.alarms.set_state(name, state, reason):
                return []
            self.delivery.check_alarms()
            self._drain()
            return self._routes[start:]
