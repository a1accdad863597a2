import pytest

from ganymede.core.errors import PromptFileError
from ganymede.core.prompts import available, load_prompt


def write(tmp_path, text):
    path = tmp_path / "custom.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_chat_prompt_file_loads_with_its_settings():
    spec = load_prompt("chat")
    assert "chat" in available()
    assert spec.system
    assert spec.config().max_new_tokens == spec.generation["max_new_tokens"]


def test_zero_one_few_shot_rendering(tmp_path):
    spec = load_prompt(
        write(
            tmp_path,
            "system: Translate.\ntemplate: 'English: {text}'\nexamples:\n"
            "  - {text: cat, output: Katze}\n  - {text: dog, output: Hund}\n",
        )
    )
    zero = spec.render({"text": "house"}, shots=0)
    assert [m["role"] for m in zero] == ["system", "user"]
    assert zero[-1]["content"] == "English: house"
    one = spec.render({"text": "house"}, shots=1)
    assert [m["content"] for m in one[1:]] == ["English: cat", "Katze", "English: house"]
    few = spec.render({"text": "house"})
    assert [m["role"] for m in few] == ["system", "user", "assistant", "user", "assistant", "user"]
    custom = spec.render({"text": "house"}, examples=[{"text": "tree", "output": "Baum"}])
    assert custom[2]["content"] == "Baum"


def test_braces_in_user_input_are_kept_literally(tmp_path):
    spec = load_prompt(write(tmp_path, "template: 'Q: {text}'\n"))
    assert spec.render({"text": "df.groupby({'a': 1})"})[-1]["content"] == "Q: df.groupby({'a': 1})"


def test_bad_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "system: ok\ntemplate: [unclosed\n")
    with pytest.raises(PromptFileError) as err:
        load_prompt(path)
    assert path in str(err.value)
    assert "line" in str(err.value)


def test_example_missing_a_variable_is_reported(tmp_path):
    with pytest.raises(PromptFileError, match=r"examples\.?.*lacks output|lacks output"):
        load_prompt(write(tmp_path, "template: '{text}'\nexamples:\n  - {text: a}\n"))


def test_invalid_generation_settings_in_file(tmp_path):
    with pytest.raises(PromptFileError, match="temperature"):
        load_prompt(write(tmp_path, "generation: {temperature: 9}\n"))


def test_missing_prompt_lists_available():
    with pytest.raises(PromptFileError, match=r"available prompts: .*chat"):
        load_prompt("no-such-prompt")


def test_missing_variable_at_render(tmp_path):
    spec = load_prompt(write(tmp_path, "template: '{a} {b}'\n"))
    with pytest.raises(PromptFileError, match="needs b"):
        spec.render({"a": 1})
