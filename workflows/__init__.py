"""Workflows: the run state machine (`workflows.run`), the child-workflow helpers
(`workflows.child`) and an example business workflow (`workflows.triage`).

Deliberately empty otherwise: the sandbox re-imports this package with every workflow run, so it
imports none of its modules (the worker's `WORKFLOWS` list does).
"""
