"""The console: a small local web page over the client API.

Runs with live status (and a cancel button), the tool calls waiting for a person's decision
(approve or reject), and a chat view of a session. Server-rendered with Jinja2 templates; a few
lines of plain JavaScript refresh fragments and send chat messages in the background. Nothing
is loaded from the network: the page works offline.
"""

from __future__ import annotations

from durable_runs.console.app import create_app
from durable_runs.console.server import DEFAULT_PORT, running_console, serve

__all__ = ["DEFAULT_PORT", "create_app", "running_console", "serve"]
