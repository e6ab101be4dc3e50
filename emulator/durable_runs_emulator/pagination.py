"""Cursor pagination shared by every list endpoint (`limit`, `order`, `after`, `before`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

from durable_runs_emulator.errors import bad_request

T = TypeVar("T")
Order = Literal["asc", "desc"]


def paginate(
    items: Sequence[T],
    *,
    to_dict: Callable[[T], dict[str, Any]],
    key: Callable[[T], str],
    limit: int = 20,
    order: str = "desc",
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """Return one page of `items` (oldest first) as an API `list` object.

    Args:
        items: Every object, in creation order.
        to_dict: JSON view of an object.
        key: The object's id (cursor).
        limit: Page size, 1 to 100.
        order: `asc` or `desc` by creation time.
        after: Return objects after this id in list order.
        before: Return objects before this id in list order.

    Raises:
        APIError: 400 for an invalid limit or order.
    """
    if limit < 1 or limit > 100:
        raise bad_request(
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1 and <= 100, "
            f"but got {limit} instead.",
            param="limit",
            code="integer_below_min_value" if limit < 1 else "integer_above_max_value",
        )
    if order not in ("asc", "desc"):
        raise bad_request(
            f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
            param="order",
            code="invalid_value",
        )
    ordered = list(items) if order == "asc" else list(reversed(items))
    ids = [key(item) for item in ordered]
    has_more = False
    if after is not None:
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    if before is not None:
        ids = [key(item) for item in ordered]
        ordered = ordered[: ids.index(before)] if before in ids else []
        has_more = len(ordered) > limit
        page = ordered[-limit:]
    else:
        has_more = len(ordered) > limit
        page = ordered[:limit]
    data = [to_dict(item) for item in page]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
