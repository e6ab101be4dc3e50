"""The one settings class: every environment variable the project reads."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from durable_runs.codec_keys import CodecKey, parse_codec_keys
from durable_runs.models import Backend

DEFAULT_TASK_QUEUE = "durable-runs"
OPENAI_QUEUE_SUFFIX = "-openai"
DEFAULT_OPENAI_MIN_CALLS = 2
"""API calls a worker runs at once however busy its host (`DURABLE_RUNS_OPENAI_MIN_CALLS`)."""
DEFAULT_OPENAI_TARGET_CPU = 0.8
"""Host CPU share past which a worker runs only that minimum (`DURABLE_RUNS_OPENAI_TARGET_CPU`)."""

DEFAULT_PAYLOAD_THRESHOLD_BYTES = 256 * 1024
"""Payload size from which external storage keeps it out of history (the SDK's default)."""

DEFAULT_SHUTDOWN_GRACE_S = 30.0
DEFAULT_STICKY_TIMEOUT_S = 10.0
"""Temporal's default sticky schedule-to-start timeout (`DURABLE_RUNS_STICKY_TIMEOUT_S`)."""
"""Time in-flight work gets to finish after SIGTERM (`DURABLE_RUNS_SHUTDOWN_GRACE_S`)."""


class Settings(BaseSettings):
    """Configuration read from the environment (and an optional `.env` file).

    Names follow the openai SDK (`OPENAI_*`) and Temporal's env config (`TEMPORAL_*`);
    `TEMPORAL_API_KEY` and `TEMPORAL_TLS*` are read by Temporal's own env config when
    `durable_runs.temporal.connect` builds the client, and the `AWS_*` variables of the payload
    bucket by boto itself, so they have no field here. The Temporal
    address and namespace a client uses are, in order: these fields when set (from the
    environment, `.env` or the caller), the `temporal.toml` profile, the fields' defaults.
    """

    # Inputs stay out of error messages: some of them are keys and secrets.
    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        hide_input_in_errors=True,
        # Compose passes `VAR: ${VAR:-}` through as an empty string: that means unset, not "".
        env_ignore_empty=True,
    )

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_webhook_secret: SecretStr | None = Field(default=None, alias="OPENAI_WEBHOOK_SECRET")
    openai_webhook_secrets_previous: str = Field(
        default="",
        alias="OPENAI_WEBHOOK_SECRETS_PREVIOUS",
        description="Comma-separated older secrets still accepted while a secret is rotated.",
    )

    temporal_address: str = Field(default="localhost:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    temporal_ui_url: str = Field(default="http://localhost:8233", alias="TEMPORAL_UI_URL")
    temporal_profile: str | None = Field(
        default=None,
        alias="TEMPORAL_PROFILE",
        description="Profile of Temporal's client config file (`temporal.toml`) to use; its "
        "`default` profile when unset.",
    )
    temporal_config_file: str | None = Field(
        default=None,
        alias="TEMPORAL_CONFIG_FILE",
        description="Path of Temporal's client config file; Temporal's default location (as the "
        "`temporal` CLI) when unset.",
    )

    backend: Backend = Field(
        default="responses",
        alias="DURABLE_RUNS_BACKEND",
        description="Backend of runs started without one: `responses` (background mode, what "
        "api.openai.com serves) or `assistants` (the seed's API, for Assistants-compatible "
        "servers and the emulator).",
    )
    task_queue: str = Field(default=DEFAULT_TASK_QUEUE, alias="DURABLE_RUNS_TASK_QUEUE")
    openai_rpm: int = Field(default=0, alias="DURABLE_RUNS_OPENAI_RPM", ge=0)
    openai_min_calls: int = Field(
        default=DEFAULT_OPENAI_MIN_CALLS,
        alias="DURABLE_RUNS_OPENAI_MIN_CALLS",
        ge=1,
        description="API calls a worker always runs at once, however busy its host's CPU.",
    )
    openai_target_cpu: float = Field(
        default=DEFAULT_OPENAI_TARGET_CPU,
        alias="DURABLE_RUNS_OPENAI_TARGET_CPU",
        gt=0,
        le=1,
        description="Host CPU share above which a worker takes no API calls beyond the "
        "minimum; the others wait on the OpenAI queue, in priority order.",
    )
    shutdown_grace_s: float = Field(
        default=DEFAULT_SHUTDOWN_GRACE_S,
        alias="DURABLE_RUNS_SHUTDOWN_GRACE_S",
        ge=0,
        description="On SIGTERM, how long a worker lets its running activities (API calls, "
        "tools) finish before it cancels them, and the bridge its in-flight deliveries.",
    )
    sticky_timeout_s: float = Field(
        default=DEFAULT_STICKY_TIMEOUT_S,
        alias="DURABLE_RUNS_STICKY_TIMEOUT_S",
        gt=0,
        description="How long a workflow task waits for the worker that ran the workflow last "
        "(its cached copy) before any worker takes it: the hand-over time after a worker dies.",
    )
    tools: str = Field(
        default="durable_runs.activities.demo_tools:demo_registry",
        alias="DURABLE_RUNS_TOOLS",
        description="`module:attribute` of the worker's ToolRegistry, or of a function making one.",
    )
    webhook_max_bytes: int = Field(default=1 << 20, alias="DURABLE_RUNS_WEBHOOK_MAX_BYTES", gt=0)
    webhook_progress: bool = Field(
        default=False,
        alias="DURABLE_RUNS_WEBHOOK_PROGRESS",
        description="The bridge also signals progress-only run events (queued, in_progress, "
        "cancelling).",
    )
    bridge_routing: Literal["retrieve", "visibility"] = Field(
        default="retrieve",
        alias="DURABLE_RUNS_BRIDGE_ROUTING",
        description="How the bridge finds the run of an id-only `response.*` event: `retrieve` "
        "reads the response (its metadata names the workflow, and the read becomes the run's "
        "snapshot); `visibility` asks Temporal's visibility index, kept to measure against.",
    )
    payload_bucket: str | None = Field(
        default=None,
        alias="DURABLE_RUNS_PAYLOAD_BUCKET",
        description="S3 bucket that holds payloads above the threshold instead of Temporal's "
        "history (Temporal's external storage); off when unset. The endpoint, region and "
        "credentials are boto's own `AWS_*` variables (`AWS_ENDPOINT_URL_S3`, `AWS_REGION`, "
        "`AWS_ACCESS_KEY_ID`, ...), read by boto itself.",
    )
    payload_threshold_bytes: int = Field(
        default=DEFAULT_PAYLOAD_THRESHOLD_BYTES,
        alias="DURABLE_RUNS_PAYLOAD_THRESHOLD_BYTES",
        ge=0,
        description="Payloads of at least this many bytes go to the bucket (0: every payload).",
    )
    codec_keys: Annotated[tuple[CodecKey, ...], NoDecode] = Field(
        default=(),
        alias="DURABLE_RUNS_CODEC_KEYS",
        description="Payload encryption (AES-256-GCM), off when unset: comma-separated "
        "`KEY_ID:BASE64_32_BYTES`; the first key encrypts, the others only decrypt (rotation).",
    )
    codec_cors_origins: str = Field(
        default="http://localhost:8233",
        alias="DURABLE_RUNS_CODEC_CORS_ORIGINS",
        description="Comma-separated origins (Temporal UIs) the codec server answers.",
    )
    codec_token: SecretStr | None = Field(
        default=None,
        alias="DURABLE_RUNS_CODEC_TOKEN",
        description="When set, the codec server wants `Authorization: Bearer <token>`.",
    )

    @field_validator("codec_keys", mode="before")
    @classmethod
    def _parse_codec_keys(cls, value: Any) -> Any:
        return parse_codec_keys(value) if isinstance(value, str) else value

    metrics_bind: str | None = Field(
        default=None,
        alias="DURABLE_RUNS_METRICS_BIND",
        description="`host:port` where the worker serves Prometheus metrics (Temporal's SDK "
        "metrics and ours, `durable_runs_*`); unset: no metrics endpoint.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        alias="DURABLE_RUNS_LOG_FORMAT",
        description="`json`: one JSON object per log line (with workflow id, response id and "
        "OpenAI request id where known); `text`: plain lines.",
    )
    log_level: str = Field(default="INFO", alias="DURABLE_RUNS_LOG_LEVEL")
    otel_traces_exporter: str = Field(
        default="none",
        alias="OTEL_TRACES_EXPORTER",
        description="OpenTelemetry span exporters, comma-separated (`otlp`, `console`); "
        "`none`: no tracing. The OTLP exporter reads `OTEL_EXPORTER_OTLP_*` itself.",
    )
    otel_service_name: str | None = Field(
        default=None,
        alias="OTEL_SERVICE_NAME",
        description="The service name on spans (default: `durable-runs-worker`, "
        "`durable-runs-bridge`).",
    )

    @property
    def openai_task_queue(self) -> str:
        """The queue every OpenAI API activity runs on (one server-enforced rate limit)."""
        return self.task_queue + OPENAI_QUEUE_SUFFIX

    @property
    def webhook_secrets(self) -> list[str]:
        """The current webhook secret first, then older ones kept for rotation."""
        secrets = (
            [self.openai_webhook_secret.get_secret_value()] if self.openai_webhook_secret else []
        )
        secrets += [s.strip() for s in self.openai_webhook_secrets_previous.split(",") if s.strip()]
        return secrets


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once on first use (never at import)."""
    return Settings()
