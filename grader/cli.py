"""``grade``: the command students and instructors run."""

from __future__ import annotations

import importlib.util
import io
import os
import queue
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import NoReturn

import click

from grader.cases import BUILTIN_CASES, Case, CaseError, CaseErrors, load_cases
from grader.cases.script import Script
from grader.checks import first_line
from grader.grading import SubmissionReport, display_name, grade_submission, make_scripts
from grader.i18n import LANGUAGES, _, language_from_environment
from grader.i18n import use as use_language
from grader.report.formats import FORMATS, render, summary_csv
from grader.sandbox.runner import Limits, Sandbox, package_root
from mock_api.console import Command, InputError


def reference_solution() -> Path:
    """The reference chat_repl.py, installed beside the grader."""
    path = Path(package_root()) / "solution" / "chat_repl.py"
    if not path.is_file():
        raise InputError(f"no PATH given, and no reference solution at {path}")
    return path


def expand(paths: tuple[Path, ...]) -> list[Path]:
    """Submissions named directly, and every submission directory inside a class directory."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            if path.suffix != ".py":
                raise InputError(
                    _(
                        "{path}: not a Python file; give chat_repl.py, or the folder holding it"
                    ).format(path=path)
                )
            found.append(path)
        elif (path / "chat_repl.py").is_file():
            found.append(path)
        elif path.is_dir():
            folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
            if not folders:
                held = sorted(p.name for p in path.iterdir() if not p.name.startswith("."))
                listing = ", ".join(held[:12]) + (", …" if len(held) > 12 else "")
                raise InputError(
                    _(
                        "{path}: no chat_repl.py here, and no submission folders; it holds "
                        "{listing}"
                    ).format(path=path, listing=listing or _("nothing"))
                )
            found.extend(folders)
        else:
            raise InputError(_("{path}: no such file or directory").format(path=path))
    return found


def report_names(submissions: list[Path]) -> dict[Path, str]:
    """Each submission's name in reports: its folder's, or, where two share it, its path."""
    names = {path: display_name(path) for path in submissions}
    shared = {n for n in names.values() if list(names.values()).count(n) > 1}
    return {p: str(p) if n in shared else n for p, n in names.items()}


def add_checks(file: Path) -> None:
    """Import an instructor's file of checks; its @check declarations join the registry."""
    if not file.is_file():
        raise InputError(f"--checks {file}: no such file")
    name = f"trimlab_checks_{len(sys.modules)}_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None or file.suffix != ".py":
        raise InputError(f"--checks {file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        lines = [f.lineno for f in frames if f.filename == str(file)]
        where = f", line {lines[-1]}" if lines else ""  # a SyntaxError names its line itself
        raise InputError(f"--checks {file}{where}: {type(exc).__name__}: {exc}") from None


def load(cases_dir: Path, only: tuple[str, ...]) -> list[Case]:
    try:
        cases = load_cases(cases_dir)
    except CaseErrors as errors:
        raise InputError(*map(str, errors.errors)) from None
    except CaseError as error:
        raise InputError(str(error)) from None
    if only:
        unknown = sorted(set(only) - {c.id for c in cases})
        if unknown:
            raise InputError(
                f"--case: no case {', '.join(unknown)} in {cases_dir}; the cases are "
                + ", ".join(c.id for c in cases)
            )
        cases = [c for c in cases if c.id in only]
    return cases


@click.command(cls=Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--cases",
    "cases_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=BUILTIN_CASES,
    show_default="the built-in suite",
    help="Directory of *.toml cases.",
)
@click.option(
    "--case", "only", multiple=True, metavar="ID", help="Run only this case (repeatable)."
)
@click.option(
    "--checks",
    "check_files",
    multiple=True,
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE.py",
    help="Add the checks this file declares with @check (repeatable).",
)
@click.option("--list", "list_cases", is_flag=True, help="List the cases and exit.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=language_from_environment,
    show_default="from LC_ALL / LC_MESSAGES / LANG",
    help="The language of the report (every format).",
)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report here instead of standard output.",
)
@click.option(
    "--summary",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a CSV, one row per submission: name, score, max score, failed checks.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1),
    default=os.cpu_count() or 1,
    show_default="the number of cores",
    help="Submissions graded at once.",
)
@click.option("--seed", type=int, help="Seed for generated histories (default: each case's own).")
@click.option(
    "--memory-mb",
    type=click.IntRange(64),
    default=1024,
    show_default=True,
    help="Memory a submission may use beyond the grader's own.",
)
@click.option(
    "--output-kb",
    type=click.IntRange(1),
    default=1024,
    show_default=True,
    help="Output a submission may print per case; the rest is cut off.",
)
@click.option(
    "--gradescope-bundle",
    "bundle",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE.zip",
    help="Write a Gradescope autograder bundle with these --cases, and exit.",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Grade again whenever a file of the submission changes; Ctrl-C stops.",
)
def grade(
    paths: tuple[Path, ...],
    cases_dir: Path,
    only: tuple[str, ...],
    check_files: tuple[Path, ...],
    list_cases: bool,
    fmt: str,
    lang: str,
    output: Path | None,
    summary: Path | None,
    jobs: int,
    seed: int | None,
    memory_mb: int,
    output_kb: int,
    bundle: Path | None,
    watch: bool,
) -> None:
    """Grade PATH: a directory holding chat_repl.py, the file itself, or a directory of such
    directories (a whole class). With no PATH, grade the reference solution.

    Exit status: 0 when every check passes, 1 when any does not, 2 on a usage error.
    """
    use_language(lang)
    for file in check_files:
        add_checks(file)
    if list_cases:
        click.echo(case_table(load(cases_dir, only)))
        return
    if bundle is not None:
        if paths:
            raise click.UsageError("--gradescope-bundle grades nothing: give it no PATH")
        write_bundle(bundle, cases_dir)
        return
    if not paths:
        click.secho(
            _("No PATH given: grading the reference solution, {path}").format(
                path=reference_solution()
            ),
            fg="cyan",
            err=True,
        )
        paths = (reference_solution(),)
    submissions = expand(paths)
    if not submissions:
        raise InputError(
            _("{paths}: no submissions found").format(paths=", ".join(map(str, paths)))
        )
    if fmt == "gradescope" and len(submissions) != 1:
        raise click.UsageError(
            f"--format gradescope takes exactly one submission, not {len(submissions)}"
        )
    for option, target in (("--output", output), ("--summary", summary)):
        if target is not None and not target.parent.is_dir():
            raise InputError(
                _("{option} {target}: {folder}: no such directory").format(
                    option=option, target=target, folder=target.parent
                )
            )
    limits = Limits(memory_mb=memory_mb, output_kb=output_kb)
    if watch:
        watch_submission(submissions, load(cases_dir, only), seed, limits, fmt, output, summary)
    # Workers start first, so they warm up while the cases are loaded and the scripts made.
    sandboxes = start_sandboxes(limits, min(jobs, len(submissions)))
    try:
        cases = load(cases_dir, only)
        scripts = scripts_of(cases, seed)
        if cases_dir.resolve() != BUILTIN_CASES.resolve():
            prove(cases, scripts, sandboxes[0])
        reports = run_all(submissions, cases, scripts, sandboxes)
    finally:
        for sandbox in sandboxes:
            sandbox.close()
    text = render(reports, fmt, color=None if output is None else False)
    if output is not None:
        write(output, text + "\n", "report")
    else:
        click.echo(text)
    if summary is not None:
        write(summary, summary_csv(reports), "summary")
    fences = sorted({s.fence for s in sandboxes if s.fence})
    # For an instructor, or where a fence is missing; not at the end of every student's report.
    if fences and (len(reports) > 1 or any("network namespace" not in f for f in fences)):
        click.echo(f"sandbox: {'; '.join(fences)}", err=True)
    for gap in sorted({gap for s in sandboxes for gap in s.missing_fences}):
        click.secho(f"sandbox: weaker here: {gap} (see docs/platforms.md)", fg="yellow", err=True)
    if len(reports) > 1:
        passed = sum(r.passed for r in reports)
        click.echo(f"{passed} of {len(reports)} submissions passed every check", err=True)
    sys.exit(0 if all(r.passed for r in reports) else 1)


def prove(cases: list[Case], scripts: list[Script], sandbox: Sandbox) -> None:
    """Cases of one's own are proved before use: the reference solution must pass every check
    of each, or the case is refused (a case it cannot pass would fail every student)."""
    report = grade_submission(reference_solution(), cases, scripts, sandbox=sandbox)
    if report.error:
        raise InputError(f"cannot prove the cases on the reference: {report.error}")
    paths = {c.id: c.path for c in cases}
    refused = {}
    for result in report.results:
        if not result.passed and result.case not in refused:
            refused[result.case] = result
    if refused:
        raise InputError(
            *(
                f"{paths[case]}: case {case!r} is refused: the reference solution does not "
                f"pass {result.id} ({result.status}: {first_line(result.message)})"
                for case, result in refused.items()
            )
        )


def watch_submission(
    submissions: list[Path],
    cases: list[Case],
    seed: int | None,
    limits: Limits,
    fmt: str,
    output: Path | None,
    summary: Path | None,
) -> NoReturn:
    """Grade, then again after every save that changes the submission, on one warm worker."""
    from grader.watch import fingerprint, saves, submission_folder

    if len(submissions) != 1:
        raise click.UsageError(f"--watch takes exactly one submission, not {len(submissions)}")
    folder = submission_folder(submissions[0])
    written = [p for p in (output, summary) if p is not None]  # our own writes are no save
    scripts = scripts_of(cases, seed)
    sandbox = start_sandboxes(limits, 1)[0]  # it warms up while the watcher starts
    try:
        changes = saves(folder, written)
        next(changes)  # the watcher runs: a save made from now on is seen, even mid-grading
        last = fingerprint(folder, written)
        grade_and_show(submissions, cases, scripts, sandbox, fmt, output, summary, folder)
        for changed in changes:
            if not changed:
                continue
            current = fingerprint(folder, written)
            if current == last:
                click.echo("saved, but no content changed: not graded again", err=True)
                continue
            last = current
            grade_and_show(submissions, cases, scripts, sandbox, fmt, output, summary, folder)
    except KeyboardInterrupt:
        click.echo("\nstopped watching", err=True)
        sys.exit(130)
    finally:
        sandbox.close()
    sys.exit(0)  # the watcher stopped by itself (its folder went away)


def grade_and_show(
    submissions: list[Path],
    cases: list[Case],
    scripts: list[Script],
    sandbox: Sandbox,
    fmt: str,
    output: Path | None,
    summary: Path | None,
    folder: Path,
) -> None:
    """One round of --watch: the fresh report, its summary at the bottom, then what's next."""
    reports = run_all(submissions, cases, scripts, [sandbox])
    text = render(reports, fmt, color=None if output is None else False)
    if output is not None:
        write(output, text + "\n", "report")
    else:
        if sys.stdout.isatty():
            click.clear()
        click.echo(text)
    if summary is not None:
        write(summary, summary_csv(reports), "summary")
    stamp = time.strftime("%H:%M:%S")
    click.echo(f"graded at {stamp}; watching {folder} for changes (Ctrl-C to stop)", err=True)


def scripts_of(cases: list[Case], seed: int | None) -> list[Script]:
    """The cases' scripts; a case naming a check its script gives nothing to judge is bad
    input."""
    try:
        return make_scripts(cases, seed)
    except CaseError as error:
        raise InputError(str(error)) from None


def start_sandboxes(limits: Limits, count: int) -> list[Sandbox]:
    sandboxes: list[Sandbox] = []
    try:
        for _ in range(count):
            sandboxes.append(Sandbox(limits))
    except Exception as exc:  # no tiktoken data, no temporary folder: nothing can be graded
        for sandbox in sandboxes:
            sandbox.close()
        raise click.ClickException(f"cannot start the grading sandbox: {exc}") from None
    return sandboxes


def write(path: Path, text: str, what: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write the {what}: {reason(exc)}") from None
    click.echo(f"{what} written to {path}", err=True)


def reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_bundle(target: Path, cases_dir: Path) -> None:
    from grader.report.bundle import BundleError, build_bundle

    try:
        cases = build_bundle(target, cases_dir)
    except CaseErrors as errors:
        raise InputError(*map(str, errors.errors)) from None
    except (CaseError, BundleError) as error:
        raise InputError(str(error)) from None
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot write the bundle: {reason(exc)}") from None
    hidden = sum(c.visibility == "hidden" for c in cases)
    click.echo(
        f"Gradescope bundle written to {target}: {len(cases)} cases ({hidden} hidden). Upload "
        "it as the assignment's autograder, on an Ubuntu 22.04 or newer image."
    )


def run_all(
    submissions: list[Path], cases: list[Case], scripts: list[Script], sandboxes: list[Sandbox]
) -> list[SubmissionReport]:
    """Grade in parallel, one submission per worker at a time; a submission's crash or hang
    ends only its own case, in a fork of the worker."""
    names = report_names(submissions)
    if len(submissions) == 1:
        return [grade_safely(submissions[0], cases, scripts, sandboxes[0], names[submissions[0]])]
    idle: queue.Queue[Sandbox] = queue.Queue()
    for sandbox in sandboxes:
        idle.put(sandbox)

    def grade_one(path: Path) -> SubmissionReport:
        sandbox = idle.get()
        try:
            return grade_safely(path, cases, scripts, sandbox, names[path])
        finally:
            idle.put(sandbox)

    reports: dict[Path, SubmissionReport] = {}
    pool = ThreadPoolExecutor(max_workers=len(sandboxes))
    try:
        with click.progressbar(
            length=len(submissions),
            label=f"grading {len(submissions)} submissions",
            file=sys.stderr if sys.stderr.isatty() else io.StringIO(),
        ) as bar:
            futures = {pool.submit(grade_one, path): path for path in submissions}
            for future in as_completed(futures):
                reports[futures[future]] = future.result()
                bar.update(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # on Ctrl-C: leave, don't finish
    return [reports[p] for p in submissions]


def grade_safely(
    path: Path, cases: list[Case], scripts: list[Script], sandbox: Sandbox, name: str
) -> SubmissionReport:
    """A bug of the grader's own, met on one submission, costs that submission alone."""
    try:
        return grade_submission(path, cases, scripts, sandbox=sandbox, name=name)
    except Exception as exc:
        report = SubmissionReport(name, path)
        report.error = f"the grader failed on this submission ({type(exc).__name__}: {exc})"
        return report


def case_table(cases: list[Case]) -> str:
    rows = [("id", "kind", "points", "visibility", "budget", "model", "description")]
    for c in cases:
        rows.append(
            (c.id, c.kind, f"{c.points:g}", c.visibility, f"{c.budget:,}", c.model, c.description)
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in rows
    )
