"""The pure parts of `bench.profile`: collapsed stacks, groups, history counts (no py-spy run)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent, MarkerRecordedEventAttributes
from temporalio.client import WorkflowHistory

from bench.profile import (
    GROUP_NAMES,
    NO_FRAME_GROUP,
    NO_PYTHON_FRAME,
    OTHER_GROUP,
    HistoryCounts,
    ModeProfile,
    count_history,
    count_stacks,
    even_sample,
    group_of,
    parse_frame,
    print_profile,
    server_profile,
    worker_profile,
)

HISTORIES = Path(__file__).parents[1] / "histories" / "RunWorkflow"

LOOP = "Runner.run (asyncio/runners.py:86);Handle._run (asyncio/events.py:78)"
ACTIVITY = f"{LOOP};_ActivityWorker._execute_activity (temporalio/worker/_activity.py:525)"
SANDBOX = (
    "Thread.run (threading.py:971);"
    "_RunningWorkflow.activate (temporalio/worker/_workflow.py:862);"
    "_Instance._run_code (temporalio/worker/workflow_sandbox/_runner.py:187)"
)
COLLAPSED = [
    # An API call from an activity body, parsing the answer with pydantic: 7 samples.
    f"{ACTIVITY};ResponsesActivities.read (durable_runs/activities/responses.py:109);"
    "construct_type (openai/_models.py:608);construct_type (openai/_models.py:608);"
    "TypeAdapter.validate_python (pydantic/type_adapter.py:362) 7",
    # The workflow code in the sandbox: 5 samples.
    f"{SANDBOX};<module> (<string>:1);RunWorkflow.run (durable_runs/workflows/run.py:200) 5",
    # A payload converter reached from the sandbox counts as conversion: 3 samples.
    f"{LOOP};_CommandAwareDataConverter._get_current_dc (temporalio/worker/_workflow.py:936);"
    "_Instance._run_code (temporalio/worker/workflow_sandbox/_runner.py:187) 3",
    # Polling the core: 2 samples.
    f"{LOOP};Worker.poll_activity_task (temporalio/bridge/worker.py:221) 2",
    # The loop alone: 4 samples.
    f"{LOOP};EpollSelector.select (selectors.py:451) 4",
    # No Python frame: 1 sample; something else: 1 sample.
    " 1",
    "spin (<string>:3) 1",
]


def test_frames_are_named_module_dot_function() -> None:
    frame = parse_frame("_WorkflowWorker._handle_activation (temporalio/worker/_workflow.py:310)")
    assert frame.file == "temporalio/worker/_workflow.py"
    assert frame.name == "temporalio.worker._workflow._WorkflowWorker._handle_activation"
    assert parse_frame("_run_code (<frozen runpy>:65)").name == "runpy._run_code"
    assert parse_frame("__init__ (<string>:2)").name == "<string>:__init__"
    assert parse_frame("visit (temporalio/bridge/__init__.py)").name == "temporalio.bridge.visit"
    assert parse_frame("garbled").name == "garbled"


def test_self_and_inclusive_counts() -> None:
    counts = count_stacks(COLLAPSED)
    assert counts.samples == 23
    construct = "openai._models.construct_type"
    assert counts.self_samples["pydantic.type_adapter.TypeAdapter.validate_python"] == 7
    assert counts.self_samples[construct] == 0
    assert counts.inclusive_samples[construct] == 7  # recursion counts once per sample
    assert counts.inclusive_samples["asyncio.events.Handle._run"] == 16
    run_code = "temporalio.worker.workflow_sandbox._runner._Instance._run_code"
    assert (counts.self_samples[run_code], counts.inclusive_samples[run_code]) == (3, 8)
    assert counts.self_samples[NO_PYTHON_FRAME] == 1
    assert sum(counts.self_samples.values()) == counts.samples


def test_groups_take_the_first_that_holds_a_frame() -> None:
    groups = count_stacks(COLLAPSED).group_samples
    assert set(groups) <= set(GROUP_NAMES)
    assert groups == Counter(
        {
            "activities: HTTP to the API (openai SDK)": 7,
            "workflow activations (sandbox)": 5,
            "payload conversion (pydantic converter, payload visitor)": 3,
            "Temporal SDK core bridge (poll/complete)": 2,
            "asyncio loop / thread hops": 4,
            NO_FRAME_GROUP: 1,
            OTHER_GROUP: 1,
        }
    )
    assert group_of([]) == NO_FRAME_GROUP


def test_worker_profile_is_per_run() -> None:
    counts = count_stacks(COLLAPSED)
    summary = "Wrote raw flamegraph data to 'x'. Samples: 23 Errors: 4"
    profile = worker_profile(
        counts, rate_hz=200, runs=2, top=3, worker_cpu_s=0.5, spy_messages=[summary]
    )
    assert profile.python_ms_per_run == 23 * 1000 / 200 / 2
    assert profile.worker_cpu_ms_per_run == 250.0
    assert profile.sample_errors == 4
    assert profile.groups_ms_per_run["workflow activations (sandbox)"] == 12.5
    assert list(profile.groups_ms_per_run) == list(GROUP_NAMES)
    top = profile.top_functions
    assert [f.function for f in top][0] == "pydantic.type_adapter.TypeAdapter.validate_python"
    assert len(top) == 3
    assert top[0].self_ms_per_run == top[0].inclusive_ms_per_run == 17.5


def _recorded(name: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())


def _event_types(name: str) -> Counter[str]:
    events = json.loads((HISTORIES / f"{name}.json").read_text())["events"]
    return Counter(e["eventType"].removeprefix("EVENT_TYPE_") for e in events)


def test_history_counts_of_a_recorded_run() -> None:
    counts = count_history(_recorded("responses_tool_chain").events)
    types = _event_types("responses_tool_chain")
    assert counts.workflow_tasks == types["WORKFLOW_TASK_STARTED"] == 27
    assert counts.activity_tasks == types["ACTIVITY_TASK_SCHEDULED"] == 18
    assert counts.timers == types["TIMER_STARTED"] == 10
    assert counts.search_attribute_upserts == types["UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"] == 10
    assert (counts.signals, counts.markers) == (0, 0)
    assert counts.events == sum(types.values()) == 167
    assert 0 < counts.payload_bytes < counts.history_bytes


def test_history_counts_signals_and_markers() -> None:
    events = list(_recorded("assistants_webhook_event").events)
    assert count_history(events).signals == 1
    patch = Payload(metadata={"encoding": b"json/plain"}, data=b'"patch-1"')
    marker = HistoryEvent(
        event_type=EventType.EVENT_TYPE_MARKER_RECORDED,
        marker_recorded_event_attributes=MarkerRecordedEventAttributes(
            marker_name="core_patch", details={"patch_data": Payloads(payloads=[patch])}
        ),
    )
    alone = count_history([marker])
    assert (alone.markers, alone.events) == (1, 1)
    assert alone.payload_bytes == patch.ByteSize()  # found inside a map of Payloads
    with_marker = count_history([*events, marker])
    assert with_marker.markers == 1
    assert with_marker.payload_bytes == count_history(events).payload_bytes + patch.ByteSize()


def test_server_profile_means_and_extrapolated_totals() -> None:
    runs = [HistoryCounts(workflow_tasks=4, events=30), HistoryCounts(workflow_tasks=6, events=40)]
    whole = server_profile(runs, runs=2, server_cpu_s=0.2)
    assert whole.mean_per_run["workflow_tasks"] == 5.0
    assert whole.mode_total["events"] == 70.0
    assert whole.server_cpu_ms_per_run == 100.0
    sampled = server_profile(runs, runs=10, server_cpu_s=1.0)
    assert sampled.runs_read == 2
    assert sampled.mode_total["workflow_tasks"] == 50.0


def test_even_sample_spreads_over_the_runs() -> None:
    ids = [f"q-{i}" for i in range(10)]
    assert even_sample(ids, 20) == ids
    assert even_sample(ids, 5) == ["q-0", "q-2", "q-4", "q-6", "q-8"]


def test_tables_print_the_sampled_groups_functions_and_history_rows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker = worker_profile(
        count_stacks(COLLAPSED), rate_hz=200, runs=2, top=4, worker_cpu_s=0.5, spy_messages=[]
    )
    server = server_profile(
        [count_history(_recorded("responses_tool_chain").events)], runs=1, server_cpu_s=0.1
    )
    mode = ModeProfile(
        mode="polling",
        label="durable polling",
        runs=2,
        completed=2,
        wall_s=1.0,
        raw_profile="py-spy-polling-2.txt",
        worker=worker,
        server=server,
    )
    print_profile([mode], size=2, rate_hz=200)
    printed = capsys.readouterr().out
    sampled = [name for name, ms in worker.groups_ms_per_run.items() if ms]
    for text in [*sampled, worker.top_functions[0].function, "history events", "167.00"]:
        assert text in printed
    assert "Temporal worker dispatch" not in printed  # no sample in any mode: no row
