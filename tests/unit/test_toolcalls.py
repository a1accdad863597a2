from ganymede.core.toolcalls import parse_tool_calls, tool_names

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


def test_tagged_tool_call():
    text, calls = parse_tool_calls('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')
    assert text == ""
    assert calls[0].name == "get_weather"
    assert calls[0].arguments == {"city": "Paris"}
    assert calls[0].id


def test_several_calls_and_string_arguments():
    _, calls = parse_tool_calls(
        '<tool_call>{"name": "a", "arguments": "{\\"x\\": 1}"}</tool_call><tool_call>{"name": "b"}</tool_call>'
    )
    assert [(c.name, c.arguments) for c in calls] == [("a", {"x": 1}), ("b", {})]


def test_fenced_json_counts_only_for_known_tools():
    fenced = '```json\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n```'
    assert parse_tool_calls(fenced, tool_names(TOOLS))[1][0].arguments == {"city": "Oslo"}
    assert parse_tool_calls(fenced, {"other"})[1] == []
    assert parse_tool_calls(fenced)[1] == []


def test_several_fenced_calls_one_after_another_or_as_a_list():
    one = '{"name": "get_weather", "arguments": {"city": "Oslo"}}'
    two = '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    for text in (f"```json\n{one}\n{two}\n```", f"[{one}, {two}]", f"{one},\n{two}"):
        _, calls = parse_tool_calls(text, tool_names(TOOLS))
        assert [c.arguments["city"] for c in calls] == ["Oslo", "Rome"], text
    assert parse_tool_calls(f"```json\n{one}\nthen Rome\n```", tool_names(TOOLS))[1] == []  # prose: no calls
    other = '{"name": "rm_rf", "arguments": {}}'
    assert parse_tool_calls(f"{one}\n{other}", tool_names(TOOLS))[1] == []  # every object must be a known call


def test_plain_prose_is_unchanged():
    prose = "It is sunny in Paris. {not json}"
    assert parse_tool_calls(prose, tool_names(TOOLS)) == (prose, [])


def test_malformed_block_is_ignored():
    assert parse_tool_calls("<tool_call>{broken</tool_call>")[1] == []


def test_first_json_finds_the_value_in_free_text() -> None:
    from ganymede.core.toolcalls import first_json

    assert first_json('Sure: ```json\n{"action": "calculator", "arguments": {"expression": "1+1"}}\n```') == {
        "action": "calculator",
        "arguments": {"expression": "1+1"},
    }
    assert first_json("no json {here") is None and first_json("[1, 2] then") == [1, 2]
