"""durable-runs: OpenAI runs as durable Temporal workflows.

The public API lives in `durable_runs.client` (start, wait, query, cancel, child workflows) and
`durable_runs.models` (typed inputs and results).
"""
