"""The docs are true and stay a guide: the README is short and starts with the two commands; every
command in the docs exists and parses (scripts answer --help and know every flag the docs give
them; cdktf subcommands are real ones); every relative link resolves inside the repository (users
clone it alone), an anchor to a heading; every path the docs name exists, and every name they
give after a module path is defined there; the generated tables (settings, resource counts)
match the code; the resource counts match the synthesized stacks and appear nowhere else."""
from __future__ import annotations

import ast
import functools
import glob
import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

import doc_tables
from support import ROOT

DOCS = ("README.md", "constructs/README.md", "scripts/README.md", "lambda_src/README.md",
        ".github/workflows/README.md", "tests/aws_samples/README.md")
TEXT = {doc: (ROOT / doc).read_text(encoding="utf-8") for doc in DOCS}
README = TEXT["README.md"]
README_MAX_LINES = 250
CDKTF_SUBCOMMANDS = {"synth", "diff", "deploy", "destroy", "output", "list", "get", "init", "watch"}
SHELL_BUILTINS = {"source", ".", "export", "cd", "eval"}
OTHER_TOOLS = {"git": {"diff", "log", "status", "add", "commit", "clone"}, "terraform": {"init", "plan", "apply", "show"}}
#: Python modules the docs may tell a user to run: the scripts package and the docs' generator.
RUNNABLE = ("scripts.", "tests.doc_tables")
TOP_FOLDERS = ("constructs", "lambda_src", "scripts", "tests", ".github")


def shell_commands(text: str) -> list[str]:
    """Command lines of a doc's bash/sh blocks (comments and blank lines dropped)."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell)\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" # ")[0].strip()
            if line and not line.startswith("#"):
                commands.extend(part.strip() for part in re.split(r"&&|;", line) if part.strip())
    return commands


COMMANDS = shell_commands(README)
ALL_COMMANDS = sorted({(doc, command) for doc in DOCS for command in shell_commands(TEXT[doc])})


def without_code(text: str) -> str:
    """The doc's prose: fenced blocks removed (links and headings inside them are not links)."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


# ----- the README is a guide ------------------------------------------------------------------

def test_the_readme_has_the_two_commands_first():
    assert COMMANDS[:2] == ["./scripts/run_local.sh", "./scripts/test.sh"]


def test_the_readme_is_at_most_250_lines():
    assert len(README.splitlines()) <= README_MAX_LINES


def test_the_readme_traces_every_requirement_once_in_order():
    table = README[README.index("## Requirements traceability"):]
    ids = re.findall(r"^\| ([MPFC]\d+) \|", table, re.MULTILINE)
    expected = ([f"M{i}" for i in range(1, 18)] + [f"P{i}" for i in range(1, 15)]
                + [f"F{i}" for i in range(1, 11)] + [f"C{i}" for i in range(1, 18)])
    assert ids == expected


def test_the_terraform_version_the_docs_ask_for_is_the_one_setup_checks():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    [minimum] = re.findall(r"Terraform >= (\d+\.\d+) expected", setup)
    assert f"Terraform >= {minimum}" in README
    stale = [doc for doc, text in TEXT.items() if re.search(r"Terraform \d+\.\d+\.x", text)]
    assert stale == []


# ----- commands --------------------------------------------------------------------------------

def _script(tokens: list[str]) -> tuple[str, list[str]] | None:
    """(what to run, its arguments): `python -m scripts.x ...` (a module of the scripts package, or
    the docs' generator) or `./scripts/x.sh ...` (a shell entry point)."""
    if tokens[0].endswith("python") and len(tokens) > 2 and tokens[1] == "-m":
        return (tokens[2], tokens[3:]) if tokens[2].startswith(RUNNABLE) else None
    path = tokens[0].removeprefix("./")
    return (path, tokens[1:]) if path.startswith("scripts/") and path.endswith(".sh") else None


@functools.cache
def help_text(*command: str) -> str:
    """`python -m <command...> --help`, which must succeed (cached: the docs repeat commands)."""
    result = subprocess.run([sys.executable, "-m", *command, "--help"], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, f"python -m {' '.join(command)} --help: {result.stderr[-500:]}"
    return result.stdout


def check_module_command(target: str, args: list[str], command: str) -> None:
    helps = help_text(target, *args) + help_text(target)  # options before a subcommand are the program's own
    unknown = [t.split("=")[0] for t in args if t.startswith("--") and t.split("=")[0] not in helps]
    assert not unknown, f"{command}: {unknown} not in its --help"


@pytest.mark.parametrize(("doc", "command"), ALL_COMMANDS)
def test_every_documented_command_exists_and_parses(doc, command):
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
    assert script, f"{doc}: not a project command the test knows how to check: {command}"
    target, args = script
    if target.endswith(".sh"):
        assert (ROOT / target).is_file(), command
        assert os.access(ROOT / target, os.X_OK), f"{target} is not executable"
        assert subprocess.run(["bash", "-n", str(ROOT / target)]).returncode == 0
        return
    check_module_command(target, args, command)


def inline_module_commands() -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(doc, span, module, its words) of every `python -m scripts...` in the docs' prose."""
    found = []
    for doc, text in TEXT.items():
        for span in re.findall(r"`([^`\n]*python -m (?:scripts|tests)\.[^`\n]*)`", without_code(text)):
            words = re.split(r"[\s\[\]|]+", span.split(" -m ", 1)[1])
            if not re.fullmatch(r"[\w.]+", words[0]):
                continue  # a placeholder: `python -m scripts.<room>`
            found.append((doc, span, words[0], tuple(w for w in words[1:] if w)))
    return found


@pytest.mark.parametrize(("doc", "span", "module", "words"), inline_module_commands())
def test_every_module_the_docs_name_in_prose_answers_help_and_knows_its_flags(doc, span, module, words):
    assert module.startswith(RUNNABLE), f"{doc}: {span}"
    top = help_text(module)
    commands = re.search(r"\{([\w,-]+)\}", top)
    subcommand = [w for w in words if commands and w in commands.group(1).split(",")][:1]
    helps = top + (help_text(module, *subcommand) if subcommand else "")
    unknown = [w for w in words if re.fullmatch(r"--[a-z][a-z-]*", w) and w not in helps]
    assert not unknown, f"{doc}: `{span}`: {unknown} not in its --help"


# ----- links, paths and names --------------------------------------------------------------------

def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", without_code(text), re.MULTILINE):
        slug = github_anchor(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(text: str) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", without_code(text))


@pytest.mark.parametrize("doc", DOCS)
def test_every_relative_link_resolves_to_a_file_and_its_anchor_to_a_heading(doc):
    folder = (ROOT / doc).parent
    problems = []
    for link in links(TEXT[doc]):
        if re.match(r"^[a-z]+://|^mailto:", link):
            continue
        path, _, anchor = link.partition("#")
        target = (folder / path).resolve() if path else (ROOT / doc).resolve()
        if ROOT.resolve() not in target.parents and target != ROOT.resolve():
            problems.append(f"{link} leaves the repository")
        elif not target.exists():
            problems.append(f"{link}: no such file")
        elif anchor and (not target.is_file() or target.suffix != ".md"
                         or anchor not in anchors(target.read_text(encoding="utf-8"))):
            problems.append(f"{link}: no heading #{anchor} there")
    assert problems == []


def test_no_doc_points_at_the_sessions_shared_folder():
    assert [doc for doc, text in TEXT.items() if "../shared" in text or "shared/DESIGN" in text] == []


PATH = re.compile(r"(?<![\w/.{<-])((?:constructs|lambda_src|scripts|tests|\.github)/[\w./*-]*[\w*/])")


def named_paths(text: str) -> set[str]:
    """Repository paths the doc names (placeholders such as `<function>` or `{env}` left out)."""
    return {p.rstrip("/") for p in PATH.findall(text) if not re.search(r"[<{]", p)} - {"scripts/x.sh"}


def hand_written(text: str) -> str:
    """The doc without its generated blocks (their text comes from the code's own docstrings and
    comments, which the code's review keeps true)."""
    return re.sub(r"<!-- generated: .*?<!-- end generated: [\w-]+ -->", "", text, flags=re.S)


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc):
    missing = sorted(p for p in named_paths(hand_written(TEXT[doc])) if not glob.glob(str(ROOT / p)))
    assert missing == []


def defined_names(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


#: `path/to/module.py` followed by `Name`, `Name` ...: each name is defined (or imported) there
NAMES_AFTER_PATH = re.compile(r"`((?:constructs|lambda_src|scripts|tests)/[\w/]+\.py)`((?:(?:[ ,:]|and)+`\w+`)+)")


@pytest.mark.parametrize("doc", DOCS)
def test_every_name_given_after_a_module_path_is_defined_there(doc):
    problems = []
    for path, names in NAMES_AFTER_PATH.findall(TEXT[doc]):
        for name in re.findall(r"`(\w+)`", names):
            if name not in defined_names(path):
                problems.append(f"{path}: {name}")
    named_tests = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", TEXT[doc])
    problems += [f"{p}::{t}" for p, t in named_tests if t not in defined_names(p)]
    assert problems == []


def test_every_dotted_runtime_name_the_docs_give_exists():
    """`paycore.x.Y` and `constructs.x.Y` in the docs: the module imports and has the attribute."""
    import importlib

    missing = []
    for doc, text in TEXT.items():
        for dotted in sorted(set(re.findall(r"`((?:paycore|constructs)\.[\w.]+)`", text))):
            parts = dotted.split(".")
            for cut in range(len(parts), 0, -1):
                try:
                    found = importlib.import_module(".".join(parts[:cut]))
                except ImportError:
                    continue
                try:
                    for attribute in parts[cut:]:
                        found = getattr(found, attribute)
                except AttributeError:
                    missing.append(f"{doc}: {dotted}")
                break
            else:
                missing.append(f"{doc}: {dotted}")
    assert missing == []


def test_every_rejection_reason_of_the_code_is_documented():
    code = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "lambda_src").rglob("*.py"))
    reasons = set(re.findall(r"Rejected\(\"(\w+)\"\)", code))
    table = TEXT["lambda_src/README.md"]
    table = table[table.index("### Rejection reasons"):]
    documented = set(re.findall(r"`(\w+)`", table[:table.index("\n#")]))
    assert reasons and reasons - documented == set()


def test_the_reuse_example_is_the_code_tests_test_reuse_runs():
    source = (ROOT / "tests" / "test_reuse.py").read_text(encoding="utf-8")
    body = source.split("# --- README example: begin\n")[1].split("# --- README example: end")[0]
    body = (textwrap.dedent(body.rstrip(" ")).replace("zip_path", '"build/orders.zip"')
            .replace('"placeholder="', '"<base64 sha256>"').replace("TerraformStack(scope,", "TerraformStack(app,"))
    [example] = [block for block in re.findall(r"```python\n(.*?)```", TEXT["constructs/README.md"], re.S)
                 if "build_orders_stack" in block or "orders-intake-shop" in block]
    assert body in example
    imports = [line for line in source.splitlines() if line.startswith("from constructs.")]
    assert all(line in example.splitlines() for line in imports)


# ----- generated tables and the figures that change with the code ---------------------------------

def test_the_generated_tables_match_the_code():
    stale = [path.relative_to(ROOT).as_posix()
             for path, text in doc_tables.rendered(doc_tables.documented_environments()).items()
             if path.read_text(encoding="utf-8") != text]
    assert stale == [], f"regenerate with `{doc_tables.REGENERATE}` and commit the docs"


def stated_resource_counts() -> dict[str, dict[str, int]]:
    """The README's generated table: stack -> column -> count."""
    block = doc_tables.current_block(README, "resource-counts")
    assert block, "the README lost its resource-counts block"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.strip().splitlines()]
    header, body = rows[0], rows[2:]
    return {row[0].strip("`"): {k: int(v) for k, v in zip(header[1:], row[1:], strict=True)} for row in body}


def test_the_readme_resource_counts_are_the_synthesized_stacks(stack_json):
    stated = stated_resource_counts()
    assert stated, "no stack in the resource table"
    for environment, counts in stated.items():
        assert counts == doc_tables.resource_counts(stack_json(environment)), environment


COUNT = re.compile(r"\b\d[\d,]*\s+(?:managed\s+)?resources\b|\bresources?:\s*\d")


def test_no_doc_states_a_resource_count_outside_the_generated_table():
    found = []
    for doc, text in TEXT.items():
        prose = doc_tables.block_pattern("resource-counts").sub("", text)
        found += [f"{doc}: {m}" for m in COUNT.findall(prose)]
    assert found == []


def test_the_resource_count_check_finds_a_hand_written_count():
    assert COUNT.findall("the local stack is 338 resources; dev 1,312 resources") == ["338 resources",
                                                                                       "1,312 resources"]


def test_the_settings_table_covers_every_field_of_the_schema():
    from constructs.app.settings import Settings

    text = TEXT["constructs/README.md"]

    def keys(model, prefix=""):
        for name, info in model.model_fields.items():
            nested = doc_tables._section_of(info.annotation)
            if name == "environment" and not prefix:
                continue
            if nested and nested[0] in ("model", "optional"):
                yield from keys(nested[1], f"{prefix}{name}.")
            elif nested and nested[0] == "map":
                yield from (f"{prefix}{name}.<name>.{field}" for field in nested[1].model_fields)
            else:
                yield f"{prefix}{name}"

    missing = [key for key in keys(Settings) if f"| `{key}` |" not in text]
    assert missing == []


def test_the_generator_refuses_a_validator_it_cannot_describe():
    def mystery(value):
        return value

    with pytest.raises(LookupError, match="mystery"):
        doc_tables._validator_text(mystery)


def test_a_doc_without_its_generated_block_is_reported():
    with pytest.raises(KeyError, match="no block"):
        doc_tables.replace_block("# a doc\n", "settings", "x")


def test_the_docs_generator_check_mode_reports_nothing_stale():
    run = subprocess.run([sys.executable, "-m", "tests.doc_tables", "--check"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "every generated block is current"
