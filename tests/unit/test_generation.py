import pytest
from ganymede.core.errors import InvalidSettingsError
from ganymede.core.generation import GenerationConfig


def test_defaults_are_valid_and_sampling():
    config = GenerationConfig()
    assert config.max_new_tokens > 0
    assert not config.is_greedy


def test_temperature_zero_means_greedy():
    assert GenerationConfig.build(temperature=0).is_greedy
    assert GenerationConfig.build(greedy=True, temperature=0.9).is_greedy


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [("temperature", 3.5, "le 2.0"), ("top_p", 0.0, "gt 0.0"), ("max_new_tokens", 0, "ge 1"), ("top_k", -1, "ge 0")],
)
def test_invalid_values_name_the_setting_and_range(field, value, bound):
    with pytest.raises(InvalidSettingsError) as err:
        GenerationConfig.build(**{field: value})
    message = str(err.value)
    assert field in message
    assert bound in message


def test_unknown_setting_is_rejected():
    with pytest.raises(InvalidSettingsError, match="temprature"):
        GenerationConfig.build(temprature=0.5)


def test_merged_applies_only_given_overrides():
    base = GenerationConfig.build(temperature=0.2, max_new_tokens=64)
    merged = base.merged(temperature=None, top_k=5, stop=("###",))
    assert merged.temperature == 0.2
    assert merged.top_k == 5
    assert merged.stop == ("###",)
    assert base.top_k == 40  # the original is untouched


def test_single_stop_string_becomes_a_tuple():
    assert GenerationConfig.build(stop="END").stop == ("END",)
