"""Terraform's progress for a person: `label: done/total resources, N s`, one line every 10 s and the
last one. deploy.py shows it for the Terraform runs of the end-to-end run; as a filter it condenses
what `cdktf deploy|destroy|diff` prints when not on a terminal (scripts/env.sh pipes it through here):
Terraform's lines without init's report and the per-resource ticks (counted instead), and without
the rendered plan but for a diff. Errors and warnings, with their details, and everything it does not
recognise pass as they are.

    cdktf deploy local --auto-approve --no-color | python -m scripts.local.progress deploy local --auto-approve
"""

from __future__ import annotations

import re
import sys
import time
from typing import Callable, Iterable, TextIO

#: A resource finished (human output, and the messages of Terraform's -json output alike).
DONE = re.compile(r": (Creation|Destruction|Modifications) complete after ")
#: Terraform's plan summary: the total the progress counts towards.
PLAN = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.")
#: A line that only says a resource or data source is under way (counted by DONE when it finishes):
#: `address: ...`, or `address (construct path): ...` as cdktf shows it.
TICK = re.compile(r"^\S+( \([^)]*\))?: ((Creating|Destroying|Modifying|Reading|Refreshing state|Still \w+)\b.*"
                  r"|Read complete after .*|Plan to \w+|Drift detected \(\w+\))$")
#: `terraform init`'s report, printed before every cdktf deploy and destroy: the first line is kept.
INIT_CHATTER = re.compile(
    r"^(Initializing (the backend|provider plugins|modules)\.\.\.|Successfully configured the backend .*|use this "
    r"backend unless the backend configuration changes\.|- (Reusing previous version|Using previously-"
    r"installed|Installing|Installed|Finding) .*|You may now begin working with Terraform\. .*|any changes that are "
    r"required for your infrastructure\. .*|should now work\.|If you ever set or change modules or backend .*|rerun "
    r"this command to reinitialize your working directory\. .*|commands will detect it and remind you to do so if "
    r"necessary\.|Terraform has created a lock file \.terraform\.lock\.hcl to record the provider|selections it made "
    r"above\. Include this file in your version control repository|so that Terraform can guarantee to make the same "
    r"selections by default when|you run \"terraform init\" in the future\.|Terraform \d+\.\d+\.\d+)$")
#: Terraform's own words that end a warning's or an error's detail (with -no-color it has no frame).
MILESTONES = ("Terraform has been successfully initialized!", "Apply complete!", "Destroy complete!", "No changes.")
#: The rendered plan runs from its preamble to the plan summary, then the outputs it would change.
PLAN_STARTS = ("Terraform used the selected providers to generate", "Terraform will perform the following actions")
OUTPUTS_START = "Changes to Outputs:"
#: Terraform's own list of outputs after an apply (cdktf prints the outputs again when it is done).
APPLIED_OUTPUTS = "Outputs:"
#: The last line of a longer output value (`}`, `])`, ...).
CLOSING = re.compile(r"[\]\)}]+,?")
DIAGNOSTIC = re.compile(r"^(│ )?(Error|Warning): ")
EVERY_SECONDS = 10.0


class Progress:
    """`label: done/total resources, N s` on `stream`: a line once `EVERY_SECONDS` have passed since
    the last one, and the last one (`finish`)."""

    def __init__(self, label: str, total: int = 0, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.done = label, total, 0
        self.stream = stream
        self.clock = clock
        self.started = self.shown = clock()

    def line(self, text: str) -> None:
        """One line of Terraform's output: counts a finished resource, shows the count when due."""
        self.done += bool(DONE.search(text))
        if self.clock() - self.shown >= EVERY_SECONDS:
            self.show()

    def show(self, suffix: str = "") -> None:
        self.shown = self.clock()
        stream = self.stream or sys.stderr
        done = f"{self.done}/{self.total} resources" if self.total else f"{self.done} resources" if self.done else "planning"
        print(f"{self.label}: {done}, {self.shown - self.started:.0f} s{suffix}", file=stream, flush=True)

    def finish(self, suffix: str = " (finished)") -> None:
        self.show(suffix)


class _Stream:
    """Which stack a line of cdktf's output belongs to: `{stack}  ` starts a chunk of that stack's
    Terraform output, the chunk's further lines are indented as far; anything else is cdktf's own."""

    def __init__(self, stacks: Iterable[str]):
        self.prefixes = {stack: f"{stack}  " for stack in stacks}
        self.last: str | None = None

    def split(self, line: str) -> tuple[str | None, str]:
        for stack, prefix in self.prefixes.items():
            if line.rstrip() == stack:  # a chunk that starts with an empty line
                self.last = stack
                return stack, ""
            if line.startswith(prefix):
                self.last = stack
                return stack, line[len(prefix):]
        if self.last is not None and (not line or line.startswith(" " * len(self.prefixes[self.last]))):
            return self.last, line[len(self.prefixes[self.last]):]
        self.last = None
        return None, line


def condense(lines: Iterable[str], out: TextIO, stacks: Iterable[str], *, keep_plan: bool = False,
             clock: Callable[[], float] = time.monotonic) -> None:
    """What cdktf printed for `stacks` without the rendered plan (unless `keep_plan`: a diff), init's
    report and the per-resource ticks, with a progress line per stack instead of the ticks of an
    apply or destroy; diagnostics whole, the rest as it is."""
    stream = _Stream(stacks)
    progress = {stack: Progress(stack, stream=out, clock=clock) for stack in stream.prefixes}
    counting: set[str] = set()
    block = ""  # "plan" (the rendered plan), "outputs" (to change, or applied), "diagnostic" (printed whole)

    def show(line: str, stack: str | None = None) -> None:
        """A line as it came (cdktf's own), or Terraform's text after its stack's name."""
        text = line if stack is None else f"{stream.prefixes[stack]}{line}" if line else ""
        print(text, file=out, flush=True)

    for raw in lines:
        line = raw.rstrip("\n")
        stack, text = stream.split(line)
        if stack is None:  # cdktf's own: ends whatever block of Terraform's output was open
            block = ""
            if line.strip():
                show(line)
            continue
        event = bool(DONE.search(text) or TICK.match(text))
        if DIAGNOSTIC.match(text):
            block = "diagnostic"
            if stack in counting and text.startswith(("Error", "│ Error")):
                progress[stack].finish(" (stopped by the error below)")
                counting.discard(stack)
            show(text, stack)
            continue
        known = (event or PLAN.match(text) or INIT_CHATTER.match(text) or text.startswith(MILESTONES + PLAN_STARTS)
                 or text.startswith(OUTPUTS_START) or text == APPLIED_OUTPUTS)
        if block == "diagnostic" and not known:
            show(text, stack)  # its detail, blank lines included
            continue
        if keep_plan and block == "plan" and not event:
            show(text, stack)  # a diff's plan is what it is for
            continue
        if text.startswith(PLAN_STARTS):
            block = "plan"
            if keep_plan:
                show(text, stack)
        elif text.startswith(OUTPUTS_START) or text == APPLIED_OUTPUTS:
            block = "outputs"
        elif (plan := PLAN.match(text)) and not keep_plan:
            block = ""
            progress[stack].total = sum(int(n) for n in plan.groups())
            progress[stack].started = progress[stack].shown = clock()
            counting.add(stack)
            show(text, stack)
        elif event:
            block = ""
            progress[stack].line(text)
        elif block == "outputs" and (not text or text.startswith(" ") or " = " in text or CLOSING.fullmatch(text)):
            pass  # an output's `name = value`, or a line of a longer value
        elif block == "plan" or INIT_CHATTER.match(text) or not text.strip():
            pass
        else:
            block = ""
            if stack in counting and text.startswith(("Apply complete!", "Destroy complete!")):
                progress[stack].finish()
                counting.discard(stack)
            show(text, stack)
    for stack in sorted(counting):
        progress[stack].finish()


#: cdktf's options that take a value (the rest of its arguments after the command are stacks or flags).
VALUE_OPTIONS = {"-a", "--app", "-o", "--output", "--outputs-file", "--parallelism", "--terraform-parallelism",
                 "--var", "--var-file", "--log-level", "--experimental-provider-schema-cache-path"}


def stacks_named(cdktf_args: list[str]) -> list[str]:
    """The stacks a `cdktf deploy|destroy ...` command line names (its positional arguments)."""
    named, skip = [], False
    for arg in cdktf_args[1:]:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in VALUE_OPTIONS
        else:
            named.append(arg)
    return named


def main(argv: list[str] | None = None) -> int:
    """`cdktf ARGS | python -m scripts.local.progress ARGS`: condense cdktf's output for the stacks ARGS name
    (a diff keeps its plan)."""
    cdktf_args = sys.argv[1:] if argv is None else argv
    stacks = stacks_named(cdktf_args)
    if not stacks:  # one stack in the app: cdktf needs no name; its prefix is the environment's
        from constructs.app.environments import environment_names

        stacks = environment_names()
    condense(iter(sys.stdin.readline, ""), sys.stdout, stacks, keep_plan=cdktf_args[:1] in (["diff"], ["plan"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
