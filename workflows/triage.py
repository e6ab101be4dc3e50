"""Example business workflow: triage a support ticket with an assistant, then act on it.

`SupportTicketTriageWorkflow` asks an assistant (a child `RunWorkflow`, id
`<triage workflow id>/classify`) to classify the ticket as billing, bug or other; the assistant
may call the `lookup_customer` tool. The workflow then branches in plain, deterministic code:

- a billing ticket from a premium customer is escalated to a human;
- any other ticket gets an automatic reply for its category;
- a run that did not complete (failed, timed out...) is escalated too: a human decides.

The premium check reads the customer directory itself (the same `lookup_customer` tool, run as an
activity) instead of trusting the model's text: the model classifies, the code decides.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pydantic import ValidationError

    from durable_runs.activities.tools import ToolActivities
    from durable_runs.models import (
        AssistantSpec,
        Backend,
        PollPolicy,
        RunRequest,
        RunResult,
        ToolCall,
        ToolCallInput,
        ToolOutput,
    )
    from durable_runs.options import resolve

from durable_runs.workflows.child import run_assistant

TicketCategory = Literal["billing", "bug", "other"]
"""What the assistant classifies a ticket as."""

TriageAction = Literal["escalate", "auto_reply"]
"""What the workflow did with the ticket."""

CUSTOMER_TOOL = "lookup_customer"
"""The tool the assistant (and the premium check) uses; the worker's registry must have it."""

CLASSIFY_CHILD = "classify"
"""Name of the classification child: its workflow id is `<triage workflow id>/classify`."""

CLASSIFY_INSTRUCTIONS = (
    "You triage customer support tickets. Look the customer up with lookup_customer, then "
    "answer with exactly one word: billing, bug or other."
)

AUTO_REPLIES: dict[TicketCategory, str] = {
    "billing": (
        "Thanks for reaching out about billing. We have logged your request and will confirm "
        "any correction to your account within 2 business days."
    ),
    "bug": (
        "Thanks for the report. We have filed it with our engineers; you can follow the fix on "
        "our status page."
    ),
    "other": "Thanks for your message. Our help center answers most questions: help.example.com.",
}
"""The automatic reply per category."""


class TriageOptions(BaseModel):
    """How to run the classification.

    Attributes:
        backend: The API that runs the assistant: `responses` (the default, what api.openai.com
            serves) or `assistants` (the seed's API, for Assistants-compatible servers and the
            emulator).
        assistant_id: An existing triage assistant (Assistants backend); one is created when empty.
        model: Model for the Responses backend.
        poll: Backoff and deadline of the classification run.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Backend = "responses"
    assistant_id: str | None = None
    model: str = "gpt-4o-mini"
    poll: PollPolicy = PollPolicy(deadline_s=300)


class Ticket(BaseModel):
    """Input of `SupportTicketTriageWorkflow`: one support ticket.

    Attributes:
        id: The ticket's id in the helpdesk.
        customer_email: Who wrote it.
        text: What they wrote.
        options: How to run the classification.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    customer_email: str
    text: str
    options: TriageOptions = TriageOptions()


class TriageOutcome(BaseModel):
    """Output of `SupportTicketTriageWorkflow`.

    Attributes:
        ticket_id: The ticket.
        category: The assistant's classification (`other` when the run did not complete or the
            answer was not one of the categories).
        customer_tier: `premium` or `standard` when the workflow looked the customer up
            (billing tickets only), else None.
        action: `escalate` (to a human) or `auto_reply`.
        reason: Why that action, in one sentence.
        reply: The automatic reply sent (empty when escalated).
        run: The classification run's result.
    """

    model_config = ConfigDict(frozen=True)

    ticket_id: str
    category: TicketCategory
    customer_tier: str | None = None
    action: TriageAction
    reason: str
    reply: str = ""
    run: RunResult


def parse_category(answer: str) -> TicketCategory | None:
    """The category named by the assistant's answer ("Billing." → billing), or None."""
    words = answer.strip().lower().split()
    first = words[0].strip(".,:;!\"'`*") if words else ""
    if first == "billing":
        return "billing"
    if first == "bug":
        return "bug"
    if first == "other":
        return "other"
    return None


@workflow.defn(failure_exception_types=[ValidationError])
class SupportTicketTriageWorkflow:
    """Classifies a ticket with an assistant (child run) and escalates or auto-replies.

    A ticket that does not decode fails the workflow at once (as `RunWorkflow` does).
    """

    @workflow.run
    async def run(self, ticket: Ticket) -> TriageOutcome:
        """Classify, check the customer when it matters, act."""
        workflow.set_current_details(f"**ticket** {ticket.id} · classifying")
        result = await run_assistant(self._classify_request(ticket), name=CLASSIFY_CHILD)
        if result.status != "completed":
            reason = f"the assistant run ended {result.status}"
            return self._outcome(ticket, "other", None, "escalate", reason, result)
        category = parse_category(result.answer)
        if category is None:
            return self._outcome(
                ticket, "other", None, "escalate", "the assistant gave no category", result
            )
        tier: str | None = None
        if category == "billing":
            tier = await self._customer_tier(ticket.customer_email)
            if tier == "premium":
                return self._outcome(
                    ticket,
                    category,
                    tier,
                    "escalate",
                    "billing ticket from a premium customer",
                    result,
                )
        return self._outcome(
            ticket, category, tier, "auto_reply", f"{category} ticket: automatic reply", result
        )

    @staticmethod
    def _classify_request(ticket: Ticket) -> RunRequest:
        options = ticket.options
        responses = options.backend == "responses"
        return RunRequest(
            backend=options.backend,
            messages=[f"Ticket {ticket.id} from {ticket.customer_email}:\n{ticket.text}"],
            assistant_id=options.assistant_id,
            assistant=AssistantSpec(name="ticket triage", instructions=CLASSIFY_INSTRUCTIONS),
            model=options.model,
            instructions=CLASSIFY_INSTRUCTIONS if responses else None,
            tools=[CUSTOMER_TOOL],
            poll=options.poll,
            metadata={"ticket_id": ticket.id},
        )

    @staticmethod
    async def _customer_tier(email: str) -> str:
        """The customer's tier from the directory (the `lookup_customer` tool as an activity)."""
        call = ToolCall(
            id="triage-customer", name=CUSTOMER_TOOL, arguments=json.dumps({"email": email})
        )
        timeouts = resolve(None)  # a ticket brings no options: the worker's, or the defaults
        output: ToolOutput = await workflow.execute_activity_method(
            ToolActivities.run_tool,
            ToolCallInput(workflow_id=workflow.info().workflow_id, call=call, allowed=[call.name]),
            start_to_close_timeout=timeouts.tool_timeout,
            retry_policy=timeouts.tool_retry_policy(),
            summary=f"tool {CUSTOMER_TOOL}",
        )
        try:
            record = json.loads(output.output)
        except json.JSONDecodeError:
            return "standard"
        tier = record.get("tier") if isinstance(record, dict) else None
        return tier if isinstance(tier, str) else "standard"

    @staticmethod
    def _outcome(
        ticket: Ticket,
        category: TicketCategory,
        tier: str | None,
        action: TriageAction,
        reason: str,
        run: RunResult,
    ) -> TriageOutcome:
        workflow.set_current_details(
            f"**ticket** {ticket.id} · **category** {category} · **action** {action} · {reason}"
        )
        return TriageOutcome(
            ticket_id=ticket.id,
            category=category,
            customer_tier=tier,
            action=action,
            reason=reason,
            reply=AUTO_REPLIES[category] if action == "auto_reply" else "",
            run=run,
        )
