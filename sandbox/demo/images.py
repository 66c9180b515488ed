"""The image scenes: a clean push deploys the pinned digest, a vulnerable one is blocked, a
crashing one is rolled back and quarantined, duplicate deliveries change nothing, and a
push whose events were lost is deployed by the reconciler's sweep."""

from __future__ import annotations

import time
import uuid

from autopilot import contract

from sandbox.demo.framework import (
    Check,
    DemoContext,
    Scene,
    done_actions,
    next_version,
    no_failure,
    outcomes,
)
from sandbox.router import RouteResult
from sandbox.simulator import PushResult


class CleanPushDeploys:
    title = "A clean push deploys the pinned digest"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.pick_service()
        repo = svc["tags"][contract.TAG_REPOSITORY]
        ctx.story["service"] = svc
        res: PushResult = ctx.sim.push(repo, "1.0.0")
        ctx.story["good"] = res
        image = ctx.image(svc)
        return [
            no_failure(res.routes),
            Check(
                f"{svc['name']} runs {repo}@{res.digest[:19]}...",
                image.endswith("@" + res.digest),
                image,
            ),
            Check(
                "every running task is on the pinned digest",
                ctx.running_digest_everywhere(svc, res.digest),
            ),
            Check(
                "the deployment completed and became last known good",
                "last-known-good" in outcomes(res.routes, "deployment-events"),
                ", ".join(outcomes(res.routes, "deployment-events")),
            ),
        ]


class VulnerablePushBlocked:
    title = "A vulnerable push is blocked by the scan gate"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][contract.TAG_REPOSITORY]
        before, revisions = ctx.task_definition(svc), ctx.revisions(svc)
        res = ctx.sim.push(repo, "1.1.0", findings={"CRITICAL": 1, "HIGH": 2})
        return [
            no_failure(res.routes),
            Check(
                "the decision is 'blocked'",
                "blocked" in outcomes(res.routes, "image-events"),
                ", ".join(outcomes(res.routes)),
            ),
            Check(
                f"{svc['name']} still runs its task definition", ctx.task_definition(svc) == before
            ),
            Check("no task definition was registered", ctx.revisions(svc) == revisions),
        ]


class CrashingImageRolledBack:
    title = "A crashing image fails, is rolled back and quarantined"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][contract.TAG_REPOSITORY]
        before = ctx.task_definition(svc)
        res = ctx.sim.push(repo, "1.2.0", crashing=True)
        ctx.story["bad"] = res
        dep = outcomes(res.routes, "deployment-events")
        good: PushResult | None = ctx.story.get("good")
        checks = [
            no_failure(res.routes),
            Check(
                "image-events deployed it",
                "deployed" in outcomes(res.routes, "image-events"),
                ", ".join(outcomes(res.routes, "image-events")),
            ),
            Check(
                "the deployment failed and the digest is quarantined",
                "quarantined" in dep,
                ", ".join(dep),
            ),
            Check(
                f"{svc['name']} is back on its previous task definition",
                ctx.task_definition(svc) == before,
                ctx.task_definition(svc),
            ),
        ]
        if good is not None:
            checks.append(
                Check(
                    "every running task is on the last known good digest",
                    ctx.running_digest_everywhere(svc, good.digest),
                )
            )
        return checks


class DuplicatePushChangesNothing:
    title = "Duplicate deliveries change nothing"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        before, revisions = ctx.task_definition(svc), ctx.revisions(svc)
        routes: list[RouteResult] = []
        for key in ("good", "bad"):
            pushed: PushResult | None = ctx.story.get(key)
            for event in pushed.events if pushed else []:
                routes += ctx.sim.emit(
                    event, label=f"again: {event['detail-type']} {event['id'][:8]} ({key} image)"
                )
        good = ctx.story.get("good")
        if good is not None:
            # the same image pushed again: a new event for a digest the service already runs
            again = {**good.events[0], "id": str(uuid.uuid4()), "time": _now_iso()}
            routes += ctx.sim.emit(
                again, label=f"the same image pushed again: new event {again['id'][:8]}"
            )
        bad = ctx.story.get("bad")
        quarantined_again: list[str] = []
        if bad is not None:
            # the quarantined image's events arrive again as new events (a re-scan, a re-tag):
            # the rollback is not undone
            for event in bad.events:
                fresh = {**event, "id": str(uuid.uuid4()), "time": _now_iso()}
                got = ctx.sim.emit(
                    fresh, label=f"the quarantined image again: new {event['detail-type']}"
                )
                routes += got
                quarantined_again += outcomes(got, "image-events")
        acted = [a for a in done_actions(routes) if not a.startswith(("dynamodb", "sns"))]
        checks = []
        if bad is not None:
            checks.append(
                Check(
                    "the quarantined digest is refused when it comes again",
                    "quarantined" in quarantined_again,
                    ", ".join(quarantined_again),
                )
            )
        checks += [
            no_failure(routes),
            Check("no ECS change was made", not acted, ", ".join(acted)),
            Check(
                f"{svc['name']} still runs the same task definition",
                ctx.task_definition(svc) == before,
            ),
            Check("no task definition was registered", ctx.revisions(svc) == revisions),
        ]
        return checks


class LostPushDeployedBySweep:
    title = "A push whose events were lost is deployed by the reconciler's sweep"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][contract.TAG_REPOSITORY]
        before = ctx.task_definition(svc)
        res = ctx.sim.push(repo, next_version(ctx, repo), drop_event=True)
        lost = [e for e in res.events if e in ctx.sim.dropped]
        unchanged = ctx.task_definition(svc) == before
        ctx.sandbox.timeline.add(
            "note", "the image and its scan result are in ECR; the reconciler's schedule fires"
        )
        sweep = ctx.sim.tick("reconcile")
        image = ctx.image(svc)
        return [
            Check(
                "the push's events never reached the rules",
                not res.routes and len(lost) == len(res.events),
                f"{len(lost)} of {len(res.events)} lost, {len(res.routes)} delivered",
            ),
            Check(f"nothing changed on the push: {svc['name']} runs the same revision", unchanged),
            no_failure(sweep),
            Check(
                "the reconciler deployed it",
                "deployed" in outcomes(sweep, contract.RECONCILER.name),
                ", ".join(outcomes(sweep, contract.RECONCILER.name)),
            ),
            Check(
                f"{svc['name']} runs {repo}@{res.digest[:19]}... on every task",
                image.endswith("@" + res.digest) and ctx.running_digest_everywhere(svc, res.digest),
                image,
            ),
            Check(
                "the deployment completed and became last known good",
                "last-known-good" in outcomes(sweep, "deployment-events"),
                ", ".join(outcomes(sweep, "deployment-events")),
            ),
        ]


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [
    CleanPushDeploys,
    VulnerablePushBlocked,
    CrashingImageRolledBack,
    DuplicatePushChangesNothing,
    LostPushDeployedBySweep,
]
