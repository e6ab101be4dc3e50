"""The webhook bridge: verify OpenAI webhook deliveries and signal the run workflows.

Entry points: `durable_runs.bridge.server.serve` (blocking, for `durable-runs bridge`),
`durable_runs.bridge.server.running_bridge` (in-loop, for tests) and
`durable_runs.bridge.app.create_app`.
"""
