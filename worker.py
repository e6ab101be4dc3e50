"""Start a durable-runs worker: `python worker.py` (the same as `durable-runs worker`).

Configured from the environment (`OPENAI_API_KEY`, `TEMPORAL_ADDRESS`, `DURABLE_RUNS_*`); the
assembly lives in `durable_runs.worker`, and `durable_runs.DurableRunsPlugin` adds the same
workflows and activities to a worker of your own.
"""

from durable_runs.cli import entry

if __name__ == "__main__":
    entry(["worker"])
