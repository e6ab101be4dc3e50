"""The webhook bridge: verify OpenAI webhook deliveries and signal the run workflows.

Entry points: `bridge.server.serve` (blocking, for `durable-runs bridge`),
`bridge.server.running_bridge` (in-loop, for tests and `durable-runs dev`) and
`bridge.app.create_app`.
"""
