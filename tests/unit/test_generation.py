import pytest

from ganymede.core.errors import InvalidSettingsError
from ganymede.core.generation import GenerationConfig, IgnoredSettingWarning


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


# A sampling setting that greedy decoding would ignore is reported, never dropped silently.


def test_a_sampling_setting_given_to_a_greedy_config_warns_naming_it():
    greedy = GenerationConfig.build(greedy=True)
    with pytest.warns(IgnoredSettingWarning, match=r"temperature=0\.5 ignored: decoding is greedy \(greedy=True\)"):
        merged = greedy.merged(temperature=0.5)
    assert merged.is_greedy and merged.temperature == 0.5  # kept as asked; decoding stays greedy


def test_every_ignored_sampling_setting_is_named():
    with pytest.warns(IgnoredSettingWarning, match=r"settings top_k=5, top_p=0\.5 ignored.*set greedy=False"):
        GenerationConfig().merged(greedy=True, top_k=5, top_p=0.5)


def test_temperature_zero_makes_top_k_and_top_p_moot():
    with pytest.warns(IgnoredSettingWarning, match=r"top_p=0\.5 ignored.*\(temperature=0\); set a temperature above 0"):
        GenerationConfig().merged(temperature=0, top_p=0.5)


def test_the_warning_points_at_the_caller():
    with pytest.warns(IgnoredSettingWarning) as caught:
        GenerationConfig.build(greedy=True).merged(top_k=3)
    assert caught[0].filename == __file__


@pytest.mark.parametrize(
    ("base", "overrides"),
    [
        ({}, {"temperature": 0.3, "top_k": 5, "top_p": 0.5}),  # sampling uses them
        ({"greedy": True}, {"greedy": False, "temperature": 0.3}),  # --sample turns sampling on
        ({"greedy": True}, {"max_new_tokens": 8, "repetition_penalty": 1.1, "seed": 3}),  # not sampling settings
        ({"greedy": True}, {"temperature": None, "top_k": None}),  # not given
        ({"greedy": True}, {"temperature": 0}),  # another way to ask for greedy decoding
        ({}, {"greedy": True}),
    ],
)
def test_no_warning_when_nothing_is_ignored(base, overrides, recwarn):
    GenerationConfig.build(**base).merged(**overrides)
    assert not [w for w in recwarn if issubclass(w.category, IgnoredSettingWarning)]


def test_the_cli_flags_warn_in_one_line_naming_the_flag(capsys, recwarn):
    from argparse import ArgumentParser

    from ganymede.core.cliargs import add_generation_args, config_from_args

    parser = ArgumentParser()
    add_generation_args(parser)
    config = config_from_args(GenerationConfig.build(greedy=True), parser.parse_args(["--temperature", "0.9"]))
    assert config.temperature == 0.9 and config.is_greedy
    assert capsys.readouterr().err == (
        "warning: generation setting temperature=0.9 ignored: decoding is greedy; add --sample to sample\n"
    )
    assert not [w for w in recwarn if issubclass(w.category, IgnoredSettingWarning)]


def test_the_ui_panel_warns_only_about_what_the_user_changed(recwarn):
    pytest.importorskip("gradio")
    from ganymede.ui import shared

    base = GenerationConfig.build(greedy=True, max_new_tokens=256)
    panel = ["model", "auto", True, *shared.panel_values(base)]
    assert shared.config(base, *panel) == base  # the panel shows the app's settings: nothing changed, no warning
    assert not recwarn.list
    assert shared.config(base, "model", "auto", False, 16, False, 1.5, 1, 0.1, 2.0) is base  # override off
    panel[5] = 1.2  # the temperature slider, greedy still ticked
    with pytest.warns(UserWarning, match="temperature=1.2 ignored"):  # gr.Warning outside a request warns
        assert shared.config(base, *panel).temperature == 1.2
