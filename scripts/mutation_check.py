"""Plant known bugs one at a time and check that the fast tier (`tests/unit`) catches each.

Every mutant runs in its own throwaway copy of the working tree (the git-tracked files plus the
untracked ones git does not ignore, symlinks kept as symlinks), with the copy first on
`PYTHONPATH` so its `durable_runs` wins over the editable install. The unmutated copy runs first
and must pass; then every mutant must make a test fail. A mutant whose snippet is not in its file
stops the check before anything runs: moved code must fail loudly, not pass silently.

Usage: `python scripts/mutation_check.py [--jobs N] [MUTANT ...]` (all mutants by default).
Exits 0 when the baseline passes and every mutant is caught, 1 otherwise, 2 on a bad snippet.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNIT_TIER = (
    *("-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "--noconftest", "tests/unit"),
    # Starts interpreters to watch the CLI's imports: seconds per mutant, and no mutant here
    # touches an import.
    "--ignore=tests/unit/test_cli_imports.py",
)
RUN_TIMEOUT_S = 120
BASELINE = "(unmutated)"


@dataclass(frozen=True)
class Mutant:
    """One planted bug.

    Attributes:
        name: Short name, for the table and the command line.
        path: The file to change, relative to the repository (its real path, not a symlink's).
        original: An exact snippet of that file, found exactly once.
        replacement: What the snippet becomes.
        description: The bug, in words.
    """

    name: str
    path: str
    original: str
    replacement: str
    description: str


@dataclass(frozen=True)
class Outcome:
    """One run of the fast tier.

    Attributes:
        name: The mutant's name, or `BASELINE`.
        expected: `PASS` for the baseline, `FAIL` for a mutant.
        got: `PASS`, `FAIL` (a test failed) or `ERROR` (the tier could not run: a broken
            mutant, a collection error or a timeout).
        detail: The first failing test, or why the run errored.
    """

    name: str
    expected: str
    got: str
    detail: str

    @property
    def ok(self) -> bool:
        """The run ended as expected."""
        return self.got == self.expected


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "5xx-ignores-retry-after",
        "activities/errors.py",
        "        return ApplicationError(message, type=name, next_retry_delay=retry_after(err))",
        "        return ApplicationError(message, type=name)",
        "a 5xx (or 408/409) retries on the policy's backoff, ignoring the server's Retry-After",
    ),
    Mutant(
        "retry-after-ms-ignored",
        "activities/errors.py",
        '(("retry-after-ms", 0.001), ("retry-after", 1.0))',
        '(("retry-after", 1.0),)',
        "only `retry-after` (whole seconds) is read, never `retry-after-ms`",
    ),
    Mutant(
        "negative-retry-after-kept",
        "activities/errors.py",
        " or wait_s < 0 or ",
        " or ",
        "a negative Retry-After becomes a negative retry delay",
    ),
    Mutant(
        "429-wait-rounded-down",
        "activities/errors.py",
        "math.ceil(delay.total_seconds() * 1000)",
        "math.floor(delay.total_seconds() * 1000)",
        "a fractional 429 wait is rounded down, so the retry comes early",
    ),
    Mutant(
        "should-retry-false-ignored",
        "activities/errors.py",
        '    if should_retry == "false":',
        "    if False:",
        "`x-should-retry: false` on a 5xx is ignored and the call retried",
    ),
    Mutant(
        "should-retry-true-ignored",
        "activities/errors.py",
        ' or status in (408, 409) or should_retry == "true":',
        " or status in (408, 409):",
        "`x-should-retry: true` on a 4xx is ignored and the activity fails",
    ),
    Mutant(
        "4xx-retryable",
        "activities/errors.py",
        "    if status >= 500 or status in (408, 409)",
        "    if status >= 400 or status in (408, 409)",
        "every 4xx (400, 404, 422...) is retried instead of failing at once",
    ),
    Mutant(
        "insufficient-quota-retried",
        "activities/errors.py",
        '        if err.code == "insufficient_quota":',
        "        if False:",
        "a 429 for an exhausted quota is retried like a rate limit",
    ),
    Mutant(
        "401-without-hint",
        "activities/errors.py",
        'ApplicationError(f"{message}. {AUTH_HINT}", type=name, non_retryable=True)',
        "ApplicationError(message, type=name, non_retryable=True)",
        "a 401 no longer names the variable to set",
    ),
    Mutant(
        "connection-error-permanent",
        "activities/errors.py",
        "    if isinstance(err, openai.APIConnectionError):\n"
        '        return ApplicationError(f"{operation}: {err}", type=type(err).__name__)',
        "    if isinstance(err, openai.APIConnectionError):\n"
        '        return ApplicationError(f"{operation}: {err}", type=type(err).__name__,'
        " non_retryable=True)",
        "a refused or timed-out connection fails the activity for good",
    ),
    Mutant(
        "stranger-routed",
        "durable_runs/bridge/routing.py",
        "owner = (run.metadata or {}).get(WORKFLOW_ID_METADATA_KEY)",
        "owner = (run.metadata or {}).get(WORKFLOW_ID_METADATA_KEY, run.id)",
        "a run naming no workflow of ours is signalled to a workflow named after the run",
    ),
    Mutant(
        "empty-owner-routed",
        "durable_runs/bridge/routing.py",
        "if not isinstance(owner, str) or not owner:",
        "if not isinstance(owner, str):",
        "a run whose workflow id metadata is empty is routed to workflow ''",
    ),
    Mutant(
        "progress-signalled",
        "durable_runs/bridge/routing.py",
        "if run.status in PROGRESS_STATUSES and not signal_progress:",
        "if False:",
        "progress-only run events are signalled even when not asked for",
    ),
    Mutant(
        "step-events-as-runs",
        "durable_runs/bridge/routing.py",
        r'_RUN_EVENT = re.compile(r"^thread\.run\.[a-z_]+$")',
        r'_RUN_EVENT = re.compile(r"^thread\.run\.[a-z_.]+$")',
        "`thread.run.step.*` events are taken for run events",
    ),
    Mutant(
        "object-id-unchecked",
        "durable_runs/bridge/routing.py",
        "    if not _OBJECT_ID.match(object_id):",
        "    if False:",
        "any string (quotes, slashes) is accepted as an object id",
    ),
    Mutant(
        "unknown-tool-accepted",
        "activities/tools.py",
        "missing = [n for n in names if n not in self._tools]",
        "missing: list[str] = []",
        "a request naming unregistered tools passes the registry's check",
    ),
    Mutant(
        "disallowed-tool-run",
        "activities/tools.py",
        "self._registry.get(name) if name in call.allowed else None",
        "self._registry.get(name)",
        "the tool activity runs a registered tool the run did not allow",
    ),
    Mutant(
        "unapproved-tool-run",
        "activities/tools.py",
        "if tool.requires_approval and not call.approved:",
        "if False:",
        "the tool activity runs a tool that needs approval on a call nobody approved",
    ),
    Mutant(
        "model-sets-idempotency-key",
        "activities/tools.py",
        "arguments[IDEMPOTENCY_KEY_PARAMETER] = call.idempotency_key",
        "arguments.setdefault(IDEMPOTENCY_KEY_PARAMETER, call.idempotency_key)",
        "an idempotency key sent by the model replaces ours",
    ),
    Mutant(
        "fatal-tool-not-fatal",
        "activities/tools.py",
        "        if tool.fatal:",
        "        if False:",
        "a raising `fatal` tool is reported to the model instead of failing the run",
    ),
    Mutant(
        "is-stale-always-false",
        "workflows/rules.py",
        "def is_stale(",
        # The original stays, renamed, so the mutant does not depend on the function's body.
        "def is_stale(*_: object, **__: object) -> bool:\n    return False\n\n\n"
        "def _original_is_stale(",
        "`is_stale` never says stale: a late event moves a run back",
    ),
    Mutant(
        "duplicate-event-applied",
        "workflows/rules.py",
        "        if event.event_id in remembered:\n            continue\n",
        "",
        "a webhook id already applied is applied again",
    ),
    Mutant(
        "safety-poll-fixed",
        "workflows/rules.py",
        "delay_s = min(schedule.delay_s * poll.safety_poll_backoff, poll.safety_poll_max_s)",
        "delay_s = schedule.delay_s",
        "the safety poll never grows: a long webhook run is read every `safety_poll_s`",
    ),
    Mutant(
        "poll-backoff-restarts",
        "durable_runs/models.py",
        "self.initial_interval_s * self.backoff**reads",
        "self.initial_interval_s",
        "polling reads every initial interval, without backoff",
    ),
    Mutant(
        "poll-hint-ignored",
        "durable_runs/models.py",
        "max(interval_s, (hint_ms or 0) / 1000)",
        "interval_s",
        "polling ignores the server's poll-after hint",
    ),
    Mutant(
        "poll-schedule-drifts",
        "activities/polling.py",
        "return max(due - now, interval * MIN_WAIT_SHARE, hint)",
        "return max(interval, hint)",
        "each wait counts from the end of the read before it: dispatch and read times add up",
    ),
    Mutant(
        "poll-returns-on-no-change",
        "activities/polling.py",
        "return snapshot.status != known_status or",
        "return True or",
        "every read returns to the workflow: a workflow task per read again",
    ),
    Mutant(
        "poll-misses-tool-calls",
        "activities/polling.py",
        " or snapshot.needs_tool_outputs or",
        " or",
        "a poll keeps waiting on a run that needs tool outputs under its known status",
    ),
    Mutant(
        "codec-encode-passes-through",
        "durable_runs/payloads/encryption.py",
        "        return encoded\n",
        "        return list(payloads)\n",
        "the encryption codec hands payloads to Temporal unencrypted",
    ),
    Mutant(
        "converter-ignores-codec-keys",
        "durable_runs/payloads/__init__.py",
        "if settings.codec_keys:",
        "if not settings:",
        "DURABLE_RUNS_CODEC_KEYS is set but clients and workers store payloads in clear",
    ),
)


def tree_files(root: Path) -> list[str]:
    """The git-tracked files plus the untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({path for path in listed.split("\0") if path})


def copy_files(root: Path, files: Sequence[str], dest: Path) -> None:
    """Copy `files` from `root` into `dest`, symlinks as symlinks (their targets unchanged)."""
    for relative in files:
        source = root / relative
        target = dest / relative
        if source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(source))
        elif source.is_file():  # a tracked file deleted in the tree is left out, as in the tree
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def snippet_problems(tree: Path, mutants: Sequence[Mutant]) -> list[str]:
    """Why some mutants cannot be planted in `tree` (each snippet must occur exactly once)."""
    problems = []
    for mutant in mutants:
        path = tree / mutant.path
        if not path.is_file():
            problems.append(f"{mutant.name}: {mutant.path} does not exist")
            continue
        count = path.read_text(encoding="utf-8").count(mutant.original)
        if count != 1:
            problems.append(
                f"{mutant.name}: snippet found {count} times in {mutant.path} "
                f"(expected once): {mutant.original!r}"
            )
    return problems


def plant(pristine: Path, mutant: Mutant, dest: Path) -> None:
    """Make `dest` a copy of `pristine` with `mutant` planted."""
    shutil.copytree(pristine, dest, symlinks=True)
    path = dest / mutant.path
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(mutant.original, mutant.replacement, 1), encoding="utf-8")


def tier_environment(tree: Path) -> dict[str, str]:
    """The environment of a run in `tree`: its own code first on the import path."""
    return {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}


def imported_package(tree: Path) -> Path:
    """Where `durable_runs` is imported from when the fast tier runs in `tree`."""
    found = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util; print(importlib.util.find_spec('durable_runs').origin)",
        ],
        cwd=tree,
        env=tier_environment(tree),
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(found.stdout.strip())


def run_tier(tree: Path, name: str, expected: str) -> Outcome:
    """Run the fast tier in `tree` and say how it ended."""
    try:
        done = subprocess.run(
            [sys.executable, *UNIT_TIER],
            cwd=tree,
            env=tier_environment(tree),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return Outcome(name, expected, "ERROR", f"timed out after {RUN_TIMEOUT_S} s")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "(no output)"
    if done.returncode == 0:
        return Outcome(name, expected, "PASS", last)
    if done.returncode == 1:
        failed = [line for line in lines if line.startswith("FAILED ")]
        detail = failed[0].removeprefix("FAILED ").split(" - ")[0] if failed else last
        return Outcome(name, expected, "FAIL", detail)
    return Outcome(name, expected, "ERROR", f"pytest exit {done.returncode}: {last}")


def run_mutant(pristine: Path, scratch: Path, mutant: Mutant) -> Outcome:
    """Plant one mutant in a fresh copy, run the fast tier there, and drop the copy."""
    tree = scratch / mutant.name
    plant(pristine, mutant, tree)
    try:
        return run_tier(tree, mutant.name, "FAIL")
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def print_table(outcomes: Sequence[Outcome]) -> None:
    """The results, one row per run."""
    header = ("mutant", "expected", "got", "", "caught by / detail")
    rows = [header] + [
        (o.name, o.expected, o.got, "ok" if o.ok else "BAD", o.detail) for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]).rstrip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("mutants", nargs="*", help="names of the mutants to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    args = parser.parse_args(argv)
    by_name = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in args.mutants if name not in by_name]
    if unknown:
        parser.error(f"unknown mutant {', '.join(unknown)} (known: {', '.join(by_name)})")
    mutants = [by_name[name] for name in args.mutants] if args.mutants else list(MUTANTS)

    with tempfile.TemporaryDirectory(prefix="durable-runs-mutants-") as scratch_dir:
        scratch = Path(scratch_dir)
        pristine = scratch / "pristine"
        copy_files(ROOT, tree_files(ROOT), pristine)
        problems = snippet_problems(pristine, mutants)
        if problems:
            print("mutation check: cannot plant these mutants (update scripts/mutation_check.py):")
            for problem in problems:
                print(f"  {problem}")
            return 2
        package = imported_package(pristine)
        if not package.is_relative_to(pristine):
            print(f"mutation check: the copy imports durable_runs from {package}, not the copy")
            return 1
        baseline = run_tier(pristine, BASELINE, "PASS")
        outcomes = [baseline]
        if baseline.ok:
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                outcomes += pool.map(lambda m: run_mutant(pristine, scratch, m), mutants)
    print_table(outcomes)
    if not baseline.ok:
        print("mutation check: the unmutated tree does not pass the fast tier; mutants not run")
        return 1
    survivors = [m for m, o in zip(mutants, outcomes[1:], strict=True) if not o.ok]
    for mutant in survivors:
        print(f"not caught: {mutant.name}: {mutant.description}")
    caught = len(mutants) - len(survivors)
    print(f"mutation check: {caught}/{len(mutants)} mutants caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
