"""The installed `autopilot` command run as a user runs it (a process of its own, the entry
point in the virtualenv's bin/): aws-CLI habits, results alone on stdout, exit codes, the
errors for credentials, region, profile and endpoint problems, a closed pipe, colour.

The first tests need no sandbox (they are about the command line and AWS not being
reachable); the last ones run against the session's sandbox (``tests/e2e/conftest.py``),
after the demo's story, as `autopilot local up` would serve it to a second shell.
"""

# ruff: noqa: PLC0415 - imports are deferred: moto and the functions load only where used

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from autopilot import contract

from sandbox.core import Sandbox
from sandbox.server import free_port
from sandbox.synth import REPO_ROOT

AUTOPILOT = Path(sys.prefix) / "bin" / "autopilot"
EVENTS = REPO_ROOT / "events"
#: nothing listens there: a dead endpoint
DEAD = f"http://127.0.0.1:{free_port()}"
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}


def clean_env(tmp: Path, **extra: str) -> dict[str, str]:
    """A user's environment with nothing of AWS in it (no credentials, region, profile or
    config file; no instance metadata to ask), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "AUTOPILOT_", "POWERTOOLS_")) and k != "NO_COLOR"
    }
    env.update(
        AWS_CONFIG_FILE=str(tmp / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AUTOPILOT_SANDBOX_STATE=str(tmp / "no-state.json"),
    )
    env.update(extra)
    return env


def autopilot(
    *argv: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AUTOPILOT), *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The run printed nothing on stdout and exactly one ``error:`` line on stderr."""
    assert proc.stdout == "", proc.stdout
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# --------------------------------------------------------------------------- no sandbox
def test_global_options_before_or_after_the_command(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **FAKE_KEYS)
    for argv in (
        ["--version"],
        ["status", "--version"],
    ):
        proc = autopilot(*argv, env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith("autopilot "), proc.stdout
    before = autopilot("--json", "--region", "eu-west-1", "--endpoint-url", DEAD, "status", env=env)
    after = autopilot(
        "status", "--output", "json", "--region", "eu-west-1", "--endpoint", DEAD, env=env
    )
    mixed = autopilot("--region", "eu-west-1", "status", "--endpoint-url", DEAD, env=env)
    for proc in (before, after, mixed):
        assert proc.returncode == 3, proc.stderr
        assert DEAD in one_error_line(proc)
    proc = autopilot("status", "--output", "yaml", env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_a_dead_endpoint_is_named_not_a_missing_ledger_table(tmp_path: Path) -> None:
    env = clean_env(tmp_path, **FAKE_KEYS)
    for argv in (
        ["status"],
        ["history", "web"],
        ["approve", "web", "sha256:" + "0" * 64],
        ["pause", "web"],
        ["adopt", "demo-cluster"],
        ["invoke", "image-events", str(EVENTS / "ecr-image-push.json"), "--dry-run"],
    ):
        proc = autopilot(*argv, "--endpoint-url", DEAD, env=env)
        assert proc.returncode == 3, (argv, proc.stderr)
        line = one_error_line(proc)
        assert f"cannot reach the AWS endpoint {DEAD}" in line, line
        assert "ledger table" not in line
        assert "pydantic" not in proc.stderr.lower()


def test_invoke_with_no_endpoint_runs_in_a_throwaway_sandbox(tmp_path: Path) -> None:
    # no credentials, region, profile or endpoint: as a laptop with nothing of AWS on it
    env = clean_env(tmp_path)
    push = str(EVENTS / "ecr-image-push.json")
    proc = autopilot("invoke", "image-events", push, "--dry-run", "--output", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "throwaway sandbox" in proc.stderr
    doc = json.loads(proc.stdout)  # the result alone on stdout: the progress is on stderr
    assert doc["throwaway_sandbox"] is True
    assert doc["endpoint"] is None
    assert doc["function_name"] == "demo-image-events", "the deployed function's settings"
    assert doc["mutating_calls"] == []
    assert "ecr:DescribeImages" in doc["aws_calls"]
    # the event's account and region are the sandbox's: the deployed services were found
    assert [d["service"].rsplit("/", 1)[-1] for d in doc["report"]["decisions"]] == ["web"]
    # a run, not a plan: the reconciler's sweep reads the deployed estate and records it
    sweep = str(EVENTS / "scheduled-event-reconcile.json")
    proc = autopilot("invoke", "reconciler", sweep, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ok"] is True
    assert "ecs:DescribeServices" in doc["aws_calls"]
    # --aws asks for AWS itself: with no credentials, the one line that says so
    proc = autopilot("invoke", "image-events", push, "--dry-run", "--aws", env=env)
    assert proc.returncode == 3, proc.stderr
    assert "throwaway" not in proc.stderr


def test_no_credentials_is_one_line_with_the_fix(tmp_path: Path) -> None:
    env = clean_env(tmp_path, AWS_REGION="eu-west-1")
    for argv in (["status"], ["approve", "web", "sha256:" + "0" * 64]):
        proc = autopilot(*argv, env=env)
        assert proc.returncode == 3, proc.stderr
        line = one_error_line(proc)
        assert line.startswith("error: no AWS credentials found"), line
        assert "--profile" in line


def test_no_region_and_a_bad_region(tmp_path: Path) -> None:
    proc = autopilot("status", env=clean_env(tmp_path, **FAKE_KEYS))
    assert proc.returncode == 3
    assert "no AWS region: pass --region or set AWS_REGION" in one_error_line(proc)

    proc = autopilot("status", "--region", "mars-north-9", env=clean_env(tmp_path, **FAKE_KEYS))
    assert proc.returncode == 3
    line = one_error_line(proc)
    assert "mars-north-9" in line
    assert "--region" in line


def test_aws_region_alone_is_honoured(tmp_path: Path) -> None:
    # Given only AWS_REGION (botocore itself reads AWS_DEFAULT_REGION), and an endpoint that
    # is not the sandbox's and does not resolve: the error is about that host, not "no region"
    env = clean_env(tmp_path, AWS_REGION="eu-west-1", **FAKE_KEYS)
    proc = autopilot("status", "--endpoint-url", "http://no-such-host.invalid:4599", env=env)
    assert proc.returncode == 3
    line = one_error_line(proc)
    assert "no-such-host.invalid" in line
    assert "region" not in line.split(":", 2)[1]


def test_a_bad_profile_and_a_bad_endpoint_url(tmp_path: Path) -> None:
    env = clean_env(tmp_path, AWS_REGION="eu-west-1")
    proc = autopilot("--profile", "nobody", "status", env=env)
    assert proc.returncode == 3
    assert "(nobody) could not be found" in one_error_line(proc)

    proc = autopilot("status", "--endpoint-url", "127.0.0.1:4599", env={**env, **FAKE_KEYS})
    assert proc.returncode == 3
    assert "Invalid endpoint: 127.0.0.1:4599" in one_error_line(proc)


def test_local_emit_refuses_an_incomplete_envelope(tmp_path: Path) -> None:
    event = {"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {}}
    proc = autopilot("local", "emit", "-", env=clean_env(tmp_path), stdin=json.dumps(event))
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "not a complete EventBridge event" in line
    assert "lacks version, id, account, time, region, resources" in line


def test_local_up_refuses_a_region_it_does_not_serve(tmp_path: Path) -> None:
    proc = autopilot("local", "up", "--region", "us-east-1", env=clean_env(tmp_path))
    assert proc.returncode == 2
    assert "the sandbox serves one region, eu-west-1" in one_error_line(proc)


def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # whoever reads stdout has gone (`autopilot ... | head -1`)
    try:
        proc = subprocess.run(
            [str(AUTOPILOT), "--help"],
            env=clean_env(tmp_path),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert proc.returncode == 0
    assert proc.stderr == ""


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> str:
    """What ``autopilot argv`` writes on a terminal (stdout and stderr both a pty)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(AUTOPILOT), *argv], env=env, stdout=slave, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=10)
    os.close(master)
    return b"".join(chunks).decode(errors="replace")


def test_colour_only_on_a_terminal_and_never_when_asked_not_to(tmp_path: Path) -> None:
    env = clean_env(tmp_path, TERM="xterm", **FAKE_KEYS)
    argv = ["status", "--endpoint-url", DEAD]
    assert "\x1b[31merror:\x1b[0m" in _on_a_terminal(argv, env)
    assert "\x1b[" not in _on_a_terminal(argv, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in _on_a_terminal([*argv, "--no-color"], env)
    assert "\x1b[" not in autopilot(*argv, env=env).stderr  # a pipe is no terminal


# --------------------------------------------------------------------------- the sandbox
@pytest.fixture(scope="module")
def served(sandbox: Sandbox, demo_results: Any) -> Sandbox:
    """The session's sandbox, after the demo's story."""
    return sandbox


def at_sandbox(sb: Sandbox, tmp: Path) -> dict[str, str]:
    """A second shell's environment: what `local up`'s banner says to export."""
    return clean_env(
        tmp, AWS_ENDPOINT_URL=sb.endpoint, AWS_REGION="eu-west-1", AWS_DEFAULT_REGION="eu-west-1"
    )


def test_every_json_output_is_json_alone(served: Sandbox, tmp_path: Path) -> None:
    env = at_sandbox(served, tmp_path)
    for argv in (
        ["status", "--output", "json"],
        ["--json", "history", "web"],
        ["history", "web", "--json", "--limit", "3"],
        ["invoke", "image-events", str(EVENTS / "ecr-image-push.json"), "--dry-run", "--json"],
        ["adopt", "demo-cluster", "--json"],
    ):
        proc = autopilot(*argv, env=env)
        assert proc.returncode in (0, 1), (argv, proc.stderr)
        json.loads(proc.stdout)  # nothing but the JSON document


def test_invoke_prints_json_only_when_asked(served: Sandbox, tmp_path: Path) -> None:
    env = at_sandbox(served, tmp_path)
    proc = autopilot(
        "invoke", "image-events", str(EVENTS / "ecr-image-push.json"), "--dry-run", env=env
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert "dry run" in proc.stdout
    assert "aws calls:" in proc.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(proc.stdout)


def test_a_real_approval_prints_only_json_with_json(served: Sandbox, tmp_path: Path) -> None:
    from cli.invoke import approver
    from sandbox.demo import DemoContext, outcomes
    from sandbox.demo.approval import next_version

    ctx = DemoContext(served, approve=approver(served.endpoint))
    ecs = ctx.ecs()
    svc = next(s for s in ctx.tracked_services() if s["name"] == "web")
    before = {
        t["key"]: t["value"] for t in ecs.list_tags_for_resource(resourceArn=svc["arn"])["tags"]
    }
    ecs.tag_resource(
        resourceArn=svc["arn"], tags=[{"key": contract.TAG_APPROVAL, "value": "manual"}]
    )
    try:
        pushed = ctx.sim.push("demo/web", next_version(ctx, "demo/web"))
        assert "pending-approval" in outcomes(pushed.routes, "image-events")
        proc = autopilot(
            "approve", "web", pushed.digest, "--json", env=at_sandbox(served, tmp_path)
        )
    finally:
        # the tag as it was (the later tests compare the services' tags with the template)
        if contract.TAG_APPROVAL in before:
            value = before[contract.TAG_APPROVAL]
            ecs.tag_resource(
                resourceArn=svc["arn"], tags=[{"key": contract.TAG_APPROVAL, "value": value}]
            )
        else:
            ecs.untag_resource(resourceArn=svc["arn"], tagKeys=[contract.TAG_APPROVAL])
        ctx.sim.settle()
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # the Powertools log lines went to stderr
    assert doc["outcome"] == "deployed"


def test_status_into_a_closed_pipe_exits_0_quietly(served: Sandbox, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {AUTOPILOT} status | head -1"],
        env=at_sandbox(served, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert "BrokenPipe" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_history_orders_one_seconds_decisions_and_prints_task_ids(
    served: Sandbox, tmp_path: Path
) -> None:
    from autopilot.domain.report import Decision, Outcome
    from autopilot.store.ledger import Ledger

    assert served.clients is not None
    service = next(
        a
        for a in served.clients("ecs").list_services(cluster="demo-cluster")["serviceArns"]
        if a.endswith("/feed")
    )
    second = datetime.now(UTC).replace(microsecond=0)
    task = service.replace(":service/", ":task/").rsplit("/", 1)[0] + "/0123456789abcdef0123"
    # Given three decisions on events of one second, decided in this order (the event ids
    # sort the other way round, as random ids may)
    now = [second.timestamp()]
    ledger = Ledger(
        served.clients("dynamodb"), served.outputs["LedgerTableName"], clock=lambda: now[0]
    )
    decided = [
        ("zz-first", Outcome.DEBOUNCED),
        ("mm-second", Outcome.BALANCED),
        (f"{task}#7", Outcome.REBALANCED),
    ]
    for n, (event_id, outcome) in enumerate(decided):
        now[0] = second.timestamp() + 0.1 * (n + 1)
        ledger.decisions.record(
            Decision(service=service, outcome=outcome, reason=f"order {n}"),
            function="task-events",
            event_id=event_id,
            event_time=second,
        )

    env = at_sandbox(served, tmp_path)
    proc = autopilot("history", "feed", "--json", "--limit", "3", env=env)
    assert proc.returncode == 0, proc.stderr
    assert [r["reason"] for r in json.loads(proc.stdout)] == ["order 2", "order 1", "order 0"]

    proc = autopilot("history", "feed", "--limit", "1", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "[task-events task/0123456789ab#7]" in proc.stdout, proc.stdout

    proc = autopilot("history", "feed", "--limit", "3", "--output", "table", "--all", env=env)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["TIME", "OUTCOME", "IMAGE", "FUNCTION", "EVENT", "REASON"]
    assert len({line.index("task-events") for line in lines[1:]}) == 1  # aligned


def test_local_up_tells_the_region_it_serves_and_sees_any_client(tmp_path: Path) -> None:
    """The banner of a real `local up` (its own process, the environment naming another
    region) names the region the clusters are in: a client in that region finds them, and
    what that client changes plays out in the sandbox."""
    import boto3

    port = free_port()
    env = clean_env(tmp_path, AWS_REGION="us-east-1", AWS_DEFAULT_REGION="us-east-1")
    proc = subprocess.Popen(
        [str(AUTOPILOT), "local", "up", "--port", str(port), "--out", str(REPO_ROOT / "cdk.out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        assert proc.stdout is not None
        banner = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or line.startswith("stop with"):
                break
            banner.append(line)
        text = "".join(banner)
        assert f"AWS endpoint http://127.0.0.1:{port}, region eu-west-1" in text, text
        assert "the environment names region us-east-1; the sandbox serves eu-west-1" in text
        ecs = boto3.client(
            "ecs",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert ecs.list_clusters()["clusterArns"]
        # another client's UpdateService (as `aws ecs update-service` makes it) plays out
        # without any call to the sandbox's control endpoint: the deployment completes
        cluster = next(a for a in ecs.list_clusters()["clusterArns"] if "demo" in a)
        arn = ecs.list_services(cluster=cluster)["serviceArns"][0]
        svc = ecs.describe_services(cluster=cluster, services=[arn])["services"][0]
        td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])
        spec = {
            k: td["taskDefinition"][k]
            for k in ("family", "containerDefinitions", "networkMode", "cpu", "memory")
            if k in td["taskDefinition"]
        }
        spec["requiresCompatibilities"] = td["taskDefinition"].get("compatibilities", [])[:1]
        new_td = ecs.register_task_definition(**spec)["taskDefinition"]["taskDefinitionArn"]
        ecs.update_service(cluster=cluster, service=arn, taskDefinition=new_td)
        rollout = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            svc = ecs.describe_services(cluster=cluster, services=[arn])["services"][0]
            primary = next(d for d in svc["deployments"] if d["status"] == "PRIMARY")
            rollout = primary.get("rolloutState")
            if rollout == "COMPLETED" and svc["runningCount"] == svc["desiredCount"]:
                break
            time.sleep(0.5)
        assert rollout == "COMPLETED", svc["deployments"]
        assert primary["taskDefinition"] == new_td
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_a_commands_own_out_option_is_not_taken_for_a_global_one(tmp_path: Path) -> None:
    # --out (demo, local up) starts like --output and --outputs-file: it is not theirs
    for argv in (["demo", "--out", "x", "--help"], ["local", "up", "--out", "x", "--help"]):
        proc = autopilot(*argv, env=clean_env(tmp_path))
        assert proc.returncode == 0, proc.stderr
        assert "--out OUT" in proc.stdout


def test_a_bad_outputs_file_is_one_line_exit_2(tmp_path: Path) -> None:
    env = clean_env(tmp_path, AWS_REGION="eu-west-1", AWS_ENDPOINT_URL=DEAD, **FAKE_KEYS)
    junk = tmp_path / "junk.json"
    junk.write_text('["not", "outputs"]')
    for argv, says in (
        (["status", "--outputs-file", str(tmp_path / "none.json")], "no such file"),
        (["--outputs-file", str(junk), "history", "web"], "not what cdk deploy"),
    ):
        proc = autopilot(*argv, env=env)
        assert proc.returncode == 2, proc.stderr
        assert says in one_error_line(proc)
    proc = autopilot("status", env={**env, "AUTOPILOT_OUTPUTS_FILE": str(junk)})
    assert proc.returncode == 2, proc.stderr
    assert "--outputs-file" in one_error_line(proc)


def test_the_stack_found_from_cdk_deploy_outputs_file(served: Sandbox, tmp_path: Path) -> None:
    # Given the control plane's outputs as `cdk deploy --outputs-file` writes them, under a
    # stack name CloudFormation does not know (so they can only come from the file)
    outputs = {"Autopilot-Elsewhere": dict(served.outputs), "Unrelated": {"Url": "x"}}
    written = tmp_path / "outputs.json"
    written.write_text(json.dumps(outputs, indent=2))
    env = at_sandbox(served, tmp_path)

    proc = autopilot("status", "--stack", "Autopilot-Elsewhere", "--json", env=env)
    assert proc.returncode == 2, proc.stderr  # CloudFormation has no such stack
    for argv in (
        ["status", "--stack", "Autopilot-Elsewhere", "--outputs-file", str(written), "--json"],
        ["--outputs-file", str(written), "status", "--json"],  # the file's one control plane
    ):
        proc = autopilot(*argv, env=env)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["table"] == served.outputs["LedgerTableName"]
        assert any(str(s["service"]).endswith("web") for s in doc["services"]), doc
    proc = autopilot(
        "history", "web", "--limit", "1", env={**env, "AUTOPILOT_OUTPUTS_FILE": str(written)}
    )
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------- status, history and rollback
def test_status_json_has_counts_and_the_primary_rollout(served: Sandbox, tmp_path: Path) -> None:
    env = at_sandbox(served, tmp_path)
    proc = autopilot("status", "--output", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    web = next(s for s in json.loads(proc.stdout)["services"] if s["service"] == "web")
    assert served.clients is not None
    (described,) = served.clients("ecs").describe_services(
        cluster=web["arn"].split("/")[-2], services=[web["arn"]]
    )["services"]
    assert web["counts"] == {
        "desired": described["desiredCount"],
        "running": described["runningCount"],
        "pending": described["pendingCount"],
    }
    primary = next(d for d in described["deployments"] if d["status"] == "PRIMARY")
    assert web["deployment"]["id"] == primary["id"]
    assert web["deployment"]["rollout_state"] == primary["rolloutState"]
    assert web["last_decision"]["event_id"]

    text = autopilot("status", env=env).stdout
    assert f"desired {described['desiredCount']}, running {described['runningCount']}" in text
    assert f"rollout      {primary['rolloutState']}" in text
    table = autopilot("status", "--output", "table", env=env).stdout.splitlines()
    assert table[0].split()[:5] == ["SERVICE", "TAG", "DIGEST", "TASKS", "ROLLOUT"]


def test_history_hides_no_ops_unless_all_and_says_so(served: Sandbox, tmp_path: Path) -> None:
    from sandbox.timeline import NOOP_OUTCOMES

    env = at_sandbox(served, tmp_path)
    every = json.loads(autopilot("history", "web", "--json", "--limit", "200", env=env).stdout)
    noops = [r for r in every if r["outcome"] in NOOP_OUTCOMES]
    assert noops, "the demo's story leaves no-op decisions on web"

    shown = autopilot("history", "web", "--limit", "200", env=env)
    assert shown.returncode == 0, shown.stderr
    assert len(shown.stdout.splitlines()) == len(every) - len(noops)
    assert not {line.split()[1] for line in shown.stdout.splitlines()} & NOOP_OUTCOMES
    note = shown.stderr.strip().splitlines()[-1]
    assert note.startswith(f"{len(noops)} lines hidden, --all shows them: "), note

    everything = autopilot("history", "web", "--limit", "200", "--all", env=env)
    assert len(everything.stdout.splitlines()) == len(every)
    assert "hidden" not in everything.stderr
    # an outcome asked for by name is shown, no-op or not
    named = autopilot("history", "web", "--outcome", noops[0]["outcome"], env=env)
    assert named.stdout.strip()
    assert "hidden" not in named.stderr


def test_rollback_to_a_digest_it_ran_then_refusals(served: Sandbox, tmp_path: Path) -> None:
    """Four runs of the command (each a process of its own): the other refusals and the
    default target are tests/handler/test_operator_rollback.py's, against moto."""
    from autopilot.store.ledger import Ledger

    from sandbox.demo import DemoContext
    from sandbox.demo.framework import next_version

    ctx = DemoContext(served)
    env = at_sandbox(served, tmp_path)
    assert served.clients is not None
    ledger = Ledger(served.clients("dynamodb"), served.outputs["LedgerTableName"])

    def web() -> dict[str, Any]:
        return next(s for s in ctx.tracked_services() if s["name"] == "web")

    previous = ctx.image(web()).rpartition("@")[2]
    assert previous.startswith("sha256:")
    pushed = ctx.sim.push("demo/web", next_version(ctx, "demo/web"))
    moved_to = ctx.task_definition(web())
    assert ctx.image(web()).endswith("@" + pushed.digest)

    # a dry run changes nothing
    dry = autopilot("rollback", "web", "--to", previous[:19], "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "dry run (nothing changed): would be rolled back by arn:aws:sts::" in dry.stdout
    # a digest it never ran: one line, exit 2
    never = autopilot("rollback", "web", "--to", "sha256:" + "0" * 64, env=env)
    assert never.returncode == 2, never.stderr
    assert "records no revision of web" in one_error_line(never)
    # the lease busy: exit 1
    arn = web()["arn"]
    ledger.leases.acquire(arn, "image-events:elsewhere", 300)
    try:
        busy = autopilot("rollback", "web", "--to", previous, env=env)
    finally:
        ledger.leases.release(arn, "image-events:elsewhere", changed=False)
    assert busy.returncode == 1, busy.stderr
    assert "not rolled back (busy): another change to the service is in flight" in busy.stdout
    assert ctx.task_definition(web()) == moved_to  # nothing changed so far

    # the rollback: the operator's identity recorded, the pushed digest quarantined
    done = autopilot(
        "rollback", "web", "--to", previous, "--quarantine", "--reason", "smoke", "--json", env=env
    )
    ctx.sim.settle()
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["ok"], doc["changed"], doc["outcome"]) == (True, True, "rolled-back")
    assert doc["quarantined"] == pushed.digest
    assert ctx.image(web()).endswith("@" + previous)
    (last,) = ledger.decisions.list(arn, limit=None, outcomes=frozenset({"rolled-back"}))[:1]
    assert last["function"] == "operator"
    assert last["reason"].startswith("rolled back by arn:aws:sts::123456789012:user/moto: smoke")
    assert ledger.state.is_quarantined(arn, pushed.digest)
