"""3. AWS calls per reaction, counted at the botocore level (``before-call`` hooks) in moto.

- push -> deploy of one service (``autopilot:scan=off``, so the push itself deploys);
- a push to a repository tracked by 20 services, in a cluster of 20 and of 300 services
  (280 that do not track it: half tagged for another repository, half untagged). The
  count must be the same;
- beside it, in the same cluster, the naive discovery (ListServices, DescribeServices in
  batches of 10, ListTagsForResource per service), then the same per-service deploy calls;
- push -> deploy of one service with 1,000 services present over four managed clusters
  (the control plane of an existing estate).
Counts are deterministic: one run each.
"""

from __future__ import annotations

from typing import Any

from bench.common import Figure, Section, verdict
from tests.estate import CLUSTER, CLUSTER_ARN, REGISTRY, Estate, functions_environment

TARGET_ONE = 6
FLOOR = 4
REPO = "bench/web"
TRACKED = 20
CLUSTER_SIZE = 300
ESTATE_SIZE = 1000
ESTATE_CLUSTERS = 4


def _deploy_one() -> tuple[dict[str, int], int, str]:
    from autopilot.handlers import image_events  # noqa: PLC0415

    with functions_environment(log_level="WARNING"), Estate() as w:
        w.push(REPO, "v1.2.0")
        svc = w.service("web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
        digest = w.push(REPO, "v1.3.0")
        event = w.push_event(REPO, digest, "v1.3.0")
        w.reset_counts()
        report = image_events.run(event, aws=w.clients)
        ledger = sum(v for k, v in w.calls.items() if k.split(":")[0] in ("dynamodb", "sns"))
        return w.aws_calls(), ledger, report.outcomes().get(svc, "?")


def _one_among(present: int, clusters: int) -> tuple[dict[str, int], str]:
    """push -> deploy of one service, ``present`` services over ``clusters`` managed ones."""
    import os  # noqa: PLC0415

    from autopilot.handlers import image_events  # noqa: PLC0415
    from autopilot.settings import get_settings  # noqa: PLC0415

    with functions_environment(log_level="WARNING"), Estate() as w:
        arns = [CLUSTER_ARN, *(w.cluster(f"bench-{i}") for i in range(1, clusters))]
        saved = os.environ.get("CLUSTER_ARNS")
        os.environ["CLUSTER_ARNS"] = ",".join(arns)
        get_settings.cache_clear()
        try:
            w.push(REPO, "v1.2.0")
            td = w.task_definition("other", f"{REGISTRY}/bench/other:v1.0.0")
            for i in range(present - 1):
                cluster = arns[i % clusters].rsplit("/", 1)[-1]
                tags = {"autopilot:repository": "bench/other"} if i % 2 == 0 else {}
                w.service(f"svc-{i:04d}", task_definition=td, tags=tags, cluster=cluster)
            svc = w.service(
                "web", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"}, cluster="bench-1"
            )
            digest = w.push(REPO, "v1.3.0")
            event = w.push_event(REPO, digest, "v1.3.0")
            w.reset_counts()
            report = image_events.run(event, aws=w.clients)
            return w.aws_calls(), report.outcomes().get(svc, "?")
        finally:
            if saved is None:
                os.environ.pop("CLUSTER_ARNS", None)
            else:
                os.environ["CLUSTER_ARNS"] = saved
            get_settings.cache_clear()


def _scan_gated() -> tuple[dict[str, int], dict[str, int], str]:
    """The default gate (``autopilot:scan`` = critical): the push waits, the scan deploys."""
    from autopilot.handlers import image_events  # noqa: PLC0415

    with functions_environment(log_level="WARNING"), Estate() as w:
        w.push(REPO, "v1.2.0")
        svc = w.service("web", REPO, tag="v1.2.0")
        digest = w.push(REPO, "v1.3.0")
        push = w.push_event(REPO, digest, "v1.3.0")
        w.reset_counts()
        image_events.run(push, aws=w.clients)
        on_push = w.aws_calls()
        scan = w.scan_event(REPO, digest, tags=["v1.3.0"])  # ECR holds the scan from now on
        w.reset_counts()
        report = image_events.run(scan, aws=w.clients)
        return on_push, w.aws_calls(), report.outcomes().get(svc, "?")


def _fleet(untracked: int, *, naive: bool) -> dict[str, Any]:
    from autopilot.handlers import image_events  # noqa: PLC0415

    with functions_environment(log_level="WARNING"), Estate() as w:
        w.push(REPO, "v1.2.0")
        w.push("bench/other", "v1.0.0")
        for i in range(TRACKED):
            w.service(f"web-{i:02d}", REPO, tag="v1.2.0", tags={"autopilot:scan": "off"})
        td_other = w.task_definition("other", f"{REGISTRY}/bench/other:v1.0.0")
        for i in range(untracked):
            tags = {"autopilot:repository": "bench/other"} if i % 2 == 0 else {"team": "x"}
            w.service(f"other-{i:03d}", task_definition=td_other, tags=tags)
        digest = w.push(REPO, "v1.3.0")
        event = w.push_event(REPO, digest, "v1.3.0")
        w.reset_counts()
        report = image_events.run(event, aws=w.clients)
        autopilot = w.aws_calls()
        deployed = sum(1 for o in report.outcomes().values() if o == "deployed")
        out: dict[str, Any] = {"autopilot": autopilot, "deployed": deployed}
        if naive:
            w.reset_counts()
            _naive_discovery(w)
            discovery = w.aws_calls()
            # after discovery the naive updater needs what autopilot needs per service
            per_service = {
                k: v
                for k, v in autopilot.items()
                if k not in ("resource-groups-tagging-api:GetResources", "ecs:DescribeServices")
            }
            naive_total = dict(discovery)
            for k, v in per_service.items():
                naive_total[k] = naive_total.get(k, 0) + v
            out["naive_discovery"] = discovery
            out["naive"] = dict(sorted(naive_total.items()))
        return out


def _naive_discovery(w: Estate) -> list[str]:
    """List every service, describe each (batches of 10), list each one's tags."""
    arns: list[str] = []
    for page in w.ecs.get_paginator("list_services").paginate(
        cluster=CLUSTER, PaginationConfig={"PageSize": 100}
    ):
        arns += page["serviceArns"]
    # moto answers in one page; ECS pages ListServices by at most 100
    pages = -(-len(arns) // 100)
    w.calls["ecs:ListServices"] = max(w.calls["ecs:ListServices"], pages)
    tracking = []
    for i in range(0, len(arns), 10):
        batch = w.ecs.describe_services(cluster=CLUSTER, services=arns[i : i + 10])["services"]
        for svc in batch:
            tags = w.ecs.list_tags_for_resource(resourceArn=svc["serviceArn"])["tags"]
            if any(t["key"] == "autopilot:repository" and t["value"] == REPO for t in tags):
                tracking.append(svc["serviceArn"])
    return tracking


def run(*, quick: bool) -> Section:
    section = Section(
        key="aws-calls",
        title="3. AWS calls per reaction (botocore before-call hooks, moto mock_aws)",
        command="python -m bench.run --only aws-calls",
    )
    calls, ledger, outcome = _deploy_one()
    total = sum(calls.values())
    section.figures.append(
        Figure(
            name="push -> deploy, one service (besides ledger DynamoDB and notice SNS)",
            unit="calls",
            values=[total],
            target=f"<= {TARGET_ONE} (floor {FLOOR})",
            verdict=verdict(total <= TARGET_ONE and outcome == "deployed"),
            why="" if total <= TARGET_ONE else "more calls than the budget",
            extra={"calls": calls, "ledger_and_notice_calls": ledger, "outcome": outcome},
        )
    )
    present = 40 if quick else ESTATE_SIZE
    among, among_outcome = _one_among(present, ESTATE_CLUSTERS)
    n_among = sum(among.values())
    section.figures.append(
        Figure(
            name=(
                f"push -> deploy, one service, {present} services present over "
                f"{ESTATE_CLUSTERS} managed clusters"
            ),
            unit="calls",
            values=[n_among],
            target=f"<= {TARGET_ONE}, whatever the services present",
            verdict=verdict(n_among <= TARGET_ONE and among_outcome == "deployed"),
            why="" if n_among <= TARGET_ONE else f"more calls than the budget: {among}",
            extra={"calls": among, "outcome": among_outcome},
        )
    )
    on_push, on_scan, scan_outcome = _scan_gated()
    section.figures.append(
        Figure(
            name="scan-gated push, then the scan result -> deploy, one service",
            unit="calls",
            values=[sum(on_push.values()) + sum(on_scan.values())],
            extra={
                "calls": {f"push: {k}": v for k, v in on_push.items()}
                | {f"scan: {k}": v for k, v in on_scan.items()},
                "outcome": scan_outcome,
            },
        )
    )
    untracked = 28 if quick else CLUSTER_SIZE - TRACKED
    small = _fleet(0, naive=False)
    big = _fleet(untracked, naive=True)
    n_small, n_big = sum(small["autopilot"].values()), sum(big["autopilot"].values())
    n_naive = sum(big["naive"].values())
    same = small["autopilot"] == big["autopilot"]
    section.figures.append(
        Figure(
            name=f"push -> deploy, {TRACKED} tracking services, cluster of {TRACKED}",
            unit="calls",
            values=[n_small],
            extra={"calls": small["autopilot"], "deployed": small["deployed"]},
        )
    )
    section.figures.append(
        Figure(
            name=f"push -> deploy, {TRACKED} tracking services, cluster of {TRACKED + untracked}",
            unit="calls",
            values=[n_big],
            target=f"same as in a cluster of {TRACKED} ({n_small})",
            verdict=verdict(same and big["deployed"] == TRACKED),
            why="" if same else f"depends on the untracked services: {big['autopilot']}",
            extra={"calls": big["autopilot"], "deployed": big["deployed"]},
        )
    )
    section.figures.append(
        Figure(
            name=f"naive updater, same push, cluster of {TRACKED + untracked}",
            unit="calls",
            values=[n_naive],
            extra={
                "calls": big["naive"],
                "discovery_calls": big["naive_discovery"],
                "ratio": round(n_naive / n_big, 2),  # naive / autopilot
            },
        )
    )
    section.notes.append(
        f"Naive / autopilot in the cluster of {TRACKED + untracked}: {n_naive} / {n_big} = "
        f"{n_naive / n_big:.1f}x. Autopilot finds the tracking services with one "
        "Resource Groups Tagging API GetResources call (tag filter) and describes only those; "
        "the naive updater lists and describes every service and reads every service's tags. "
        "moto answers ListServices in one page; the naive count uses the pages ECS needs "
        "(100 services a page)."
    )
    section.notes.append(
        "Per tracking service autopilot pays DescribeTaskDefinition (one per distinct "
        "revision; here each service has its own), RegisterTaskDefinition and UpdateService; "
        "DescribeServices is batched by 10 and DescribeImages is one call per push."
    )
    return section
