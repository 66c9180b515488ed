"""The sandbox's lifecycle expiry run (``local expire``, through the control endpoint's code
path): moto runs no lifecycle policy, the simulator does, as ECR documents it; an image
with a protective tag survives a rule that keeps one image."""

from __future__ import annotations

import contextlib
import json

import pytest
from autopilot.logic import retention

from sandbox.control import BadRequest, handle
from sandbox.core import Sandbox

PROBE = "expiry/probe"  # tracked by no service


def test_an_expiry_run_deletes_what_the_policy_expires_but_the_protected_image(
    sandbox: Sandbox,
) -> None:
    assert sandbox.clients is not None
    ecr = sandbox.clients("ecr")
    with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=PROBE)
    digests = [
        handle(sandbox, "/push", {"repository": PROBE, "tag": f"1.{n}.0", "drop_event": True})[
            "digest"
        ]
        for n in range(4)
    ]
    # the oldest image carries a protective tag (as the reconciler puts one: its manifest)
    (oldest,) = ecr.batch_get_image(repositoryName=PROBE, imageIds=[{"imageDigest": digests[0]}])[
        "images"
    ]
    ecr.put_image(
        repositoryName=PROBE,
        imageManifest=oldest["imageManifest"],
        imageTag=retention.DEFAULT_PREFIX + "web-0a1b2c3d-good-1",
    )
    keep_one = {
        "rulePriority": 2,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"},
    }
    policy = {"rules": [retention.lifecycle_rule(retention.DEFAULT_PREFIX), keep_one]}
    ecr.put_lifecycle_policy(repositoryName=PROBE, lifecyclePolicyText=json.dumps(policy))

    doc = handle(sandbox, "/expire", {"repository": PROBE})

    gone = {e["digest"] for e in doc["expired"][PROBE]}
    assert gone == set(digests[1:3])  # not the protected oldest, not the newest
    left = {i["imageDigest"] for i in ecr.describe_images(repositoryName=PROBE)["imageDetails"]}
    assert left == {digests[0], digests[3]}


def test_an_unknown_repository_is_a_bad_request(sandbox: Sandbox) -> None:
    with pytest.raises(BadRequest, match="no repository"):
        handle(sandbox, "/expire", {"repository": "no/such-repo"})
