"""The deterministic brain and the knob parser, as pure functions."""

from __future__ import annotations

import pytest
from durable_runs_emulator.brain import (
    FALLBACK_ANSWER,
    AnsweredCall,
    FinalAnswer,
    ToolRound,
    answer_arithmetic,
    classify_ticket,
    next_step,
    weather_cities,
)
from durable_runs_emulator.errors import APIError
from durable_runs_emulator.scenario import PlannedCall, parse_scenario


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is 2+2?", "4"),
        ("What is 10 / 4?", "2.5"),
        ("what's (1 + 2) * -3", "-9"),
        ("2 ** 8", "256"),
        ("What is 1/0?", "That is undefined: division by zero."),
        ("What is 9 ** 999999?", None),
        ("The year 2024 was fine", None),
    ],
)
def test_arithmetic(question: str, answer: str | None) -> None:
    assert answer_arithmetic(question) == answer


def test_weather_cities() -> None:
    assert weather_cities("What's the weather in Paris and Tokyo, in Fahrenheit?") == [
        "Paris",
        "Tokyo",
    ]
    assert weather_cities("weather for Rome, Oslo & Lima") == ["Rome", "Oslo", "Lima"]
    assert weather_cities("What is 2+2?") == []


def test_weather_without_tools_falls_back() -> None:
    step = next_step(question="weather in Paris?", tool_names=[], plan=None, rounds=[])
    assert step == FinalAnswer(FALLBACK_ANSWER)


PARIS_RAIN = '{"celsius": 18.5, "conditions": "rain"}'


def test_weather_celsius_answer() -> None:
    first = next_step(
        question="weather in Paris?", tool_names=["get_weather"], plan=None, rounds=[]
    )
    assert first == ToolRound((PlannedCall("get_weather", {"city": "Paris"}),))
    done = next_step(
        question="weather in Paris?",
        tool_names=["get_weather"],
        plan=None,
        rounds=[
            [
                AnsweredCall(
                    "get_weather", {"city": "Paris"}, '{"celsius": 18.5, "conditions": "rain"}'
                )
            ]
        ],
    )
    assert done == FinalAnswer("Paris: 18.5°C, rain")


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Please refund my last order", "billing"),
        ("I was charged twice this month", "billing"),
        ("Where are my invoices?", "billing"),
        ("The app crashes on start", "bug"),
        ("I get an error 500 when saving", "bug"),
        ("Found a bug in the export", "bug"),
        ("The export crashed and I want a refund", "billing"),
        ("How do I change my avatar?", "other"),
        ("Write to bugs@example.com about my profile", "other"),
    ],
)
def test_classify_ticket(text: str, category: str) -> None:
    assert classify_ticket(text) == category


TICKET = "Ticket T-7 from ada@example.com: I was charged twice, please refund one."


def test_triage_looks_up_the_customer_then_answers_one_word() -> None:
    tools = ["lookup_customer"]
    first = next_step(question=TICKET, tool_names=tools, plan=None, rounds=[])
    assert first == ToolRound((PlannedCall("lookup_customer", {"email": "ada@example.com"}),))
    looked_up = [[AnsweredCall("lookup_customer", {"email": "ada@example.com"}, '{"tier": "x"}')]]
    done = next_step(question=TICKET, tool_names=tools, plan=None, rounds=looked_up)
    assert done == FinalAnswer("billing")


def test_triage_needs_the_tool_and_a_ticket() -> None:
    without_tool = next_step(question=TICKET, tool_names=[], plan=None, rounds=[])
    assert without_tool == FinalAnswer(FALLBACK_ANSWER)
    no_email = next_step(
        question="Ticket T-8: the app crashes", tool_names=["lookup_customer"], plan=None, rounds=[]
    )
    assert no_email == FinalAnswer("bug")
    not_a_ticket = next_step(
        question="What is 2+2?", tool_names=["lookup_customer"], plan=None, rounds=[]
    )
    assert not_a_ticket == FinalAnswer("4")


def test_plan_rounds_then_quote() -> None:
    plan = ((PlannedCall("a", {}),), (PlannedCall("b", {"x": 1}), PlannedCall("c", {})))
    assert next_step(question="", tool_names=[], plan=plan, rounds=[]) == ToolRound(plan[0])
    answered = [[AnsweredCall("a", {}, "1")]]
    assert next_step(question="", tool_names=[], plan=plan, rounds=answered) == ToolRound(plan[1])
    answered.append([AnsweredCall("b", {"x": 1}, "2"), AnsweredCall("c", {}, "3")])
    assert next_step(question="", tool_names=[], plan=plan, rounds=answered) == FinalAnswer(
        "Tool results: a=1, b=2, c=3"
    )


def test_scenario_defaults_and_overrides() -> None:
    scenario = parse_scenario(
        {"emu_duration_ms": "5"}, {"emu_duration_ms": "9", "emu_queued_ms": "7"}
    )
    assert (scenario.duration_ms, scenario.queued_ms, scenario.outcome) == (5, 7, "completed")
    assert parse_scenario({}).expires_after_ms == 600_000
    assert parse_scenario({"emu_webhook": "drop_first, delay_ms:5"}).webhook_faults == (
        "drop_first",
        "delay_ms:5",
    )


@pytest.mark.parametrize(
    "metadata",
    [
        {"emu_outcome": "nope"},
        {"emu_duration_ms": "soon"},
        {"emu_queued_ms": "-1"},
        {"emu_tool_plan": "{not json"},
        {"emu_tool_plan": '[[{"arguments": {}}]]'},
        {"emu_server_error_status": "404"},
    ],
)
def test_invalid_knobs_are_400(metadata: dict[str, str]) -> None:
    with pytest.raises(APIError) as caught:
        parse_scenario(metadata)
    assert caught.value.status_code == 400


@pytest.mark.parametrize("chars", [1, 3, 100, 1 << 20])
def test_answer_chars_sizes_the_final_answer_exactly(chars: int) -> None:
    """`emu_answer_chars`: the rules' answer repeated and cut to exactly that many characters."""
    step = next_step(
        question="What is 2+2?", tool_names=[], plan=None, rounds=[], answer_chars=chars
    )
    assert isinstance(step, FinalAnswer)
    assert len(step.text) == chars and step.text == ("4" * chars)
    assert parse_scenario({"emu_answer_chars": str(chars)}).answer_chars == chars


def test_answer_chars_leaves_tool_rounds_alone() -> None:
    """Only the final answer is sized; a round of calls is asked as planned."""
    plan = [[PlannedCall("get_weather", {"city": "Oslo"})]]
    step = next_step(question="", tool_names=[], plan=plan, rounds=[], answer_chars=10)
    assert isinstance(step, ToolRound)


def test_brain_recalls_a_name_from_earlier_in_the_conversation() -> None:
    earlier = ["My name is Ada", "What is 2+2?"]
    step = next_step(
        question="What is my name?", tool_names=[], plan=None, rounds=[], earlier=earlier
    )
    assert step == FinalAnswer("Your name is Ada.")
    alone = next_step(question="What's my name?", tool_names=[], plan=None, rounds=[])
    assert alone == FinalAnswer("I don't know your name yet.")
    said = next_step(question="Hi, my name is Ada", tool_names=[], plan=None, rounds=[])
    assert said == FinalAnswer("Nice to meet you, Ada.")
