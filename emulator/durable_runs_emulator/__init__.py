"""An OpenAI-compatible emulator: Assistants runs and Responses background jobs, in memory.

The real `openai` SDK talks to it over HTTP. Object shapes, ids, status transitions, error bodies
and headers follow the real API; scenario knobs in run metadata script timing, outcomes, tool
rounds and faults. See the README section "The OpenAI emulator".
"""

from __future__ import annotations
