"""The lazy provider loader (constructs/app/provider_import.py) must change nothing but speed: the
stack synthesized with the stock package import is byte-identical."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import ROOT

STOCK = """
import os
os.environ['JSII_NODE'] = {node!r}
os.environ['PAYMENTS_LAZY_PROVIDER'] = '0'  # neither lazy half: stock Python and Node.js loading
os.environ.pop('NODE_OPTIONS', None)
import cdktf_cdktf_provider_aws            # the stock import: every submodule
assert hasattr(cdktf_cdktf_provider_aws, '__all__')
import main
from constructs.app import provider_import
assert not provider_import.is_lazy()
main.build_app(outdir={outdir!r}).synth()
"""


def test_lazy_loader_is_active_in_the_suite():
    from constructs.app import provider_import

    assert provider_import.is_lazy()
    import cdktf_cdktf_provider_aws

    assert cdktf_cdktf_provider_aws.sqs_queue.SqsQueue.__name__ == "SqsQueue"
    with pytest.raises(AttributeError):
        cdktf_cdktf_provider_aws.no_such_resource


#: What the stock synth depends on besides the stacks themselves: the pinned packages (Python and
#: Node.js), both halves of the lazy loader, and main.py, which installs them.
STOCK_INPUTS = ["Pipfile.lock", "package-lock.json", "main.py", "constructs/app/provider_import.py",
                "constructs/app/provider_import.js"]
#: Results of the stock synth on this machine (generated output: a fresh clone has none, so it runs)
STOCK_RESULTS = ROOT / "build" / "stock-import"


def stock_check_key(lazy_stacks: dict[str, bytes], root: Path = ROOT) -> str:
    """A digest of everything the comparison depends on: the inputs above, the interpreter, and
    the bytes the lazy loader synthesized for each environment (so any change to a stack runs the
    stock synth again)."""
    digest = hashlib.sha256(sys.version.encode())
    for name in STOCK_INPUTS:
        digest.update(name.encode() + b"\0" + hashlib.sha256((root / name).read_bytes()).digest())
    for environment, data in sorted(lazy_stacks.items()):
        digest.update(environment.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()


def stock_synth(outdir: Path, environments: list[str]) -> dict[str, bytes]:
    node = str(ROOT / "node_modules" / ".bin" / "node")
    code = STOCK.format(node=node, outdir=str(outdir))  # `python -c` in ROOT: the repository is importable
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    return {e: (outdir / "stacks" / e / "cdk.tf.json").read_bytes() for e in environments}


@pytest.mark.slow
def test_stock_import_synthesizes_the_same_bytes(synth_dir, tmp_path):
    """The stock synth (a fresh process, ~1 min) runs whenever the key of its inputs and of the
    lazily synthesized bytes has no recorded result on this machine: always in a fresh clone (CI),
    again after any change to a stack, a lock file or the loader. The recorded result is the
    stock synth's own digests, compared here with the lazy ones."""
    from constructs.app.environments import environment_names

    environments = environment_names()
    lazy = {e: (synth_dir / "stacks" / e / "cdk.tf.json").read_bytes() for e in environments}
    record = STOCK_RESULTS / f"{stock_check_key(lazy)}.json"
    if record.is_file():
        stock_digests = json.loads(record.read_text())
        print(f"stock import: these inputs were synthesized the stock way before ({record.relative_to(ROOT)})")
    else:
        stock = stock_synth(tmp_path, environments)
        for environment in environments:
            assert lazy[environment] == stock[environment], environment
        stock_digests = {e: hashlib.sha256(data).hexdigest() for e, data in stock.items()}
        STOCK_RESULTS.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(stock_digests, indent=2, sort_keys=True) + "\n")
    assert stock_digests == {e: hashlib.sha256(data).hexdigest() for e, data in lazy.items()}


def test_the_stock_check_key_changes_with_every_input_and_every_stack(tmp_path):
    for name in STOCK_INPUTS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    stacks = {"dev": b"{}", "prod": b"{}"}
    key = stock_check_key(stacks, tmp_path)
    assert key == stock_check_key(dict(stacks), tmp_path)
    assert stock_check_key({**stacks, "prod": b"{ }"}, tmp_path) != key
    assert stock_check_key({**stacks, "local": b"{}"}, tmp_path) != key
    for name in STOCK_INPUTS:
        original = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(original + b"\n")
        assert stock_check_key(stacks, tmp_path) != key, name
        (tmp_path / name).write_bytes(original)
    assert {"Pipfile.lock", "package-lock.json", "constructs/app/provider_import.py"} <= set(STOCK_INPUTS)


NODE_PROBE = """
const fs = require("fs"), path = require("path");
const root = process.argv[1];
const lib = path.join(root, "node_modules", "@cdktf", "provider-aws", "lib");
globalThis.loaded = [];
const index = require(path.join(lib, "index.js"));
const before = [...globalThis.loaded];
const names = Object.keys(index).sort();
const queue = index.sqsQueue.SqsQueue;
console.log(JSON.stringify({before, names, after: [...globalThis.loaded], queue, again: index.sqsQueue === index.sqsQueue}));
"""


def test_node_preload_defers_each_provider_module_until_first_use(tmp_path):
    """The Node.js half: a package laid out like @cdktf/provider-aws; its index.js requires two
    modules eagerly; with the preload, neither loads at require time and one loads on first use."""
    lib = tmp_path / "node_modules" / "@cdktf" / "provider-aws" / "lib"
    for name, export in (("sqs-queue", "SqsQueue"), ("sns-topic", "SnsTopic")):
        (lib / name).mkdir(parents=True)
        (lib / name / "index.js").write_text(
            f'globalThis.loaded.push("{name}"); exports.{export} = "{export}";\n')
    (lib / "index.js").write_text(
        '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n'
        'exports.snsTopic = exports.sqsQueue = void 0;\n'
        'exports.sqsQueue = require("./sqs-queue");\nexports.snsTopic = require("./sns-topic");\n')
    node = str(ROOT / "node_modules" / ".bin" / "node")
    preload = str(ROOT / "constructs" / "app" / "provider_import.js")
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    lazy = subprocess.run([node, "--require", preload, "-e", NODE_PROBE, str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert lazy.returncode == 0, lazy.stderr
    result = json.loads(lazy.stdout)
    assert result == {"before": [], "names": ["snsTopic", "sqsQueue"], "after": ["sqs-queue"],
                      "queue": "SqsQueue", "again": True}
    stock = subprocess.run([node, "-e", NODE_PROBE, str(tmp_path)], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(stock.stdout)["before"] == ["sqs-queue", "sns-topic"]


def test_main_preloads_the_node_half_before_jsii_starts():
    assert "provider_import.js" in os.environ.get("NODE_OPTIONS", "")
