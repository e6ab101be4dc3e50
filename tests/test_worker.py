"""The worker's start-up: bytecode for the modules the sandbox re-imports with every run, and
the OpenAI worker's slots as configured."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
from openai import AsyncOpenAI
from temporalio.worker import ResourceBasedSlotSupplier

from durable_runs.activities.assistants import AssistantsActivities
from durable_runs.activities.demo_tools import demo_registry
from durable_runs.activities.responses import ResponsesActivities
from durable_runs.settings import Settings
from durable_runs.worker import cache_workflow_bytecode, configured_api_call_tuner

WORKFLOW_SOURCE = """
from temporalio import workflow


@workflow.defn
class ExampleWorkflow:
    @workflow.run
    async def run(self) -> str:
        return "done"
"""


def test_bytecode_is_written_even_when_python_would_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    source = tmp_path / "example_workflows" / "example.py"
    source.parent.mkdir()
    source.write_text(WORKFLOW_SOURCE)
    spec = importlib.util.spec_from_file_location("example_workflows.example", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    cached = Path(importlib.util.cache_from_source(str(source)))
    assert not cached.exists()  # the import itself wrote none

    cache_workflow_bytecode([module.ExampleWorkflow])

    assert cached.exists()
    # A stale cache is rewritten: the sandbox would otherwise compile the new source every run.
    source.write_text(WORKFLOW_SOURCE.replace('"done"', '"changed"'))
    later = source.stat().st_mtime + 10  # the cache records whole seconds
    os.utime(source, (later, later))
    stale = cached.read_bytes()
    cache_workflow_bytecode([module.ExampleWorkflow])
    assert cached.read_bytes() != stale


def test_the_sdk_resources_load_with_the_worker_not_in_the_first_run() -> None:
    client = AsyncOpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
    assert "beta" not in vars(client)  # the SDK loads them lazily
    AssistantsActivities(client, demo_registry())
    ResponsesActivities(client, demo_registry())
    assert "runs" in vars(client.beta.threads) and "messages" in vars(client.beta.threads)
    assert "assistants" in vars(client.beta) and "responses" in vars(client)


def test_the_slot_settings_reach_the_openai_workers_tuner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURABLE_RUNS_OPENAI_MIN_CALLS", "3")
    monkeypatch.setenv("DURABLE_RUNS_OPENAI_TARGET_CPU", "0.5")
    tuner = configured_api_call_tuner(Settings())
    supplier = tuner.activity_slot_supplier  # type: ignore[attr-defined]
    assert isinstance(supplier, ResourceBasedSlotSupplier)
    assert supplier.slot_config.minimum_slots == 3
    assert supplier.tuner_config.target_cpu_usage == 0.5
