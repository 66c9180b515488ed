"""The sandbox as one object: moto's server, the deployed stacks, a brownfield estate if
asked, the router, the simulator."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox import brownfield as bf
from sandbox import moto_adjustments as adj
from sandbox.deploy import DeployedStack, deploy
from sandbox.router import Router
from sandbox.server import Clients, MotoServer, port_in_use
from sandbox.simulator import Simulator
from sandbox.synth import CloudAssembly, synth
from sandbox.timeline import Timeline


def quiet_moto() -> None:
    """moto warns about every resource type its CloudFormation skips: the README lists them."""
    warnings.filterwarnings("ignore", module=r"moto(\..*)?")
    warnings.filterwarnings("ignore", message=r".*not supported by moto.*")
    for name in ("moto", "werkzeug", "moto.cloudformation.parsing", "aws_xray_sdk"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class Sandbox:
    def __init__(
        self,
        *,
        port: int | None = None,
        out_dir: Path | None = None,
        assembly: CloudAssembly | None = None,
        progress: Callable[[str], None] | None = None,
        timeline: Timeline | None = None,
        brownfield: bool = False,
        drop_rate: float = 0.0,
        drop_seed: int = 0,
    ) -> None:
        """``brownfield``: after the stacks, make the brownfield estate (``sandbox.brownfield``:
        a cluster and services made by plain API calls) and run its services too.
        ``drop_rate``: the share of ECR push and scan events the bus loses, seeded with
        ``drop_seed`` (``Simulator.drop_events``)."""
        self.server = MotoServer(port=port)
        self.make_brownfield = brownfield
        self.brownfield: bf.BrownfieldEstate | None = None
        self.out_dir = out_dir
        self.assembly = assembly
        self.say = progress or (lambda _m: None)
        self.timeline = timeline or Timeline()
        self.stacks: list[DeployedStack] = []
        self.clients: Clients | None = None
        self.router: Router | None = None
        self.simulator: Simulator | None = None
        self.timings: dict[str, float] = {}
        self.drop_rate = drop_rate
        self.drop_seed = drop_seed

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def up(self) -> Sandbox:
        quiet_moto()
        if self.server.port is not None and port_in_use(self.server.host, self.server.port):
            raise OSError(f"port {self.server.port} on {self.server.host} is already in use")
        t0 = time.perf_counter()
        if self.assembly is None:
            self.assembly = synth(self.out_dir, progress=self.say)
        self.timings["synth"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        self.server.start()
        self.say(f"moto server on {self.endpoint}")
        self.clients = Clients(self.endpoint)
        self.stacks = deploy(self.clients, self.assembly, progress=self.say)
        extra: list[str] = []
        if self.make_brownfield:
            self.brownfield = bf.create(self.clients, progress=self.say)
            extra.append(self.brownfield.cluster_arn)
        dead_letters: dict[str, str] = {}
        for s in self.stacks:
            dead_letters.update(adj.dead_letter_targets(s.template, s.physical_ids, s.exports))
        self.router = Router(self.clients, dead_letters=dead_letters).load()
        self.simulator = Simulator(
            self.clients, self.router, self.stacks, self.timeline, clusters=extra
        ).start()
        if self.drop_rate:
            self.simulator.drop_events(self.drop_rate, seed=self.drop_seed)
        self.timings["deploy"] = time.perf_counter() - t1
        self.say(
            f"deployed {len(self.stacks)} stack(s), {len(self.router.rules)} rule(s), "
            f"{len(self.simulator.services)} service(s) running in {self.timings['deploy']:.1f} s"
        )
        return self

    def down(self) -> None:
        self.server.stop()
        adj.restore_backends()

    def __enter__(self) -> Sandbox:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()

    @property
    def outputs(self) -> dict[str, str]:
        """Every deployed stack's outputs in one mapping (a key two stacks output: the one
        deployed last); :attr:`outputs_by_stack` keeps them apart."""
        out: dict[str, str] = {}
        for s in self.stacks:
            out.update(s.outputs)
        return out

    @property
    def outputs_by_stack(self) -> dict[str, dict[str, str]]:
        return {s.name: dict(s.outputs) for s in self.stacks}

    def describe(self) -> dict[str, Any]:
        assert self.router is not None
        assert self.simulator is not None
        return {
            "endpoint": self.endpoint,
            "stacks": [s.name for s in self.stacks],
            "outputs": self.outputs,
            "outputs_by_stack": self.outputs_by_stack,
            "brownfield": self.brownfield.to_json() if self.brownfield else None,
            "rules": [
                {
                    "name": r.name,
                    "functions": [self.router.functions[a].short_name for a in r.function_arns],
                }
                for r in self.router.rules
            ],
            "services": {
                s.name: {"taskDefinition": s.task_definition, "spread": s.spread()}
                for s in self.simulator.services.values()
            },
        }
