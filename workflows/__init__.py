"""Workflows: the run state machine and an example business workflow."""

from workflows.run import AssistantRunWorkflow

WORKFLOWS = [AssistantRunWorkflow]
"""Every workflow the worker registers."""
