"""Output a person can read: run_local.sh shows stage lines and Terraform's progress as counts (scripts/local/progress.py),
and ends with a short table of the run, every figure in the report file it names (scripts/local/e2e.py); `cdktf
deploy|destroy` in a shell that sourced scripts/env.sh, when not on a terminal, prints no spinner frames or colour
codes and shows Terraform's progress as counts, its errors and warnings whole."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess

import pytest

from scripts.local import deploy as local_deploy
from scripts.local import e2e as local_e2e
from scripts.local import progress
from support import ROOT

FAKE_APPLY = ["bash", "-c", 'for i in $(seq 1 23); do echo "aws_sqs_queue.q$i: Creation complete after 1s [id=q$i]"; '
              'done; echo "Apply complete! Resources: 23 added, 0 changed, 0 destroyed."']
#: ANSI escape sequences (colours, cursor moves) and the frames of cdktf's spinner (Braille patterns).
ESCAPES = re.compile(r"\x1b\[|[\u2800-\u28ff]")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_shows_a_line_every_10_seconds_and_the_last():
    clock, out = Clock(), io.StringIO()
    shown = progress.Progress("   apply", 30, stream=out, clock=clock)
    for second in range(25):
        clock.now += 1
        shown.line(f"aws_sqs_queue.q{second}: Creation complete after 1s [id=q{second}]")
        shown.line(f"aws_sqs_queue.q{second}: Still creating... [10s elapsed]")
    shown.finish()
    assert out.getvalue().splitlines() == ["   apply: 10/30 resources, 10 s", "   apply: 20/30 resources, 20 s",
                                           "   apply: 25/30 resources, 25 s (finished)"]


def test_terraform_runs_show_the_count_of_finished_resources(tmp_path, capsys):
    run = local_deploy._run_with_progress(FAKE_APPLY, tmp_path, "apply", 23, timeout=60)
    assert run.returncode == 0 and "Apply complete!" in run.stdout
    assert capsys.readouterr().err.splitlines()[-1] == "   apply: 23/23 resources, 0 s (finished)"


def test_stage_lines_only_when_asked(monkeypatch, capsys):
    monkeypatch.delenv("PAYMENTS_PROGRESS", raising=False)
    local_deploy.stage("terraform init")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PAYMENTS_PROGRESS", "1")
    local_deploy.stage("terraform init")
    assert capsys.readouterr().err == "== terraform init\n"


def test_run_local_asks_for_progress():
    script = (ROOT / "scripts" / "run_local.sh").read_text()
    assert "export PAYMENTS_PROGRESS=1" in script
    assert script.index("export PAYMENTS_PROGRESS=1") < script.rindex("scripts.local.e2e")


# ----- cdktf deploy|destroy, not on a terminal ---------------------------------------------------------------

#: What `cdktf deploy local --auto-approve --no-color` prints with CI=1 (cdktf 0.21, Terraform 1.11), shortened: the
#: stack's name before each chunk of Terraform's output, the chunk's further lines indented.
CDKTF_DEPLOY = """\
local  Initializing the backend...
local  Initializing provider plugins...
       - Reusing previous version of hashicorp/aws from the dependency lock file
local  - Using previously-installed hashicorp/aws v5.100.0

       Terraform has been successfully initialized!

       You may now begin working with Terraform. Try running "terraform plan" to see
       any changes that are required for your infrastructure. All Terraform commands
       should now work.

       If you ever set or change modules or backend configuration for Terraform,
       rerun this command to reinitialize your working directory. If you forget, other
       commands will detect it and remind you to do so if necessary.
local  Terraform used the selected providers to generate the following execution
       plan. Resource actions are indicated with the following symbols:
         + create

       Terraform will perform the following actions:
local    # aws_sqs_queue.ingest will be created
         + resource "aws_sqs_queue" "ingest" {
             + arn  = (known after apply)
             + name = "webhooks-local.fifo"
           }

         # aws_sqs_queue.dlq will be created
         + resource "aws_sqs_queue" "dlq" {
             + name = "webhooks-local-dlq.fifo"
           }

       Plan: 2 to add, 0 to change, 0 to destroy.

       Changes to Outputs:
         + ingest_queue_url = (known after apply)
         + tags             = {
             + Environment = "local"
           }
local  aws_sqs_queue.dlq: Creating...
local  aws_sqs_queue.ingest: Creating...
local  aws_sqs_queue.dlq: Still creating... [10s elapsed]
local  aws_sqs_queue.ingest: Still creating... [10s elapsed]
local  aws_sqs_queue.dlq: Creation complete after 25s [id=http://127.0.0.1:4566/123456789012/webhooks-local-dlq.fifo]
local  Warning: Argument is deprecated

         with aws_sqs_queue.ingest,
         on cdk.tf.json line 12, in resource "aws_sqs_queue" "ingest":
         12:         "tags": {},

       Use tags_all instead.
local  Error: creating SQS Queue (webhooks-local.fifo): operation error SQS: CreateQueue, https response error StatusCode: 400

         with aws_sqs_queue.ingest,
         on cdk.tf.json line 10, in resource "aws_sqs_queue" "ingest":
         10:       },

       InvalidAttributeValue: the value of the attribute is not valid

0 Stacks deploying     1 Stack done     0 Stacks waiting
Invoking Terraform CLI failed with exit code 1
"""


def condensed(text: str, seconds_per_line: float = 0.0) -> list[str]:
    clock, out = Clock(), io.StringIO()

    def lines():
        for line in text.splitlines(keepends=True):
            clock.now += seconds_per_line
            yield line

    progress.condense(lines(), out, ["local"], clock=clock)
    return out.getvalue().splitlines()


def test_a_deploy_shows_the_plan_summary_counts_and_every_warning_and_error_whole():
    shown = condensed(CDKTF_DEPLOY)
    assert shown == [
        "local  Terraform has been successfully initialized!",
        "local  Plan: 2 to add, 0 to change, 0 to destroy.",
        "local  Warning: Argument is deprecated",
        "",
        "local    with aws_sqs_queue.ingest,",
        "local    on cdk.tf.json line 12, in resource \"aws_sqs_queue\" \"ingest\":",
        "local    12:         \"tags\": {},",
        "",
        "local  Use tags_all instead.",
        "local: 1/2 resources, 0 s (stopped by the error below)",
        "local  Error: creating SQS Queue (webhooks-local.fifo): operation error SQS: CreateQueue, https response "
        "error StatusCode: 400",
        "",
        "local    with aws_sqs_queue.ingest,",
        "local    on cdk.tf.json line 10, in resource \"aws_sqs_queue\" \"ingest\":",
        "local    10:       },",
        "",
        "local  InvalidAttributeValue: the value of the attribute is not valid",
        "",
        "0 Stacks deploying     1 Stack done     0 Stacks waiting",
        "Invoking Terraform CLI failed with exit code 1",
    ]


def test_a_long_apply_shows_a_count_every_10_seconds():
    ticks = "".join(f"local  aws_sqs_queue.q{i}: Creation complete after 1s [id=q{i}]\n" for i in range(40))
    text = "local  Plan: 40 to add, 0 to change, 0 to destroy.\n" + ticks + \
           "local  Apply complete! Resources: 40 added, 0 changed, 0 destroyed.\n"
    shown = condensed(text, seconds_per_line=1.0)
    assert shown == ["local  Plan: 40 to add, 0 to change, 0 to destroy.",
                     "local: 10/40 resources, 10 s", "local: 20/40 resources, 20 s", "local: 30/40 resources, 30 s",
                     "local: 40/40 resources, 40 s", "local: 40/40 resources, 41 s (finished)",
                     "local  Apply complete! Resources: 40 added, 0 changed, 0 destroyed."]


def test_terraform_s_list_of_outputs_is_left_to_cdktf():
    text = ("local  Apply complete! Resources: 0 added, 0 changed, 0 destroyed.\n"
            "\n"
            "       Outputs:\n"
            "\n"
            "       api_url = \"http://127.0.0.1:4566/restapis/x\"\n"
            "       tags = {\n"
            "         \"Environment\" = \"local\"\n"
            "       }\n"
            "\n"
            "  local\n"
            "    api_url = http://127.0.0.1:4566/restapis/x\n")
    assert condensed(text) == ["local  Apply complete! Resources: 0 added, 0 changed, 0 destroyed.",
                               "  local", "    api_url = http://127.0.0.1:4566/restapis/x"]


def test_a_diff_keeps_its_plan_without_the_refresh_ticks():
    text = ("local  aws_vpc.network_vpc_4E8F0223 (network/vpc): Refreshing state... [id=vpc-1]\n"
            "local  data.aws_region.region (region): Read complete after 0s [id=us-east-1]\n"
            "local  Terraform used the selected providers to generate the following execution\n"
            "       plan. Resource actions are indicated with the following symbols:\n"
            "         ~ update in-place\n"
            "\n"
            "       Terraform will perform the following actions:\n"
            "         # aws_sqs_queue.ingest will be updated in-place\n"
            "         ~ resource \"aws_sqs_queue\" \"ingest\" {\n"
            "             ~ visibility_timeout_seconds = 180 -> 200\n"
            "           }\n"
            "\n"
            "       Plan: 0 to add, 1 to change, 0 to destroy.\n")
    out = io.StringIO()
    progress.condense(text.splitlines(keepends=True), out, ["local"], keep_plan=True)
    assert out.getvalue().splitlines() == [
        "local  Terraform used the selected providers to generate the following execution",
        "local  plan. Resource actions are indicated with the following symbols:",
        "local    ~ update in-place", "",
        "local  Terraform will perform the following actions:",
        "local    # aws_sqs_queue.ingest will be updated in-place",
        "local    ~ resource \"aws_sqs_queue\" \"ingest\" {",
        "local        ~ visibility_timeout_seconds = 180 -> 200",
        "local      }", "",
        "local  Plan: 0 to add, 1 to change, 0 to destroy.",
    ]


def test_the_stacks_are_the_positional_arguments_of_the_cdktf_command():
    assert progress.stacks_named(["deploy", "local", "--auto-approve", "--output", "out", "--var", "x=1"]) == ["local"]
    assert progress.stacks_named(["destroy", "--auto-approve", "dev", "prod"]) == ["dev", "prod"]


def cdktf_in_a_pipe(args: str, **env: str) -> subprocess.CompletedProcess:
    """`cdktf ARGS` in a shell that sourced scripts/env.sh, its output going to a pipe (not a terminal)."""
    return subprocess.run(["bash", "-c", f"source scripts/env.sh && cdktf {args}"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, **env))


@pytest.mark.slow
def test_cdktf_deploy_in_a_pipe_prints_no_escape_codes_or_spinner_frames_and_terraform_s_error_whole(tmp_path):
    """A real `cdktf deploy local` that Terraform refuses at once (an undeclared variable): what the wrapper
    prints has no colour code or spinner frame, and the error's detail, which cdktf drops from Terraform's
    -json output, is there."""
    with local_deploy.LocalEmulator() as emulator:
        run = cdktf_in_a_pipe(f"deploy local --auto-approve --output {tmp_path}", PAYMENTS_STACKS="local",
                              PAYMENTS_LOCAL_ENDPOINT=emulator.endpoint_url, TF_CLI_ARGS_apply="-var=undeclared=1")
    assert run.returncode == 1
    output = run.stdout + run.stderr
    assert not ESCAPES.search(output), ESCAPES.findall(output)[:5]
    assert "Error: Value for undeclared variable" in run.stdout
    assert 'A variable named "undeclared" was assigned on the command line' in run.stdout
    assert "You may now begin working with Terraform" not in run.stdout
    assert len(run.stdout.splitlines()) < 40, run.stdout


def test_the_wrapper_condenses_only_what_is_not_on_a_terminal():
    wrapper = (ROOT / "scripts" / "env.sh").read_text()
    assert "[ -t 1 ]" in wrapper and "CI=" in wrapper and "FORCE_COLOR=0" in wrapper and "--no-color" in wrapper
    assert "scripts.local.progress" in wrapper and "PIPESTATUS" in wrapper


def wrapped(args: str) -> list[str]:
    """What env.sh's `cdktf ARGS` runs when its output is a pipe, cdktf replaced by a stand-in (a shell
    function named `command`) that prints its arguments and the variables that silence cdktf and Terraform."""
    stand_in = ("command() { shift; echo \"local  args: $*\"; "
                "echo \"local  env: CI=$CI FORCE_COLOR=$FORCE_COLOR TF_CLI_ARGS_init=$TF_CLI_ARGS_init\"; }")
    run = subprocess.run(["bash", "-c", f"source scripts/env.sh && {stand_in} && cdktf {args}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={k: v for k, v in os.environ.items() if k not in ("CI", "TF_CLI_ARGS_init")})
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()


@pytest.mark.parametrize("args,flags", [
    ("output local", "output local"),  # `cdktf output` has no --no-color: Terraform's init is told instead
    ("diff dev", "diff dev --no-color"),
    ("synth", "synth"),
])
def test_every_cdktf_command_in_a_pipe_runs_without_spinner_or_colour_in_cdktf_and_terraform(args, flags):
    assert wrapped(args) == [f"local  args: {flags}", "local  env: CI=1 FORCE_COLOR=0 TF_CLI_ARGS_init=-no-color"]


def test_the_wrapper_keeps_the_callers_terraform_init_arguments():
    env_line = subprocess.run(
        ["bash", "-c", "source scripts/env.sh && command() { echo \"$TF_CLI_ARGS_init\"; } && "
                       "TF_CLI_ARGS_init=-upgrade cdktf synth"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert env_line.stdout.splitlines() == ["-upgrade -no-color"], env_line.stderr


# ----- the end of the run -------------------------------------------------------------------------------------

SUMMARY = {
    "sent": 245, "http_status": {200: 244, 413: 1}, "accepted": 244,
    "rejected_by_reason": {"signature_mismatch": 16, "malformed_body": 4}, "waf_blocked": 1, "duplicates": 24,
    "successful_transactions": 79, "ledger_event_rows": 200, "ledger_state_rows": 100, "doubled": 0,
    "archived_payloads": 200, "quarantined": 20, "notifications": {"vendor-a": 25, "vendor-b": 30, "vendor-c": 24},
    "vendor_deliveries": {"delivered": {"ep-a-main": 33, "ep-b-main": 30, "ep-c-main": 33},
                          "missing": {"ep-a-main": 0, "ep-b-main": 0, "ep-c-main": 0},
                          "unexpected": {"ep-a-main": 0, "ep-b-main": 0, "ep-c-main": 0}, "out_of_order": 0},
    "lost": 0, "lost_event_ids": [], "seconds": 31.47, "webhooks_per_second": 7.8, "_states": {"not": "shown"},
}
ZERO = {"unroutable": {"sent": 3}, "poison": {"sent": 10, "parked": 1, "recovered_from_parked": 1},
        "wrong_secret": {"sent": 5}, "inbound": {"sent": 6},
        "lifecycle": {"payments": 6, "out_of_order": 2, "wrong_totals": 0, "vendor_order_violations": 0},
        "delivery": {"sent": 24}, "lost": 0, "doubled": 0, "innocent_in_dlq": 0, "forged_recorded": 0,
        "recovered_by_replay": 4, "reconcile": {"refused": 7, "recovered": 7}, "recovered_by_reconciliation": 7}
STAGES = {"deploy": 97.4, "webhooks": 31.47, "scenarios": 32.3, "plan": 12.0, "destroy": 41.0}


def test_the_run_ends_with_a_table_of_what_a_person_asks_first():
    table = local_e2e.summary_table(SUMMARY, ZERO, STAGES)
    rows = {line.split()[0]: line for line in table.splitlines()}
    for name in ("requests", "recorded", "duplicates", "quarantined", "notified", "delivered", "lost", "doubled",
                 "forged", "lifecycle", "time"):
        assert name in rows, name
    assert re.match(r"  requests +245   244 answered 200, 1 refused", rows["requests"])
    assert re.match(r"  recorded +200   ledger events, of 200 valid webhooks", rows["recorded"])
    assert re.match(r"  quarantined +20   malformed_body 4, signature_mismatch 16$", rows["quarantined"])
    assert re.match(r"  notified +79 ", rows["notified"]) and re.match(r"  delivered +96 ", rows["delivered"])
    assert re.match(r"  lost +0   main run 0, zero-loss scenarios 0$", rows["lost"])
    assert re.match(r"  forged +0   forged or tampered inbound messages recorded", rows["forged"])
    assert re.match(r"  lifecycle +6   payments refunded and disputed \(2 refund first\): wrong totals 0, vendor order "
                    r"violations 0$", rows["lifecycle"])
    assert rows["zero-loss"].endswith("recovered by the quarantine replay 4, recovered by reconciliation 7, parked by redrive 1 (recovered 1)")
    assert re.match(r"  time +3 min 34 s   deploy 1 min 37 s, webhooks 31.5 s, scenarios 32.3 s, plan 12.0 s, "
                    r"destroy 41.0 s$", rows["time"])
    assert len(table.splitlines()) <= 12 and not ESCAPES.search(table)


@pytest.mark.parametrize("seconds,shown", [(31.47, "31.5 s"), (59.96, "1 min 00 s"), (97.4, "1 min 37 s"),
                                            (119.6, "2 min 00 s"), (3601, "60 min 01 s")])
def test_durations_read_as_a_person_writes_them(seconds, shown):
    assert local_e2e.duration(seconds) == shown


def test_a_loss_shows_in_the_table_and_fails_the_run():
    lost = {**SUMMARY, "lost": 2, "ledger_event_rows": 198}
    assert local_e2e.failed(lost, ZERO) and not local_e2e.failed(SUMMARY, ZERO)
    table = local_e2e.summary_table(lost, ZERO, STAGES)
    assert re.search(r"^  lost +2   main run 2, zero-loss scenarios 0$", table, re.M)
    assert re.search(r"^  recorded +198   ledger events, of 200 valid webhooks", table, re.M)


@pytest.mark.parametrize("broken", [
    {"forged_recorded": 1}, {"lifecycle": {**ZERO["lifecycle"], "wrong_totals": 1}},
    {"lifecycle": {**ZERO["lifecycle"], "vendor_order_violations": 2}}, {"innocent_in_dlq": 1}, {"doubled": 1}])
def test_a_forged_payment_wrong_totals_or_an_order_violation_show_in_the_table_and_fail_the_run(broken):
    zero = {**ZERO, **broken}
    assert local_e2e.failed(SUMMARY, zero)
    table = local_e2e.summary_table(SUMMARY, zero, STAGES)
    shown = {"forged_recorded": r"^  forged +1 ", "innocent_in_dlq": r"innocent messages in a DLQ 1,",
             "doubled": r"^  doubled +1 "}
    lifecycle = broken.get("lifecycle", {})
    pattern = (shown.get(next(iter(broken))) or f"wrong totals {lifecycle['wrong_totals']}, vendor order violations "
               f"{lifecycle['vendor_order_violations']}$")
    assert re.search(pattern, table, re.M), table


def test_every_figure_goes_to_the_report_file(tmp_path):
    document = local_e2e.report(SUMMARY, ZERO, stages=STAGES, plan_after_deploy=[])
    path = local_e2e.save_report(document, tmp_path / "e2e" / "summary.json")
    saved = json.loads(path.read_text())
    assert saved["summary"]["vendor_deliveries"]["delivered"] == SUMMARY["vendor_deliveries"]["delivered"]
    assert "_states" not in saved["summary"]  # the run's internals stay out
    assert saved["zero_loss"] == ZERO and saved["stages"] == STAGES and saved["plan_after_deploy"] == []
    assert saved["headline"] == {"lost": 0, "doubled": 0, "innocent_in_dlq": 0, "recovered_by_replay": 4,
                                 "recovered_by_reconciliation": 7}
    assert local_e2e.REPORT == ROOT / "build" / "e2e" / "summary.json"


def test_a_service_logger_configured_before_the_runner_logs_into_the_function_output(capsys):
    """A paycore module imported outside the runner first binds Powertools' logger of the service to the
    terminal; the runner points it at the function output (its CloudWatch log), as the handlers' own."""
    from aws_lambda_powertools import Logger

    from scripts.local.runner.functions import FunctionOutput, bind_powertools_loggers

    early = Logger(service="test-runner-binding")  # bound to the stdout of this moment
    output = FunctionOutput()
    log = output.capture()
    bind_powertools_loggers(output)
    early.warning("webhook rejected")
    assert '"message":"webhook rejected"' in log.getvalue()
    assert "webhook rejected" not in capsys.readouterr().out
