"""The lazy provider loader (constructs/app/provider_import.py) must change nothing but speed: the
stack synthesized with the stock package import is byte-identical."""

import json
import os
import subprocess
import sys

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


@pytest.mark.slow
def test_stock_import_synthesizes_the_same_bytes(synth_dir, tmp_path):
    node = str(ROOT / "node_modules" / ".bin" / "node")
    code = STOCK.format(node=node, outdir=str(tmp_path))  # `python -c` in ROOT: the repository is importable
    env = {k: v for k, v in os.environ.items() if k != "NODE_OPTIONS"}
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    from constructs.app.environments import environment_names

    for environment in environment_names():
        lazy = (synth_dir / "stacks" / environment / "cdk.tf.json").read_bytes()
        stock = (tmp_path / "stacks" / environment / "cdk.tf.json").read_bytes()
        assert lazy == stock, environment


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
