"""Workflows: the run state machine (`durable_runs.workflows.run`, its pure decisions in
`.rules`), the child-workflow helpers (`.child`) and an example business workflow (`.triage`).

Deliberately empty otherwise: the sandbox re-imports this package with every workflow run, so it
imports none of its modules (the plugin's `RUN_WORKFLOWS` does).
"""
