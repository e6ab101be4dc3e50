"""Emulator settings: authentication, feature switches, webhooks and their faults."""

from __future__ import annotations

from pydantic import BaseModel, Field


class EmulatorConfig(BaseModel):
    """How the emulator behaves. Changeable at runtime through `POST /_emulator/config`.

    Attributes:
        api_keys: Accepted bearer keys. None accepts any non-empty key except those starting with
            `sk-bad`.
        assistants_removed: Answer every `/v1/assistants` and `/v1/threads` path with a 404, as the
            API will after the Assistants shutdown.
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
        cancel_ms: Default time a run stays `cancelling` (knob `emu_cancel_ms` overrides).
        organization: Organization id reported in `openai-organization`.
    """

    api_keys: list[str] | None = None
    assistants_removed: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retry_schedule_s: list[float] = Field(default_factory=lambda: [0.2, 0.5, 1.0, 2.0, 5.0])
    webhook_timeout_s: float = 5.0
    webhook_faults: list[str] = Field(default_factory=list)
    webhook_reorder_flush_ms: float = 500.0
    default_model: str = "gpt-4o-mini"
    cancel_ms: float = 100.0
    organization: str = "org-emulator"
