"""`python -m bench.profile --size N`: where the time goes per run, in the worker and in Temporal.

For each durable mode (Responses backend) it runs the workload as `bench.run` does, on processes
started for that mode alone, with py-spy attached to the worker subprocess (`--gil`: only samples
of a thread holding the GIL count, i.e. CPU spent running Python). py-spy attaches once the
worker polls its queues (its startup imports are not sampled) and stops when the last run has
ended. Before the mode's Temporal server stops, it reads the histories of the mode's workflows.

Prints, per mode: the worker's Python CPU per run by coarse group and by function (self and
inclusive), then what one run costs the Temporal server (workflow tasks, activity tasks, timers,
signals, upserts, markers, events, bytes). Writes the same figures to `<out>/profile-<N>.json`
and keeps py-spy's collapsed stacks as `<out>/py-spy-<mode>-<N>.txt`. Exits 1 when a run did not
complete (the figures would then be per run of a different workload).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History, HistoryEvent
from temporalio.client import Client

from bench.figures import ModeResult
from bench.modes import MODE_LABELS, BenchConfig, Mode, run_mode
from bench.report import machine
from bench.run import new_webhook_secret
from bench.workload import DURATION_RANGE_MS, NO_WEBHOOK_DELAY_MS, workload

PROFILED_MODES: tuple[Mode, ...] = ("polling", "webhooks")
"""The modes with a worker to profile (loop modes have none)."""

SAMPLE_RATE_HZ = 200
"""py-spy samples per second: a sample stands for 1/rate seconds of CPU."""

HISTORY_SAMPLE_MAX = 200
"""Most histories read per mode; above, an even sample of the runs (totals are extrapolated)."""

HISTORY_READS_IN_FLIGHT = 20
"""`fetch_history` calls in flight at once."""

SPY_ATTACH_TIMEOUT_S = 30.0
"""Bound on py-spy attaching to the worker (and on it writing its file when stopped)."""

NO_PYTHON_FRAME = "(no Python frame)"
"""The function of a sample without Python frames: a native thread (the Temporal core's,
through pyo3) holding the GIL, or a stack py-spy could not read without pausing the worker."""

OTHER_GROUP = "other"

_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")
_FROZEN = re.compile(r"^<frozen (?P<module>.+)>$")
_SPY_SUMMARY = re.compile(r"Samples: (?P<samples>\d+) Errors: (?P<errors>\d+)")


@dataclass(frozen=True)
class Frame:
    """One frame of a py-spy stack.

    Attributes:
        function: Qualified name as py-spy prints it (`Class.method`).
        file: py-spy's shortened file name (`temporalio/worker/_workflow.py`, `<string>`).
    """

    function: str
    file: str

    @property
    def name(self) -> str:
        """`module.function` (`temporalio.worker._workflow._WorkflowWorker._handle_activation`);
        code without a module file keeps its pseudo-file: `<string>:__init__`."""
        frozen = _FROZEN.match(self.file)
        if frozen:
            return f"{frozen['module']}.{self.function}"
        if not self.file.endswith(".py"):
            return f"{self.file}:{self.function}" if self.file else self.function
        module = self.file.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        return f"{module}.{self.function}"


def parse_frame(text: str) -> Frame:
    """Parse one frame of a collapsed stack: `func (path/file.py:123)` (line optional)."""
    match = _FRAME.match(text)
    if match is None:
        return Frame(function=text, file="")
    return Frame(function=match["function"], file=match["file"])


@dataclass(frozen=True)
class Group:
    """A coarse share of the worker's Python time: samples with a frame in one of its places.

    Attributes:
        name: The row's label.
        places: `(file prefix, function prefix)` pairs; a frame matches a pair when its file and
            function start with them (an empty prefix matches anything).
    """

    name: str
    places: tuple[tuple[str, str], ...]

    def holds(self, frame: Frame) -> bool:
        """Whether `frame` is in one of the group's places."""
        return any(
            frame.file.startswith(file) and frame.function.startswith(function)
            for file, function in self.places
        )


GROUPS: tuple[Group, ...] = (
    Group(
        "payload conversion (pydantic converter, payload visitor)",
        (
            ("temporalio/converter/", ""),
            ("temporalio/contrib/pydantic.py", ""),
            ("temporalio/bridge/_visitor", ""),
            ("temporalio/bridge/worker.py", "decode_activation"),
            ("temporalio/bridge/worker.py", "encode_completion"),
            ("temporalio/bridge/worker.py", "_Visitor."),
            ("temporalio/worker/_workflow.py", "_CommandAwareDataConverter."),
        ),
    ),
    Group(
        "activities: HTTP to the API (openai SDK)",
        (
            ("openai/", ""),
            ("httpx", ""),
            ("httpcore", ""),
            ("h11/", ""),
            ("anyio/", ""),
            ("aiohttp/", ""),
            ("durable_runs/activities/", ""),
            ("activities/", ""),
        ),
    ),
    Group(
        "workflow activations (sandbox)",
        (
            ("temporalio/worker/workflow_sandbox/", ""),
            ("temporalio/worker/_workflow_instance.py", ""),
            ("temporalio/workflow.py", ""),
            ("temporalio/worker/_workflow.py", "_RunningWorkflow."),
            ("durable_runs/workflows/", ""),
            ("workflows/", ""),
        ),
    ),
    Group("Temporal SDK core bridge (poll/complete)", (("temporalio/bridge/", ""),)),
    Group("Temporal worker dispatch (activations, activity tasks)", (("temporalio/worker/", ""),)),
    Group(
        "asyncio loop / thread hops",
        (
            ("asyncio/", ""),
            ("selectors.py", ""),
            ("concurrent/futures/", ""),
            ("threading.py", ""),
        ),
    ),
)
"""In priority order: a sample counts in the first group that holds any of its frames, so a
conversion reached from a workflow activation counts as conversion, and the event loop's own
frames, at the root of every sample of the main thread, only take what nothing else claims."""

NO_FRAME_GROUP = "no Python frame (native thread holding the GIL, or unreadable)"
GROUP_NAMES: tuple[str, ...] = (*(g.name for g in GROUPS), NO_FRAME_GROUP, OTHER_GROUP)
"""Every group, in print order."""


def group_of(frames: Sequence[Frame]) -> str:
    """The group of one sample (its frames root first)."""
    if not frames:
        return NO_FRAME_GROUP
    for group in GROUPS:
        if any(group.holds(frame) for frame in frames):
            return group.name
    return OTHER_GROUP


@dataclass(frozen=True)
class StackCounts:
    """Samples of a collapsed-stack profile, per function and per group.

    Attributes:
        samples: Every sample.
        self_samples: Per function: samples in which it is the leaf.
        inclusive_samples: Per function: samples in which it is on the stack (once per sample,
            however deep it recurses).
        group_samples: Per group (`GROUP_NAMES`).
    """

    samples: int
    self_samples: Counter[str]
    inclusive_samples: Counter[str]
    group_samples: Counter[str]


def count_stacks(lines: Iterable[str]) -> StackCounts:
    """Count py-spy's raw output: one `frame;frame;... count` line per distinct stack, root first.

    A stack without frames (a line ` N`) counts under `NO_PYTHON_FRAME`.
    """
    samples = 0
    self_samples: Counter[str] = Counter()
    inclusive_samples: Counter[str] = Counter()
    group_samples: Counter[str] = Counter()
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [parse_frame(text) for text in stack.split(";") if text]
        names = [frame.name for frame in frames] or [NO_PYTHON_FRAME]
        samples += count
        self_samples[names[-1]] += count
        for name in set(names):
            inclusive_samples[name] += count
        group_samples[group_of(frames)] += count
    return StackCounts(samples, self_samples, inclusive_samples, group_samples)


class FunctionCost(BaseModel):
    """One function's Python CPU per run.

    Attributes:
        function: `module.function`.
        self_ms_per_run: In the function itself.
        inclusive_ms_per_run: In it and what it calls.
    """

    function: str
    self_ms_per_run: float
    inclusive_ms_per_run: float


class WorkerProfile(BaseModel):
    """Where the worker's CPU went over one mode, per run.

    Attributes:
        samples: py-spy samples taken with the GIL held.
        sample_errors: Samples py-spy could not read (not counted anywhere).
        python_ms_per_run: CPU running Python (GIL held), from the samples.
        worker_cpu_ms_per_run: The worker's whole CPU (every thread, user + system), metered.
        groups_ms_per_run: Python CPU per coarse group (`GROUP_NAMES`).
        top_functions: The functions with the most self time, most first.
        spy_messages: What py-spy printed (its summary; warnings such as falling behind).
    """

    samples: int
    sample_errors: int
    python_ms_per_run: float
    worker_cpu_ms_per_run: float
    groups_ms_per_run: dict[str, float]
    top_functions: list[FunctionCost]
    spy_messages: list[str]


def ms_per_run(samples: int, *, rate_hz: int, runs: int) -> float:
    """CPU milliseconds per run that `samples` taken at `rate_hz` stand for."""
    return round(samples * 1000 / rate_hz / runs, 3)


def worker_profile(
    counts: StackCounts,
    *,
    rate_hz: int,
    runs: int,
    top: int,
    worker_cpu_s: float,
    spy_messages: list[str],
) -> WorkerProfile:
    """The per-run figures of one mode's samples."""

    def per_run(samples: int) -> float:
        return ms_per_run(samples, rate_hz=rate_hz, runs=runs)

    errors = 0
    for message in spy_messages:
        summary = _SPY_SUMMARY.search(message)
        if summary:
            errors = int(summary["errors"])
    return WorkerProfile(
        samples=counts.samples,
        sample_errors=errors,
        python_ms_per_run=per_run(counts.samples),
        worker_cpu_ms_per_run=round(worker_cpu_s * 1000 / runs, 3),
        groups_ms_per_run={name: per_run(counts.group_samples[name]) for name in GROUP_NAMES},
        top_functions=[
            FunctionCost(
                function=name,
                self_ms_per_run=per_run(samples),
                inclusive_ms_per_run=per_run(counts.inclusive_samples[name]),
            )
            for name, samples in counts.self_samples.most_common(top)
        ],
        spy_messages=spy_messages,
    )


class HistoryCounts(BaseModel):
    """What a run cost the Temporal server, from its history (every execution of its chain).

    Attributes:
        workflow_tasks: Workflow tasks started (each a round trip worker ↔ server).
        activity_tasks: Activity tasks scheduled.
        timers: Timers started.
        signals: Signals received.
        search_attribute_upserts: Search-attribute upserts (each a visibility write).
        markers: Markers recorded (patches, local activities, side effects).
        events: History events.
        history_bytes: The serialized history's size.
        payload_bytes: Bytes of payloads in it (inputs, results, search attributes, memos).
    """

    workflow_tasks: int = 0
    activity_tasks: int = 0
    timers: int = 0
    signals: int = 0
    search_attribute_upserts: int = 0
    markers: int = 0
    events: int = 0
    history_bytes: int = 0
    payload_bytes: int = 0


HISTORY_ROWS: dict[str, str] = {
    "workflow_tasks": "workflow tasks",
    "activity_tasks": "activity tasks scheduled",
    "timers": "timers",
    "signals": "signals",
    "search_attribute_upserts": "search-attribute upserts",
    "markers": "markers",
    "events": "history events",
    "history_bytes": "history bytes (serialized)",
    "payload_bytes": "payload bytes",
}
"""The fields of `HistoryCounts` and their row labels, in print order."""

_COUNTED_EVENTS: dict[int, str] = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: "workflow_tasks",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity_tasks",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search_attribute_upserts",
    EventType.EVENT_TYPE_MARKER_RECORDED: "markers",
}


def payload_bytes(message: Message) -> int:
    """Bytes of every `Payload` inside `message` (metadata and data), however nested."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            items: list[object] = [value]
        elif field.message_type.GetOptions().map_entry:
            items = list(value.values())
        else:
            items = list(value)
        total += sum(payload_bytes(item) for item in items if isinstance(item, Message))
    return total


def count_history(events: Sequence[HistoryEvent]) -> HistoryCounts:
    """Count one execution's history."""
    counted: Counter[str] = Counter()
    for event in events:
        field = _COUNTED_EVENTS.get(event.event_type)
        if field is not None:
            counted[field] += 1
    return HistoryCounts(
        **counted,
        events=len(events),
        history_bytes=History(events=events).ByteSize(),
        payload_bytes=sum(payload_bytes(event) for event in events),
    )


def add_counts(parts: Iterable[HistoryCounts]) -> HistoryCounts:
    """Field-wise sum (the executions of one continue-as-new chain, or the runs of a mode)."""
    total = Counter[str]()
    for part in parts:
        total.update(part.model_dump())
    return HistoryCounts(**total)


def even_sample(items: Sequence[str], most: int) -> list[str]:
    """At most `most` of `items`, spread evenly over them (all of them when they fit)."""
    if len(items) <= most:
        return list(items)
    return [items[i * len(items) // most] for i in range(most)]


def _run_index(workflow_id: str) -> int:
    """The workload index at the end of a bench workflow id (`<queue>-<index>`)."""
    tail = workflow_id.rpartition("-")[2]
    return int(tail) if tail.isdigit() else -1


async def read_histories(client: Client, task_queue: str, most: int) -> list[HistoryCounts]:
    """The history counts of (an even sample of at most `most` of) the runs on `task_queue`.

    A run is a workflow id: the executions of a continue-as-new chain are added up.
    """
    executions: dict[str, list[str]] = {}
    async for execution in client.list_workflows(f'TaskQueue = "{task_queue}"'):
        executions.setdefault(execution.id, []).append(execution.run_id)
    chosen = even_sample(sorted(executions, key=_run_index), most)
    gate = asyncio.Semaphore(HISTORY_READS_IN_FLIGHT)

    async def one_execution(workflow_id: str, run_id: str) -> HistoryCounts:
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            history = await handle.fetch_history()
        return count_history(history.events)

    async def one_run(workflow_id: str) -> HistoryCounts:
        parts = [one_execution(workflow_id, run_id) for run_id in executions[workflow_id]]
        return add_counts(await asyncio.gather(*parts))

    return list(await asyncio.gather(*(one_run(w) for w in chosen)))


class ServerProfile(BaseModel):
    """What the mode's runs cost the Temporal server.

    Attributes:
        runs_read: Runs whose histories were read (all, or an even sample).
        mean_per_run: Mean counts per run.
        mode_total: The mode's totals (the sample's mean × runs when a sample was read).
        server_cpu_ms_per_run: The Temporal server's CPU per run, metered.
    """

    runs_read: int
    mean_per_run: dict[str, float]
    mode_total: dict[str, float]
    server_cpu_ms_per_run: float


def server_profile(
    histories: Sequence[HistoryCounts], *, runs: int, server_cpu_s: float
) -> ServerProfile:
    """Mean and total counts of the runs read, and the server's CPU per run."""
    total = add_counts(histories).model_dump()
    read = len(histories)
    mean = {field: round(value / read, 2) if read else 0.0 for field, value in total.items()}
    return ServerProfile(
        runs_read=read,
        mean_per_run=mean,
        mode_total=(
            {k: float(v) for k, v in total.items()}
            if read == runs
            else {k: round(v * runs, 1) for k, v in mean.items()}
        ),
        server_cpu_ms_per_run=round(server_cpu_s * 1000 / runs, 3),
    )


def py_spy_command() -> str:
    """The py-spy executable: next to this Python, else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return str(beside)
    found = shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy not found: pip install py-spy")
    return found


class ModeProfiler:
    """A `ModeObserver`: py-spy on the worker while the runs go, then the mode's histories.

    Attributes:
        raw_path: Where py-spy writes its collapsed stacks.
        rate_hz: Samples per second.
        spy_messages: py-spy's output once stopped.
        histories: Counts of the runs read, once the runs have finished.
    """

    def __init__(self, raw_path: Path, rate_hz: int) -> None:
        self.raw_path = raw_path
        self.rate_hz = rate_hz
        self.spy_messages: list[str] = []
        self.histories: list[HistoryCounts] = []
        self._spy: asyncio.subprocess.Process | None = None

    async def worker_started(self, pid: int) -> None:
        """Attach py-spy to the worker; return once it samples."""
        self._spy = await asyncio.create_subprocess_exec(
            py_spy_command(), "record", "--pid", str(pid), "--rate", str(self.rate_hz),
            "--gil", "--function", "--nonblocking", "--format", "raw", "-o", str(self.raw_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        assert self._spy.stdout is not None
        first = await asyncio.wait_for(self._spy.stdout.readline(), SPY_ATTACH_TIMEOUT_S)
        if b"Sampling process" not in first:
            await self.stop()
            raise RuntimeError(f"py-spy did not attach to the worker: {first.decode()!r}")

    async def runs_finished(self, client: Client, task_queue: str) -> None:
        """Stop py-spy (it writes its file), then read the mode's histories."""
        await self.stop()
        self.histories = await read_histories(client, task_queue, HISTORY_SAMPLE_MAX)

    async def stop(self) -> None:
        """Stop py-spy with SIGINT (it writes its file) and keep its messages; idempotent."""
        spy, self._spy = self._spy, None
        if spy is None:
            return
        if spy.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                spy.send_signal(signal.SIGINT)
        try:
            output, _ = await asyncio.wait_for(spy.communicate(), SPY_ATTACH_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                spy.kill()
            output, _ = await spy.communicate()
        self.spy_messages = [
            line.removeprefix("py-spy> ").strip()
            for line in output.decode(errors="replace").splitlines()
            if line.strip() and "flamegraph.pl" not in line
        ]


class ModeProfile(BaseModel):
    """Everything measured for one mode.

    Attributes:
        mode: `polling` or `webhooks`.
        label: The mode's column title.
        runs: Runs in the workload.
        completed: Runs that ended `completed`.
        wall_s: From the first start to the last result.
        raw_profile: The file of py-spy's collapsed stacks.
        worker: The worker's CPU per run.
        server: The Temporal server's work per run.
    """

    mode: Mode
    label: str
    runs: int
    completed: int
    wall_s: float
    raw_profile: str
    worker: WorkerProfile
    server: ServerProfile


async def profile_mode(
    config: BenchConfig, mode: Mode, *, size: int, rate_hz: int, top: int
) -> ModeProfile:
    """Run the workload of `size` runs in `mode` on the Responses backend, profiled."""
    specs = workload(size, DURATION_RANGE_MS, NO_WEBHOOK_DELAY_MS)
    raw_path = config.out_dir / f"py-spy-{mode}-{size}.txt"
    profiler = ModeProfiler(raw_path, rate_hz)
    try:
        result: ModeResult = await run_mode(config, "responses", mode, specs, profiler)
    finally:
        await profiler.stop()
    counts = count_stacks(raw_path.read_text().splitlines() if raw_path.exists() else [])
    return ModeProfile(
        mode=mode,
        label=MODE_LABELS[mode],
        runs=size,
        completed=result.completed,
        wall_s=result.wall_s,
        raw_profile=str(raw_path),
        worker=worker_profile(
            counts,
            rate_hz=rate_hz,
            runs=size,
            top=top,
            worker_cpu_s=result.cpu_s_by_process.get("worker", 0.0),
            spy_messages=profiler.spy_messages,
        ),
        server=server_profile(
            profiler.histories,
            runs=size,
            server_cpu_s=result.cpu_s_by_process.get("Temporal server", 0.0),
        ),
    )


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


WORKER_CAPTION = (
    "Python CPU = py-spy samples with the GIL held ({rate} Hz, --nonblocking) / rate / runs. "
    "Sampling starts once the worker polls its queues (startup imports excluded) and ends when "
    "the last run has ended. Worker CPU (all threads) is metered by psutil over the same runs; "
    "the rest of it is outside the GIL: the Temporal core's Rust threads, GIL-free C code, the "
    "kernel. A sample counts in the first group, top to bottom, that holds one of its frames."
)


def _groups_table(profiles: Sequence[ModeProfile], *, size: int, rate_hz: int) -> Table:
    """The worker's Python CPU per run by group, beside its whole CPU, one column per mode."""
    table = Table(
        title=f"Worker CPU per run, Responses backend, {size} concurrent runs (ms / run)",
        caption=WORKER_CAPTION.format(rate=rate_hz),
    )
    table.add_column("where")
    for p in profiles:
        table.add_column(p.label, justify="right")
        table.add_column("share", justify="right")
    for name in GROUP_NAMES:
        if any(p.worker.groups_ms_per_run[name] for p in profiles):
            cells = []
            for p in profiles:
                value = p.worker.groups_ms_per_run[name]
                cells += [_ms(value), _share(value, p.worker.python_ms_per_run)]
            table.add_row(name, *cells)
    table.add_section()
    python, outside, whole, samples, completed = [], [], [], [], []
    for p in profiles:
        w = p.worker
        native = max(w.worker_cpu_ms_per_run - w.python_ms_per_run, 0.0)
        python += [_ms(w.python_ms_per_run), _share(w.python_ms_per_run, w.worker_cpu_ms_per_run)]
        outside += [_ms(native), _share(native, w.worker_cpu_ms_per_run)]
        whole += [_ms(w.worker_cpu_ms_per_run), ""]
        samples += [f"{w.samples} / {w.sample_errors}", ""]
        completed += [f"{p.completed} / {p.runs}", ""]
    table.add_row("Python CPU (GIL held), sampled", *python)
    table.add_row("worker CPU outside the GIL", *outside)
    table.add_row("worker CPU, all threads (psutil)", *whole)
    table.add_row("samples / unreadable samples", *samples)
    table.add_row("runs completed", *completed)
    return table


def _functions_table(p: ModeProfile) -> Table:
    """One mode's functions with the most self Python CPU per run."""
    table = Table(
        title=f"Worker, {p.label}: top {len(p.worker.top_functions)} functions by self "
        f"Python CPU (ms / run, {p.runs} runs)",
        caption=f"collapsed stacks: {p.raw_profile}",
    )
    table.add_column("function")
    table.add_column("self", justify="right")
    table.add_column("inclusive", justify="right")
    for f in p.worker.top_functions:
        table.add_row(f.function, _ms(f.self_ms_per_run), _ms(f.inclusive_ms_per_run))
    return table


def _server_table(profiles: Sequence[ModeProfile], *, size: int) -> Table:
    """What the runs cost the Temporal server: mean per run and mode total, per mode."""
    table = Table(
        title=f"Temporal server per run, Responses backend, {size} concurrent runs",
        caption="From the histories of the mode's workflows, read before its server stopped; "
        f"with more runs than {HISTORY_SAMPLE_MAX} an even sample is read and the mode total "
        "is mean × runs.",
    )
    table.add_column("metric")
    for p in profiles:
        table.add_column(f"{p.label}: mean / run", justify="right")
        table.add_column("mode total", justify="right")
    for field, label in HISTORY_ROWS.items():
        cells = []
        for p in profiles:
            s = p.server
            cells += [f"{s.mean_per_run[field]:,.2f}", f"{s.mode_total[field]:,.0f}"]
        table.add_row(label, *cells)
    table.add_section()
    cpu = [c for p in profiles for c in (_ms(p.server.server_cpu_ms_per_run), "")]
    table.add_row("Temporal server CPU ms (psutil)", *cpu)
    table.add_row("runs read", *(c for p in profiles for c in (str(p.server.runs_read), "")))
    return table


def print_profile(profiles: Sequence[ModeProfile], *, size: int, rate_hz: int) -> None:
    """Print the groups table, one function table per mode, and the server table."""
    console = Console(width=180)
    console.print(_groups_table(profiles, size=size, rate_hz=rate_hz))
    for p in profiles:
        console.print(_functions_table(p))
    console.print(_server_table(profiles, size=size))


async def profile(
    *, size: int, modes: Sequence[Mode], out_dir: Path, top: int
) -> list[ModeProfile]:
    """Profile each of `modes` in turn (fresh processes per mode)."""
    config = BenchConfig(out_dir=out_dir, rpm=0, webhook_secret=new_webhook_secret())
    profiles = []
    for mode in modes:
        print(f"· responses {mode}: {size} runs, profiled …", file=sys.stderr, flush=True)
        profiles.append(
            await profile_mode(config, mode, size=size, rate_hz=SAMPLE_RATE_HZ, top=top)
        )
    return profiles


def run_profile(*, size: int, modes: Sequence[Mode], out_dir: Path, top: int) -> bool:
    """Profile, print the tables, write `profile-<size>.json`; whether every run completed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    profiles = asyncio.run(profile(size=size, modes=modes, out_dir=out_dir, top=top))
    print_profile(profiles, size=size, rate_hz=SAMPLE_RATE_HZ)
    doc = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "backend": "responses",
        "size": size,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "worker_note": WORKER_CAPTION.format(rate=SAMPLE_RATE_HZ),
        "groups": list(GROUP_NAMES),
        "modes": {p.mode: p.model_dump() for p in profiles},
    }
    (out_dir / f"profile-{size}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return all(p.completed == p.runs for p in profiles)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; returns the exit status (1 when a run did not complete)."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--size", type=int, default=300, help="concurrent runs per mode")
    parser.add_argument("--modes", nargs="+", choices=PROFILED_MODES, default=list(PROFILED_MODES))
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--top", type=int, default=12, help="functions per mode table")
    args = parser.parse_args(argv)
    if args.size < 1 or args.top < 1:
        parser.error("--size and --top must be at least 1")
    ok = run_profile(size=args.size, modes=args.modes, out_dir=args.out, top=args.top)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
