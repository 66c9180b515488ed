"""The delivery scenes: autopilot riding ECS's own delivery (strategies, deployment alarms,
lifecycle hooks), told on one staged service that the first scene makes.

The demo's config builds rolling services only, so :func:`staged` makes one in the stacks'
managed cluster the way a team would: a Fargate service tracking ``demo/web`` (with a
``glob:delivery-*`` policy, so the pushes of these scenes go to it and not to ``web``), on
the estate's load balancer with the wiring canary, linear and blue/green need (two target
groups, a production listener rule, the role ECS shifts traffic with:
``loadBalancers[].advancedConfiguration``), tagged ``autopilot:strategy=canary:10:2`` and
``autopilot:alarms`` naming a CloudWatch alarm of its own. The simulator takes it in
(``Simulator.add_service``). The scenes share it through ``ctx.story``; the last one
deletes it with all it came with (:func:`tear_down`). ``DemoContext.pick_service`` skips it
(its strategy is not rolling).

1. A push marked ``alarming`` -> image-events deploys it CANARY with the alarm (and the
   admission hook) -> the canary bakes on the sandbox clock, the alarm fires at BAKE_TIME ->
   ECS rolls back -> deployment-events records it and quarantines the digest.
2. ``autopilot:approval=manual-traffic`` (and ``blue-green``: one traffic shift, one pause)
   -> the deployment waits at the PAUSE hook before production traffic -> `autopilot
   approve SERVICE` continues it -> COMPLETED.
3. A plain UpdateService of the quarantined digest (nothing of autopilot's) -> the admission
   hook answers FAILED -> ECS rolls back; the refusal is in the ledger and on the topic.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from autopilot import contract
from autopilot.store.ledger import Ledger

from sandbox.demo.framework import Check, DemoContext, Scene, no_failure
from sandbox.router import RouteResult

#: the repository the staged service tracks (one of the estate's) and its container's port
REPOSITORY = "demo/web"
#: the tags of this theme's pushes, and the policy that follows them (``web`` follows semver)
TAG_PREFIX = "delivery-"
CANARY = "canary:10:2"
BLUE_GREEN = "blue-green:2"


@dataclass
class Staged:
    """The staged service and what it came with (deleted by :func:`tear_down`)."""

    name: str
    arn: str
    cluster: str
    alarm: str
    target_groups: list[str]
    rule: str
    role: str
    #: push number: each push gets a new tag
    pushes: int = 0

    def as_tracked(self, ctx: DemoContext) -> dict[str, Any]:
        """As ``DemoContext.tracked_services`` lists it (what its helpers take)."""
        return {"arn": self.arn, "name": self.name, "tags": ctx.tags(self.arn)}

    def next_tag(self) -> str:
        self.pushes += 1
        return f"{TAG_PREFIX}{self.pushes}-{secrets.token_hex(2)}"


def staged(ctx: DemoContext) -> Staged:
    """The theme's staged service: the one the story has, else a new one (see the module)."""
    found: Staged | None = ctx.story.get("staged")
    if found is not None:
        return found
    assert ctx.sandbox.clients is not None
    clients = ctx.sandbox.clients
    ecs, elb, iam, cw = clients("ecs"), clients("elbv2"), clients("iam"), clients("cloudwatch")
    base = ctx.pick_service()  # web: its network, its task definition, its load balancer
    base_d = ctx.describe_service(base["arn"])
    cluster = base["arn"].split("/")[-2]
    suffix = secrets.token_hex(2)
    name = f"delivery-{suffix}"

    # the load balancer wiring: blue and green target groups, a rule of the listener
    web_tg = _estate_target_group(ctx)
    groups = [
        elb.create_target_group(
            Name=f"{name}-{color}",
            Protocol="HTTP",
            Port=int(web_tg["Port"]),
            VpcId=web_tg["VpcId"],
            TargetType="ip",
            HealthCheckPath=web_tg.get("HealthCheckPath", "/"),
        )["TargetGroups"][0]["TargetGroupArn"]
        for color in ("blue", "green")
    ]
    listener = elb.describe_listeners(LoadBalancerArn=web_tg["LoadBalancerArns"][0])["Listeners"][
        0
    ]["ListenerArn"]
    rule = elb.create_rule(
        ListenerArn=listener,
        Priority=100 + secrets.randbelow(900),
        Conditions=[{"Field": "path-pattern", "Values": [f"/{name}/*"]}],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": groups[0], "Weight": 100},
                        {"TargetGroupArn": groups[1], "Weight": 0},
                    ]
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
    role = iam.create_role(
        RoleName=f"{name}-ecs-infrastructure",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]

    # the deployment alarm, OK
    alarm = f"{name}-target-5xx"
    cw.put_metric_alarm(
        AlarmName=alarm,
        Namespace="AWS/ApplicationELB",
        MetricName="HTTPCode_Target_5XX_Count",
        Dimensions=[{"Name": "TargetGroup", "Value": groups[1].split(":")[-1]}],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5.0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )
    (state,) = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    if state["StateValue"] != "OK":
        ctx.sim.alarm(alarm, "OK", "the sandbox: no 5xx")

    # its own task definition family, a copy of web's (its image pinned as web's)
    td = ecs.describe_task_definition(taskDefinition=base_d["taskDefinition"])["taskDefinition"]
    keep = ("containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities")
    roles = {k: td[k] for k in ("taskRoleArn", "executionRoleArn") if td.get(k)}
    registered = ecs.register_task_definition(
        family=name, **{k: td[k] for k in keep if k in td}, **roles
    )["taskDefinition"]["taskDefinitionArn"]
    container = base["tags"].get(contract.TAG_CONTAINER) or td["containerDefinitions"][0]["name"]
    port = next(
        (
            int(p["containerPort"])
            for c in td["containerDefinitions"]
            if c["name"] == container
            for p in c.get("portMappings") or []
        ),
        int(web_tg["Port"]),
    )
    tags = {
        contract.TAG_REPOSITORY: REPOSITORY,
        contract.TAG_CONTAINER: container,
        contract.TAG_POLICY: contract.encode_policy_tag(f"glob:{TAG_PREFIX}*"),
        contract.TAG_SCAN: "critical",
        contract.TAG_STRATEGY: CANARY,
        contract.TAG_ALARMS: alarm,
    }
    network = base_d["networkConfiguration"]
    arn = ecs.create_service(
        cluster=cluster,
        serviceName=name,
        taskDefinition=registered,
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=network,
        loadBalancers=[
            {
                "targetGroupArn": groups[0],
                "containerName": container,
                "containerPort": port,
                "advancedConfiguration": {
                    "alternateTargetGroupArn": groups[1],
                    "productionListenerRule": rule,
                    "roleArn": role,
                },
            }
        ],
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )["service"]["serviceArn"]
    ctx.sim.add_service(arn)
    ctx.sandbox.timeline.add(
        "event",
        f"{name} made in {cluster}: Fargate, {REPOSITORY} ({TAG_PREFIX}* tags), strategy "
        f"{CANARY}, deployment alarm {alarm}, blue/green target groups on the estate's ALB",
    )
    made = Staged(name, arn, cluster, alarm, groups, rule, role)
    ctx.story["staged"] = made
    return made


def _estate_target_group(ctx: DemoContext) -> dict[str, Any]:
    """A target group of the estate's load balancer (web's): its VPC, port and listener."""
    assert ctx.sandbox.clients is not None
    for tg in ctx.sandbox.clients("elbv2").describe_target_groups()["TargetGroups"]:
        if tg.get("LoadBalancerArns"):
            return dict(tg)
    raise LookupError("the estate has no load balancer with a target group")


def tear_down(ctx: DemoContext, made: Staged) -> None:
    """The staged service gone (scaled to 0, deleted, forgotten by the simulator) with its
    task definitions, alarm, rule, target groups and role."""
    assert ctx.sandbox.clients is not None
    clients = ctx.sandbox.clients
    ecs = clients("ecs")
    with contextlib.suppress(Exception):
        ecs.update_service(cluster=made.cluster, service=made.arn, desiredCount=0)
        ctx.sim.settle()
    with contextlib.suppress(Exception):
        ecs.delete_service(cluster=made.cluster, service=made.arn, force=True)
    ctx.sim.services.pop(made.arn, None)
    with contextlib.suppress(Exception):
        for td in ecs.list_task_definitions(familyPrefix=made.name)["taskDefinitionArns"]:
            ecs.deregister_task_definition(taskDefinition=td)
    with contextlib.suppress(Exception):
        clients("cloudwatch").delete_alarms(AlarmNames=[made.alarm])
    with contextlib.suppress(Exception):
        clients("elbv2").delete_rule(RuleArn=made.rule)
    for tg in made.target_groups:
        with contextlib.suppress(Exception):
            clients("elbv2").delete_target_group(TargetGroupArn=tg)
    with contextlib.suppress(Exception):
        clients("iam").delete_role(RoleName=made.role.rsplit("/", 1)[-1])
    ctx.story.pop("staged", None)
    ctx.sandbox.timeline.add("event", f"{made.name} deleted, with its alarm and wiring")


def ledger(ctx: DemoContext) -> Ledger:
    """The control plane's ledger (the table the deployed functions write)."""
    assert ctx.sandbox.clients is not None
    assert ctx.sandbox.router is not None
    table = ctx.sandbox.router.function("deployment-events").environment["LEDGER_TABLE"]
    return Ledger(ctx.sandbox.clients("dynamodb"), table)


def newest_deployment(ctx: DemoContext, made: Staged) -> dict[str, Any]:
    """The service's newest service deployment, as DescribeServiceDeployments describes it."""
    ecs = ctx.ecs()
    listed = ecs.list_service_deployments(cluster=made.cluster, service=made.arn)[
        "serviceDeployments"
    ]
    (sd,) = ecs.describe_service_deployments(
        serviceDeploymentArns=[listed[0]["serviceDeploymentArn"]]
    )["serviceDeployments"]
    return dict(sd)


def running(ctx: DemoContext, made: Staged) -> set[str]:
    """The task definitions the service's running tasks run."""
    return {t.task_definition_arn for t in ctx.sim.service(made.arn).running()}


def decisions_of(routes: list[RouteResult], function: str, service_arn: str) -> list[str]:
    """The outcomes one function decided for one service."""
    return [
        str(d.get("outcome"))
        for r in routes
        if r.ok and r.report and r.function == function
        for d in r.report.get("decisions") or []
        if d.get("service") == service_arn
    ]


def _set_tags(ctx: DemoContext, arn: str, tags: dict[str, str]) -> None:
    ctx.ecs().tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()])


class CanaryRolledBackByItsAlarm:
    title = "A canary rolled back by its alarm: ECS rolls back, autopilot quarantines"

    def run(self, ctx: DemoContext) -> list[Check]:
        made = staged(ctx)
        before = ctx.sim.service(made.arn).task_definition
        pushed = ctx.sim.push(REPOSITORY, made.next_tag(), alarming=made.alarm)
        ctx.story["alarmed"] = pushed.digest
        deployed = decisions_of(pushed.routes, "image-events", made.arn)
        sd = newest_deployment(ctx, made)
        config = sd.get("deploymentConfiguration") or {}
        shifted = (sd.get("status"), sd.get("lifecycleStage"))
        canary_running = running(ctx, made)
        baked = ctx.sim.advance(2)  # the canary bake: 100 %, then BAKE_TIME, the alarm fires
        sd = newest_deployment(ctx, made)
        rolled = decisions_of(baked, "deployment-events", made.arn)
        triggered = (sd.get("alarms") or {}).get("triggeredAlarmNames") or []
        quarantined = ledger(ctx).state.load(made.arn).quarantined
        ctx.sim.alarm(made.alarm, "OK", "the sandbox: the 5xx are gone")
        return [
            no_failure(pushed.routes + baked),
            Check(
                f"image-events deployed {REPOSITORY}@{pushed.digest[:19]}... with strategy "
                f"CANARY and the alarm {made.alarm}",
                "deployed" in deployed
                and config.get("strategy") == "CANARY"
                and made.alarm in (config.get("alarms") or {}).get("alarmNames", [])
                and bool((config.get("alarms") or {}).get("rollback")),
                f"{', '.join(deployed)}; strategy {config.get('strategy')}, alarms "
                f"{(config.get('alarms') or {}).get('alarmNames')}",
            ),
            Check(
                "ECS shifted the canary: both revisions run while it bakes",
                shifted == ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT") and len(canary_running) == 2,
                f"{shifted}, {len(canary_running)} revisions running",
            ),
            Check(
                f"ECS rolled it back at BAKE_TIME on {made.alarm}; the previous revision runs",
                sd.get("status") == "ROLLBACK_SUCCESSFUL"
                and triggered == [made.alarm]
                and running(ctx, made) == {before},
                f"{sd.get('status')}, triggered {triggered}",
            ),
            Check(
                "autopilot recorded the rollback and quarantined the digest",
                "quarantined" in rolled and pushed.digest in quarantined,
                ", ".join(rolled),
            ),
        ]


class ManualTrafficApproval:
    title = "A manual-traffic approval: the deployment waits before production traffic"

    def run(self, ctx: DemoContext) -> list[Check]:
        made = staged(ctx)
        svc = made.as_tracked(ctx)
        _set_tags(
            ctx,
            made.arn,
            {contract.TAG_APPROVAL: "manual-traffic", contract.TAG_STRATEGY: BLUE_GREEN},
        )
        ctx.sandbox.timeline.add(
            "event", f"{made.name} switched to approval manual-traffic, strategy {BLUE_GREEN}"
        )
        try:
            before = ctx.sim.service(made.arn).task_definition
            pushed = ctx.sim.push(REPOSITORY, made.next_tag())
            waiting_sd = newest_deployment(ctx, made)
            hooks = waiting_sd.get("lifecycleHookDetails") or []
            awaiting = [h for h in hooks if h.get("status") == "AWAITING_ACTION"]
            recorded = decisions_of(pushed.routes, "deployment-events", made.arn)
            held = running(ctx, made)

            answer = ctx.approve(made.name, None)
            ctx.sandbox.timeline.add("event", f"autopilot approve {made.name}: {answer.message}")
            routes = ctx.sim.settle()  # ECS goes on: production traffic, then the bake
            routes += ctx.sim.advance(2)
            done = newest_deployment(ctx, made)
            approved = decisions_of(routes, "deployment-events", made.arn)
        finally:
            _set_tags(ctx, made.arn, {contract.TAG_STRATEGY: CANARY})
            ctx.ecs().untag_resource(resourceArn=made.arn, tagKeys=[contract.TAG_APPROVAL])
            _drop_pause_hook(ctx, made)
        return [
            no_failure(pushed.routes + routes),
            Check(
                "the deployment waits at the PAUSE hook at PRE_PRODUCTION_TRAFFIC_SHIFT, "
                "recorded awaiting approval",
                waiting_sd.get("status") == "IN_PROGRESS"
                and waiting_sd.get("lifecycleStage") == "PRE_PRODUCTION_TRAFFIC_SHIFT"
                and len(awaiting) == 1
                and awaiting[0].get("targetType") == "PAUSE"
                and "awaiting-approval" in recorded
                and before in held,
                f"{waiting_sd.get('status')} at {waiting_sd.get('lifecycleStage')}; "
                f"{', '.join(recorded)}",
            ),
            Check(
                "`autopilot approve` (no digest) continued it",
                answer.ok and answer.changed,
                answer.message,
            ),
            Check(
                f"the deployment completed: {REPOSITORY}@{pushed.digest[:19]}... runs everywhere",
                done.get("status") == "SUCCESSFUL"
                and ctx.running_digest_everywhere(svc, pushed.digest),
                str(done.get("status")),
            ),
            Check("the approval is recorded", "approved" in approved, ", ".join(approved)),
        ]


def _drop_pause_hook(ctx: DemoContext, made: Staged) -> None:
    """The service's ``deploymentConfiguration`` without the PAUSE hook the approval's deploy
    put there (what autopilot's next deploy would drop), and back on its canary."""
    config = dict(ctx.describe_service(made.arn).get("deploymentConfiguration") or {})
    hooks = [h for h in config.get("lifecycleHooks") or [] if h.get("targetType") != "PAUSE"]
    config["lifecycleHooks"] = hooks
    ctx.ecs().update_service(cluster=made.cluster, service=made.arn, deploymentConfiguration=config)


class DeployOutsideRefusedByAdmission:
    title = "A deploy outside autopilot is refused by the admission hook"

    def run(self, ctx: DemoContext) -> list[Check]:
        made = staged(ctx)
        try:
            return self._tell(ctx, made)
        finally:
            tear_down(ctx, made)

    def _tell(self, ctx: DemoContext, made: Staged) -> list[Check]:
        assert ctx.sandbox.clients is not None
        assert ctx.sandbox.router is not None
        clients = ctx.sandbox.clients
        digest: str | None = ctx.story.get("alarmed")
        if digest is None:  # told alone: quarantine a push as the first scene would have
            digest = ctx.sim.push(REPOSITORY, made.next_tag()).digest
            ledger(ctx).state.quarantine(made.arn, digest, reason="alarm", event_id="demo")
        ecs = ctx.ecs()
        current = ctx.describe_service(made.arn)
        config = current.get("deploymentConfiguration") or {}
        admission_fn = ctx.sandbox.router.function("admission").arn
        carries = any(
            h.get("hookTargetArn") == admission_fn for h in config.get("lifecycleHooks") or []
        )
        before = current["taskDefinition"]
        # a notice queue on the topic, to read what the hook announced
        topic = ctx.sandbox.router.function("admission").environment["NOTICES_TOPIC_ARN"]
        sqs, sns = clients("sqs"), clients("sns")
        queue = sqs.create_queue(QueueName=f"{made.name}-notices")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
        try:
            # what `aws ecs update-service`, the console or another tool does: a task
            # definition with the quarantined digest, and nothing of autopilot's
            td = ecs.describe_task_definition(taskDefinition=before)["taskDefinition"]
            image = next(
                c["image"] for c in td["containerDefinitions"] if f"/{REPOSITORY}" in c["image"]
            )
            containers = [
                {**c, "image": image.split("@")[0].split(":")[0] + "@" + digest}
                if c["image"] == image
                else c
                for c in td["containerDefinitions"]
            ]
            keep = ("cpu", "memory", "networkMode", "requiresCompatibilities")
            roles = {k: td[k] for k in ("taskRoleArn", "executionRoleArn") if td.get(k)}
            bad_td = ecs.register_task_definition(
                family=td["family"],
                containerDefinitions=containers,
                **{k: td[k] for k in keep if k in td},
                **roles,
            )["taskDefinition"]["taskDefinitionArn"]
            invoked = len(ctx.sim.delivery.invocations)
            ecs.update_service(cluster=made.cluster, service=made.arn, taskDefinition=bad_td)
            ctx.sandbox.timeline.add(
                "event", f"update-service {made.name} to {REPOSITORY}@{digest[:19]}... (outside)"
            )
            routes = ctx.sim.settle()
            routes += ctx.sim.advance(1)
            sd = newest_deployment(ctx, made)
            answers = [
                a
                for fn, _payload, a in ctx.sim.delivery.invocations[invoked:]
                if fn == ctx.sandbox.router.function("admission").name
            ]
            notices = [
                json.loads(m["Body"]).get("Message", "")
                for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
            ]
        finally:
            with contextlib.suppress(Exception):
                sns.unsubscribe(SubscriptionArn=sub)
            with contextlib.suppress(Exception):
                sqs.delete_queue(QueueUrl=queue)
        answer: dict[str, Any] = (answers[0] if answers else None) or {}
        reason = str((answer.get("hookDetails") or {}).get("reason", ""))
        recorded = [
            str(d.get("outcome"))
            for d in ledger(ctx).decisions.list(made.arn, limit=20)
            if d.get("function") == "admission" and d.get("digest") == digest
        ]
        still = [
            t
            for t in running(ctx, made)
            if any(
                c["image"].endswith("@" + digest)
                for c in ecs.describe_task_definition(taskDefinition=t)["taskDefinition"][
                    "containerDefinitions"
                ]
            )
        ]
        return [
            no_failure(routes),
            Check(
                f"{made.name} carries the admission hook (PRE_SCALE_UP)",
                carries,
                ", ".join(str(h.get("hookTargetArn")) for h in config.get("lifecycleHooks") or []),
            ),
            Check(
                "the admission hook answered FAILED with the reason",
                answer.get("hookStatus") == "FAILED" and "quarantined" in reason,
                f"{answer.get('hookStatus')}: {reason}",
            ),
            Check(
                "ECS rolled the deployment back: the previous revision runs",
                sd.get("status") == "ROLLBACK_SUCCESSFUL"
                and running(ctx, made) == {before}
                and ctx.describe_service(made.arn)["taskDefinition"] == before,
                str(sd.get("status")),
            ),
            Check(
                "the refusal is a decision in the ledger and a notice on the topic",
                "quarantined" in recorded and any(digest in n for n in notices),
                f"admission: {', '.join(recorded) or 'nothing'}; {len(notices)} notice(s)",
            ),
            Check("nothing of the quarantined digest runs", not still),
        ]


__all__ = [
    "SCENES",
    "CanaryRolledBackByItsAlarm",
    "DeployOutsideRefusedByAdmission",
    "ManualTrafficApproval",
    "Staged",
    "staged",
    "tear_down",
]

#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [
    CanaryRolledBackByItsAlarm,
    ManualTrafficApproval,
    DeployOutsideRefusedByAdmission,
]
