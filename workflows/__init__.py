"""Workflows: the run state machine and an example business workflow."""

from workflows.run import AssistantRunWorkflow
from workflows.triage import SupportTicketTriageWorkflow

WORKFLOWS = [AssistantRunWorkflow, SupportTicketTriageWorkflow]
"""Every workflow the worker registers."""
