"""Emulator settings: authentication, feature switches, webhooks and their faults."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "o1",
    "o3",
    "o3-mini",
    "o4-mini",
)
"""Model names the emulator accepts when `EmulatorConfig.models` is None."""

_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


class EmulatorConfig(BaseModel):
    """How the emulator behaves. Changeable at runtime through `POST /_emulator/config`.

    Attributes:
        api_keys: Accepted bearer keys. None accepts any non-empty key except those starting with
            `sk-bad`.
        assistants_removed: Answer every `/v1/assistants` and `/v1/threads` path with a 404, as the
            API will after the Assistants shutdown.
        thread_run_webhooks: Named emulator extension, off by default. OpenAI sends no
            `thread.run.*` events; this extension, for Assistants-compatible servers and tests of
            the seed's API, sends `thread.run.<status>` with the whole run in `data`. When False an
            Assistants run sends no webhook events at all; responses always send only their
            terminal `response.<status>` event with `data: {"id": ...}`, as OpenAI does.
        webhook_url: Where signed webhook events are POSTed; None sends none.
        webhook_secret: The `whsec_...` signing secret; None sends none.
        webhook_retry_schedule_s: Delays between delivery attempts after a failed one (compressed
            version of the real schedule, which spans hours).
        webhook_timeout_s: Timeout of one delivery attempt.
        webhook_faults: Faults applied to every delivery (same vocabulary as the `emu_webhook`
            knob: `drop`, `drop_first`, `duplicate`, `delay_ms:N`, `reorder`, `wrong_secret`,
            `drop_status:S`).
        webhook_reorder_flush_ms: With `reorder`, a held event with no successor is sent after
            this long.
        default_model: Model reported when a request names none (Responses).
        models: Model names that exist (dated snapshots of them too); any other answers 400
            `model_not_found`, as the API does. None means `DEFAULT_MODELS`.
        cancel_ms: Default time a run stays `cancelling` (knob `emu_cancel_ms` overrides).
        organization: Organization id reported in `openai-organization`.
    """

    api_keys: list[str] | None = None
    assistants_removed: bool = False
    thread_run_webhooks: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retry_schedule_s: list[float] = Field(default_factory=lambda: [0.2, 0.5, 1.0, 2.0, 5.0])
    webhook_timeout_s: float = 5.0
    webhook_faults: list[str] = Field(default_factory=list)
    webhook_reorder_flush_ms: float = 500.0
    default_model: str = "gpt-4o-mini"
    models: list[str] | None = None
    cancel_ms: float = 100.0
    organization: str = "org-emulator"

    def model_exists(self, name: str) -> bool:
        """Whether `name` is a model this emulator serves.

        A model is one of `models` (else `DEFAULT_MODELS`), or a dated snapshot of one
        (`gpt-4o-mini-2024-07-18`), as the API names them.
        """
        known = DEFAULT_MODELS if self.models is None else self.models
        return name in known or _SNAPSHOT.sub("", name) in known
