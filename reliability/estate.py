"""The estate the harness runs against: ``estate.yaml`` synthesized and deployed into a sandbox.

Ten Fargate services over five repositories (``rel/app0`` .. ``rel/app4``), two services
per repository: ``svc<2k>`` (policy ``semver``, scan gate ``critical``) and ``svc<2k+1>``
(policy ``semver:minor``, scan gate ``high``). Every service starts on ``1.0.0``.

The environment is ``rel``: stack, cluster, functions, table and repositories are named
apart from the demo's, so this sandbox never collides with another one the same process
ran before (moto's backends are process-wide).
"""

# ruff: noqa: PLC0415 - imports are deferred: moto, boto3 and the handlers load only where used

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.synth import REPO_ROOT, CloudAssembly, synth

ESTATE_CONFIG = Path(__file__).with_name("estate.yaml")
OUT_DIR = REPO_ROOT / ".reliability" / "cdk.out"
REPOSITORIES = tuple(f"rel/app{r}" for r in range(5))
SERVICES = tuple(f"svc{i}" for i in range(10))


def service_repository(service: str) -> str:
    return REPOSITORIES[int(service[3:]) // 2]


def service_gate(service: str) -> str:
    """``critical`` (even services) or ``high`` (odd services)."""
    return "critical" if int(service[3:]) % 2 == 0 else "high"


DEMO_CONFIG = REPO_ROOT / "config" / "demo.yaml"
DEMO_OUT_DIR = REPO_ROOT / ".reliability" / "demo.out"


def synth_estate(
    out_dir: Path = OUT_DIR, *, force: bool = False, config: Path = ESTATE_CONFIG
) -> CloudAssembly:
    """``cdk synth -c autopilot:config=<config>`` into ``out_dir`` (unless it is fresh)."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return synth(out_dir, config=config, force=force)


ENVIRONMENT = "rel"


def function(sb: Any, name: str) -> Any:
    """The estate's deployed function by its contract name (``image-events``).

    By its deployed name, ``rel-<name>``: when tests/e2e ran first in the same process,
    moto still holds the demo's functions and rules, and the router reads them back too.
    """
    return sb.router.function(f"{ENVIRONMENT}-{name}")


def start_sandbox(assembly: CloudAssembly | None = None) -> Any:
    """A sandbox with the estate deployed and the functions' clients hooked (``hooks.HOOKS``)."""
    from reliability import hooks
    from sandbox.core import Sandbox
    from sandbox.timeline import Timeline

    hooks.install()
    return Sandbox(assembly=assembly or synth_estate(), timeline=Timeline()).up()
