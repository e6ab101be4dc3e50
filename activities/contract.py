"""The backend contract: the seven activities the run workflow calls, whichever API serves the run.

`AssistantsActivities` and `ResponsesActivities` both satisfy `BackendActivities` (mypy checks
it where each class is defined); the workflow picks one class per run and calls its methods by
reference, typed end to end.
"""

from __future__ import annotations

from typing import Protocol

from durable_runs.models import (
    Answer,
    Conversation,
    ObjectRef,
    PolledSnapshot,
    PollInput,
    PrepareInput,
    RunSnapshot,
    StartInput,
    SubmitInput,
)


class BackendActivities(Protocol):
    """The API calls of one backend, each an activity of the `-openai` queue.

    Every method is retried by Temporal: it must be safe to run again after a lost answer
    (a create finds or reuses what an earlier attempt made).
    """

    async def prepare(self, input: PrepareInput) -> Conversation:
        """Set up where the run happens (an Assistants thread; nothing for Responses)."""
        ...

    async def start(self, input: StartInput) -> RunSnapshot:
        """Create the run or response of one step."""
        ...

    async def read(self, ref: ObjectRef) -> RunSnapshot:
        """Read the run or response once."""
        ...

    async def poll(self, input: PollInput) -> PolledSnapshot:
        """Read on the server's retries until the run or response changes (polling mode)."""
        ...

    async def submit_tool_outputs(self, input: SubmitInput) -> RunSnapshot:
        """Hand a tool round's outputs back (for Responses: create the follow-up response)."""
        ...

    async def cancel(self, ref: ObjectRef) -> RunSnapshot:
        """Cancel the run or response; one that already ended is returned as it is."""
        ...

    async def answer(self, ref: ObjectRef) -> Answer:
        """The final answer of a completed run."""
        ...
