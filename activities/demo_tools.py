"""The tools the demo ships: a weather lookup, a unit conversion, a customer lookup and a refund.

`refund_order` requires approval: a run that calls it waits for a person's decision.
"""

from __future__ import annotations

import zlib

from durable_runs.activities.tools import ToolRegistry

CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "foggy")


def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city: temperature in Celsius and conditions."""
    seed = zlib.crc32(city.strip().lower().encode())
    return {"city": city, "celsius": float(5 + seed % 25), "conditions": CONDITIONS[seed % 5]}


def celsius_to_fahrenheit(celsius: float) -> dict[str, float]:
    """Convert a temperature from Celsius to Fahrenheit."""
    return {"fahrenheit": round(celsius * 9 / 5 + 32, 1)}


CUSTOMERS: dict[str, dict[str, str]] = {
    "ada@example.com": {"name": "Ada Lovelace", "tier": "premium", "since": "2019-03-01"},
    "grace@example.com": {"name": "Grace Hopper", "tier": "standard", "since": "2022-11-15"},
    "alan@example.com": {"name": "Alan Turing", "tier": "premium", "since": "2020-06-23"},
}
"""The demo customer directory (the ticket triage example looks customers up here)."""


def lookup_customer(email: str) -> dict[str, object]:
    """Look up a customer by email: name, support tier (premium or standard), customer since."""
    key = email.strip().lower()
    record = CUSTOMERS.get(key)
    if record is None:
        return {"email": key, "found": False, "tier": "standard"}
    return {"email": key, "found": True, **record}


REFUNDS: dict[str, dict[str, object]] = {}
"""Refunds made, by idempotency key: a retried call refunds once."""


def refund_order(order_id: str, amount: float, idempotency_key: str) -> dict[str, object]:
    """Refund an order (the amount in the order's currency); a person approves it first."""
    refund = REFUNDS.setdefault(
        idempotency_key, {"order_id": order_id, "amount": amount, "refunded": True}
    )
    return dict(refund)


def demo_registry() -> ToolRegistry:
    """A registry holding the demo tools."""
    registry = ToolRegistry()
    registry.register(get_weather)
    registry.register(celsius_to_fahrenheit)
    registry.register(lookup_customer)
    registry.register(refund_order, requires_approval=True)
    return registry
