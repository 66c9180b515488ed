#!/usr/bin/env python3
"""CDK entry point: read the config file named in context, build the stacks, synthesize.

The config file comes from context ``autopilot:config`` (cdk.json; override with
``cdk synth -c autopilot:config=path``). A bad file, or one that would take a stack past an
AWS limit the split cannot avoid, prints one line naming the file, the field and the
problem, and exits 2 before anything is synthesized. Nothing here calls AWS.
"""

from __future__ import annotations

import sys

from aws_cdk import App

from infra.app_builder import CONFIG_CONTEXT_KEY, DEFAULT_CONFIG, build
from infra.config import ConfigError, load_config


def main() -> int:
    app = App()
    path = app.node.try_get_context(CONFIG_CONTEXT_KEY) or DEFAULT_CONFIG
    try:
        build(app, load_config(path), file=path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
