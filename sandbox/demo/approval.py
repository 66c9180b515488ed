"""The operator scene: manual approval, `autopilot approve`.

The demo config approves automatically everywhere, so the scene switches one service to
manual approval with the tag the config would write (``autopilot:approval=manual``) and
puts it back at the end. The approval is given by what `autopilot approve` runs: the
command line hands it to the demo as ``ctx.approve`` (``cli.invoke.approver``), so the
sandbox does not import the command line.
"""

from __future__ import annotations

from autopilot import contract

from sandbox.demo.framework import Check, DemoContext, Scene, next_version, no_failure, outcomes
from sandbox.router import RouteResult


class ManualApprovalDeploysOnApprove:
    title = "Under manual approval a push waits; `autopilot approve` deploys it, once"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = ctx.story.get("service") or ctx.pick_service()
        repo = svc["tags"][contract.TAG_REPOSITORY]
        ecs = ctx.ecs()
        previous = svc["tags"].get(contract.TAG_APPROVAL)
        ecs.tag_resource(
            resourceArn=svc["arn"], tags=[{"key": contract.TAG_APPROVAL, "value": "manual"}]
        )
        ctx.sandbox.timeline.add("event", f"{svc['name']} switched to manual approval")
        try:
            before, revisions = ctx.task_definition(svc), ctx.revisions(svc)
            pushed = ctx.sim.push(repo, next_version(ctx, repo))
            waiting = outcomes(pushed.routes, "image-events")
            held = ctx.task_definition(svc) == before and ctx.revisions(svc) == revisions

            first = ctx.approve(svc["name"], pushed.digest)
            ctx.sandbox.timeline.add("event", f"autopilot approve: {first.message}")
            routes = ctx.sim.settle()  # the deployment the approval started
            deployed_revisions = ctx.revisions(svc)
            second = ctx.approve(svc["name"], pushed.digest)
            ctx.sandbox.timeline.add("event", f"autopilot approve again: {second.message}")
            completed = outcomes(routes, "deployment-events")
        finally:
            if previous is None:
                ecs.untag_resource(resourceArn=svc["arn"], tagKeys=[contract.TAG_APPROVAL])
            else:
                ecs.tag_resource(
                    resourceArn=svc["arn"], tags=[{"key": contract.TAG_APPROVAL, "value": previous}]
                )
        lead = _lead_time(routes)
        return [
            no_failure(pushed.routes + routes),
            Check(
                "the push is recorded as pending approval, nothing deployed",
                "pending-approval" in waiting and held,
                ", ".join(waiting),
            ),
            Check(
                f"`autopilot approve` deployed {repo}@{pushed.digest[:19]}...",
                first.ok and first.changed and ctx.image(svc).endswith("@" + pushed.digest),
                first.message,
            ),
            Check(
                "the deployment completed and became last known good (with its lead time)",
                "last-known-good" in completed and lead is not None,
                f"{', '.join(completed)}; lead time {lead} s",
            ),
            Check(
                "approving again changes nothing",
                second.ok and not second.changed and ctx.revisions(svc) == deployed_revisions,
                second.message,
            ),
        ]


def _lead_time(routes: list[RouteResult]) -> float | None:
    for r in routes:
        if r.ok and r.report and r.function == "deployment-events":
            for d in r.report.get("decisions") or []:
                if d.get("lead_time_seconds") is not None:
                    return float(d["lead_time_seconds"])
    return None


__all__ = ["SCENES", "ManualApprovalDeploysOnApprove", "next_version"]

#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [ManualApprovalDeploysOnApprove]
