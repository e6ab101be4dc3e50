"""The two tools the demo ships: a weather lookup and a unit conversion."""

from __future__ import annotations

import zlib

from activities.tools import ToolRegistry

CONDITIONS = ("sunny", "cloudy", "rainy", "windy", "foggy")


def get_weather(city: str) -> dict[str, object]:
    """Current weather for a city: temperature in Celsius and conditions."""
    seed = zlib.crc32(city.strip().lower().encode())
    return {"city": city, "celsius": float(5 + seed % 25), "conditions": CONDITIONS[seed % 5]}


def celsius_to_fahrenheit(celsius: float) -> dict[str, float]:
    """Convert a temperature from Celsius to Fahrenheit."""
    return {"fahrenheit": round(celsius * 9 / 5 + 32, 1)}


def demo_registry() -> ToolRegistry:
    """A registry holding the demo tools."""
    registry = ToolRegistry()
    registry.register(get_weather)
    registry.register(celsius_to_fahrenheit)
    return registry
