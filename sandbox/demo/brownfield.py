"""The brownfield scenes: a cluster made outside the app (``sandbox.brownfield``: plain API
calls, as Terraform or the console make one) is adopted with `autopilot adopt --apply`;
then a push to its repository deploys the adopted service pinned by digest (and never its
CodeDeploy neighbour, even tagged by hand), a crashing push is rolled back and quarantined,
and a zone's lost tasks come back spread.

`autopilot adopt` is what the command line runs (``ctx.adopt``, given by it: the sandbox
does not import the command line). The scenes are told when the sandbox holds the
brownfield estate (``Sandbox(brownfield=True)``) and the control plane manages its
cluster (the config names it); else they are skipped with the reason.
"""

from __future__ import annotations

from typing import Any

from autopilot import contract

from sandbox import brownfield as bf
from sandbox.demo.framework import (
    Check,
    DemoContext,
    Scene,
    Skipped,
    actions_by,
    balanced,
    next_version,
    no_failure,
    outcomes,
)
from sandbox.router import RouteResult

SHOP = "shop"
NEIGHBOUR = "shop-bluegreen"  # the CODE_DEPLOY service running the same repository


def _estate(ctx: DemoContext) -> bf.BrownfieldEstate:
    estate = ctx.sandbox.brownfield
    if estate is None:
        raise Skipped("the sandbox holds no brownfield estate (Sandbox(brownfield=True))")
    return estate


def _adopted(ctx: DemoContext) -> dict[str, Any]:
    """The adopted shop service (as ``tracked_services`` shows it), once the first scene
    adopted it; else the reason it did not."""
    _estate(ctx)
    why = ctx.story.get("brownfield-skipped")
    if why:
        raise Skipped(why)
    svc = next((s for s in ctx.tracked_services() if s["name"] == SHOP), None)
    if svc is None or contract.TAG_REPOSITORY not in svc["tags"]:
        raise Skipped(f"{SHOP} was not adopted (the adoption scene did not pass)")
    return svc


def _autopilot_tags(ctx: DemoContext, name: str) -> dict[str, str]:
    return {k: v for k, v in ctx.tags(name).items() if k.startswith(contract.TAG_PREFIX)}


class BrownfieldAdopted:
    title = "`autopilot adopt` judges a brownfield cluster's services; --apply opts them in"

    def run(self, ctx: DemoContext) -> list[Check]:
        estate = _estate(ctx)
        dry = ctx.adopt(estate.cluster_arn)
        found = {s["service"]: s for s in dry["services"]}
        if any(r["code"] == "cluster-not-managed" for s in found.values() for r in s["reasons"]):
            managed = ", ".join(c.rsplit("/", 1)[-1] for c in dry["control_plane"]["clusters"])
            why = (
                f"the control plane manages {managed}, not cluster {bf.CLUSTER}: "
                "the config names no such cluster to manage"
            )
            ctx.story["brownfield-skipped"] = why
            raise Skipped(why)
        untouched = all(not _autopilot_tags(ctx, name) for name in estate.services)
        applied = ctx.adopt(estate.cluster_arn, apply=True)
        written = {s["service"]: s["written"] for s in applied["services"]}
        shop = _autopilot_tags(ctx, SHOP)
        checks = [
            Check(
                "the dry run wrote nothing",
                untouched and dry["summary"]["written"] == 0,
                str(dry["summary"]),
            )
        ]
        for spec in bf.SERVICES:
            got = found.get(spec.name, {})
            codes = [r["code"] for r in got.get("reasons", [])]
            checks.append(
                Check(
                    f"{spec.name}: {spec.verdict}" + (f" ({spec.because})" if spec.because else ""),
                    got.get("verdict") == spec.verdict
                    and (spec.because is None or spec.because in codes),
                    f"{got.get('verdict')}: {', '.join(codes)}",
                )
            )
        checks += [
            Check(
                f"--apply tagged {SHOP} to track {bf.SHOP_REPOSITORY} (container app)",
                applied["ok"]
                and shop.get(contract.TAG_REPOSITORY) == bf.SHOP_REPOSITORY
                and shop.get(contract.TAG_CONTAINER) == "app",
                str(shop),
            ),
            Check(
                f"{NEIGHBOUR} (CODE_DEPLOY) got no tag",
                not written.get(NEIGHBOUR) and not _autopilot_tags(ctx, NEIGHBOUR),
                str(_autopilot_tags(ctx, NEIGHBOUR)),
            ),
        ]
        return checks


class BrownfieldPushDeploys:
    title = (
        "A push to the adopted service's repository deploys it pinned by digest; "
        "its CodeDeploy neighbour is never updated"
    )

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = _adopted(ctx)
        ecs = ctx.ecs()
        neighbour = ctx.sim.service(NEIGHBOUR)
        before = ctx.describe_service(NEIGHBOUR)["taskDefinition"]
        # someone tags the CodeDeploy service by hand, as adopt never would
        ecs.tag_resource(
            resourceArn=neighbour.arn,
            tags=[{"key": contract.TAG_REPOSITORY, "value": bf.SHOP_REPOSITORY}],
        )
        try:
            res = ctx.sim.push(bf.SHOP_REPOSITORY, next_version(ctx, bf.SHOP_REPOSITORY))
        finally:
            ecs.untag_resource(resourceArn=neighbour.arn, tagKeys=[contract.TAG_REPOSITORY])
        ctx.story["brownfield-good"] = res
        image = ctx.image(svc)
        family = ctx.task_definition({"arn": neighbour.arn}).rsplit("/", 1)[-1].split(":")[0]
        touched = [
            a.get("api")
            for r in res.routes
            if r.report
            for a in r.report.get("actions") or []
            if str((a.get("params") or {}).get("service", "")).endswith(f"/{NEIGHBOUR}")
            or (a.get("params") or {}).get("family") == family
        ]
        return [
            no_failure(res.routes),
            Check(
                f"{SHOP} runs {bf.SHOP_REPOSITORY}@{res.digest[:19]}...",
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
            Check(
                f"{NEIGHBOUR}, tagged by hand, was not updated (its controller is CODE_DEPLOY)",
                not touched and ctx.describe_service(NEIGHBOUR)["taskDefinition"] == before,
                ", ".join(str(t) for t in touched)
                or ctx.describe_service(NEIGHBOUR)["taskDefinition"],
            ),
        ]


class BrownfieldCrashRolledBack:
    title = "A crashing push to the adopted service is rolled back and quarantined"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = _adopted(ctx)
        before = ctx.task_definition(svc)
        res = ctx.sim.push(bf.SHOP_REPOSITORY, next_version(ctx, bf.SHOP_REPOSITORY), crashing=True)
        dep = outcomes(res.routes, "deployment-events")
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
                f"{SHOP} is back on its previous task definition",
                ctx.task_definition(svc) == before,
                ctx.task_definition(svc),
            ),
        ]
        good = ctx.story.get("brownfield-good")
        if good is not None:
            checks.append(
                Check(
                    "every running task is on the last known good digest",
                    ctx.running_digest_everywhere(svc, good.digest),
                )
            )
        return checks


class BrownfieldZonesBalanced:
    title = "The adopted service loses a zone's tasks; autopilot restores the spread"

    def run(self, ctx: DemoContext) -> list[Check]:
        svc = _adopted(ctx)
        sim_svc = ctx.sim.service(SHOP)
        zone = next(z for z, n in sim_svc.spread().items() if n)
        desired = len(sim_svc.running())
        routes: list[RouteResult] = ctx.sim.stop_tasks(SHOP, zone)
        after = ctx.spread(SHOP)
        turned_on = [
            a
            for a in actions_by(routes, "task-events")
            if a.get("api") == "ecs:UpdateService"
            and a["params"].get("service") in (svc["arn"], SHOP)
            and a["params"].get("availabilityZoneRebalancing") == "ENABLED"
        ]
        return [
            no_failure(routes),
            Check("task-events turned ECS's AZ rebalancing on for it", bool(turned_on)),
            Check(
                f"{SHOP} runs {desired} tasks spread over the zones again",
                sum(after.values()) == desired and balanced(after),
                str(after),
            ),
        ]


#: this theme's scenes, in story order
SCENES: list[type[Scene]] = [
    BrownfieldAdopted,
    BrownfieldPushDeploys,
    BrownfieldCrashRolledBack,
    BrownfieldZonesBalanced,
]
