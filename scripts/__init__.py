"""The project's tooling, one package per room, imported and run from the repository root
(`python -m scripts.<package>`; scripts/env.sh puts the root on PYTHONPATH):

- local: the local platform (the moto emulator and its patches, the deployment, the runner that
  drives the deployed wiring with the real handlers, the end-to-end run and its scenarios);
- ops: the operations CLI and its tools (secrets, redrive, replays, vendor deliveries);
- cost: the cost model and the capture of what the local run bills;
- bench: benchmarks (they print figures);
- packaging: the deterministic Lambda zips the stack deploys.

The shell entry points (setup.sh, test.sh, run_local.sh, env.sh) stay beside them.
"""
