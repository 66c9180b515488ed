"""Who an operator command records: the caller STS names (``sts:GetCallerIdentity``), never
a name from the environment; without credentials, one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from cli.main import main
from tests.estate import CLUSTER_ARN, TABLE, Estate
from tests.handler.test_operator import manual_service, pending

WHERE = ("--table", TABLE, "--cluster", CLUSTER_ARN)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_approve_and_pause_record_the_caller_sts_names_not_the_environment(
    world: Estate, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an environment that claims to be someone else
    for name in ("AUTOPILOT_ACTOR", "USER", "LOGNAME", "USERNAME"):
        monkeypatch.setenv(name, "mallory")
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    assert caller.startswith("arn:aws:")
    svc = manual_service(world)
    digest = pending(world, "v1.3.0")

    # When the CLI approves, then pauses
    code, out, err = run(capsys, "approve", "web", digest, *WHERE)
    assert code == 0, err
    code, out, err = run(capsys, "pause", "web", "--reason", "drill", *WHERE)
    assert code == 0, err

    # Then the ledger (and what the CLI says) names the caller's ARN
    approval = world.ledger.approvals.get(svc, digest)
    assert approval is not None
    assert approval.by == caller
    paused = world.ledger.pauses.get(svc)
    assert paused is not None
    assert paused.by == caller
    assert f"paused by {caller}" in out
    assert "mallory" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ("approve", "web", "sha256:" + "0" * 64),
        ("reject", "web", "sha256:" + "0" * 64),
        ("pause", "web"),
        ("resume", "web"),
    ],
)
def test_without_credentials_an_operator_command_exits_3_with_one_line(
    argv: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    # Given no credentials anywhere botocore looks (and no instance metadata to ask)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AUTOPILOT_ACTOR", "mallory")  # names no one

    code, out, err = run(capsys, *argv, *WHERE)

    assert code == 3  # cli.output.EXIT_AWS: credentials, region, profile or endpoint
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: no AWS credentials")
