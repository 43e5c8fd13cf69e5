#!/usr/bin/env python
"""App entry: reads the environments and their settings from cdktf.json's `context`, builds one
stack per environment and synthesizes them into cdktf.out/.

    python main.py                       # every environment cdktf.json names
    PAYMENTS_STACKS=dev python main.py   # only some (comma list)
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
_NODE = ROOT / "node_modules" / ".bin" / "node"


_NODE_PRELOAD = ROOT / "constructs" / "app" / "provider_import.js"


def prepare_runtime(lazy: bool | None = None) -> None:
    """Run jsii on the project's own supported Node.js (the machine's may be end-of-life) and load
    only the provider submodules the stack uses, on the Python and the Node.js side (see
    constructs/app/provider_import.py). PAYMENTS_LAZY_PROVIDER=0 loads the provider the stock way.
    Must run before anything imports `constructs` or `cdktf` (that starts the Node.js process)."""
    if lazy is None:
        lazy = os.environ.get("PAYMENTS_LAZY_PROVIDER", "1") != "0"
    if "JSII_NODE" not in os.environ and _NODE.exists():
        os.environ["JSII_NODE"] = str(_NODE)
    if lazy:
        preload = f'--require "{_NODE_PRELOAD}"'
        options = os.environ.get("NODE_OPTIONS", "")
        if preload not in options:
            os.environ["NODE_OPTIONS"] = f"{options} {preload}".strip()
    if lazy:
        from constructs.app import provider_import

        provider_import.install()


def build_app(environments: list[str] | None = None, outdir: str | None = None):
    prepare_runtime()
    from cdktf import App

    from constructs.app.environments import environment_names, load_settings, read_environments
    from constructs.app.stack import PaymentPlatformStack

    app = App(outdir=outdir) if outdir else App()
    # `cdktf synth` hands cdktf.json's context to the app (CDKTF_CONTEXT_JSON); `python main.py`
    # and the tests read the same file.
    configured = app.node.try_get_context("environments") or read_environments()
    for environment in environments or environment_names(configured):
        PaymentPlatformStack(app, environment, settings=load_settings(environment, environments=configured))
    return app


def main() -> None:
    selected = [e for e in os.environ.get("PAYMENTS_STACKS", "").split(",") if e]
    build_app(selected or None).synth()


if __name__ == "__main__":
    main()
