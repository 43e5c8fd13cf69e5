"""The README is true: every command in its shell blocks exists and parses (scripts answer --help
and know every flag the README gives them; cdktf subcommands are real ones), and every relative link
resolves inside the repository (users clone it alone)."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest

from support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
CDKTF_SUBCOMMANDS = {"synth", "diff", "deploy", "destroy", "output", "list", "get", "init", "watch"}
SHELL_BUILTINS = {"source", ".", "export", "cd", "eval"}
OTHER_TOOLS = {"git": {"diff", "log", "status", "add", "commit", "clone"}, "terraform": {"init", "plan", "apply", "show"}}


def shell_commands(text: str) -> list[str]:
    """Command lines of the README's bash/sh blocks (comments and blank lines dropped)."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" # ")[0].strip()
            if line and not line.startswith("#"):
                commands.extend(part.strip() for part in re.split(r"&&|;", line) if part.strip())
    return commands


COMMANDS = shell_commands(README)


def test_the_readme_has_the_two_commands_first():
    assert COMMANDS[:2] == ["./scripts/run_local.sh", "./scripts/test.sh"]


def _script(tokens: list[str]) -> tuple[str, list[str]] | None:
    """(what to run, its arguments): `python -m scripts.x ...` (a module of the scripts package) or
    `./scripts/x.sh ...` (a shell entry point)."""
    if tokens[0].endswith("python") and len(tokens) > 2 and tokens[1] == "-m":
        return (tokens[2], tokens[3:]) if tokens[2].startswith("scripts.") else None
    path = tokens[0].removeprefix("./")
    return (path, tokens[1:]) if path.startswith("scripts/") and path.endswith(".sh") else None


@pytest.mark.parametrize("command", COMMANDS)
def test_every_readme_command_exists_and_parses(command):
    tokens = shlex.split(command)
    if tokens[0] == "eval":  # eval "$(command)": check the command
        inner = re.fullmatch(r"\$\((.*)\)", tokens[1])
        assert inner, command
        tokens = shlex.split(inner.group(1))
    if tokens[0] in SHELL_BUILTINS:
        target = tokens[1] if len(tokens) > 1 else ""
        if tokens[0] in ("source", "."):
            assert (ROOT / target).is_file(), command
        return
    if tokens[0] == "cdktf":
        assert tokens[1] in CDKTF_SUBCOMMANDS, command
        return
    if tokens[0] in OTHER_TOOLS:
        assert tokens[1] in OTHER_TOOLS[tokens[0]], command
        return
    script = _script(tokens)
    assert script, f"not a project command the test knows how to check: {command}"
    target, args = script
    if target.endswith(".sh"):
        assert (ROOT / target).is_file(), command
        assert os.access(ROOT / target, os.X_OK), f"{target} is not executable"
        assert subprocess.run(["bash", "-n", str(ROOT / target)]).returncode == 0
        return
    run = [sys.executable, "-m", target]
    result = subprocess.run([*run, *args, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"{command} --help: {result.stderr[-500:]}"
    top = subprocess.run([*run, "--help"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120).stdout  # options before a subcommand are the program's own
    unknown = [t.split("=")[0] for t in args
               if t.startswith("--") and t.split("=")[0] not in result.stdout + top]
    assert not unknown, f"{command}: {unknown} not in its --help"


def test_relative_links_resolve_inside_the_repository():
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", README)
    relative = [link for link in links if not re.match(r"^[a-z]+://|^mailto:", link)]
    for link in relative:
        target = (ROOT / link).resolve()
        assert target.exists(), f"README links to {link}, which is not in the repository"
        assert ROOT.resolve() in target.parents or target == ROOT.resolve(), f"{link} leaves the repository"
    assert "../shared" not in README and "shared/DESIGN" not in README
