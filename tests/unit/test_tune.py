"""`ganymede tune` without a model: data adapters, prompt/reply split, schedule and data order, resume rules,
argument and file errors, the adapter folder and its GGUF conversion, and --adapter plumbing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ganymede import cli
from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.tune import trainer as tune
from tests.fakes import ScriptedBackend

DIALOGUE = "#Person1#: Is the shop open?\n#Person2#: No, it closes at six."


def write_jsonl(path: Path, lines: list[str | dict]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines), encoding="utf-8")
    return path


# -- data adapters ---------------------------------------------------------------------------------------------
def test_summarize_example_uses_the_apps_own_zero_shot_prompt(tmp_path):
    from ganymede.apps.summarize.summarizer import Summarizer

    data = write_jsonl(tmp_path / "train.jsonl", [{"dialogue": DIALOGUE, "summary": " The shop closes at six. "}])
    [example] = tune.read_examples("summarize", data, {"max_words": 25})
    assert example.messages == Summarizer(ScriptedBackend(), shots=0, max_words=25).messages(DIALOGUE)
    assert example.messages[0]["role"] == "system" and "25 words" in example.messages[0]["content"]
    assert example.messages[-1]["content"].endswith(DIALOGUE)
    assert example.target == "The shop closes at six."
    assert example.source == f"{data} line 1"


def test_summarize_example_accepts_turn_lists_and_summary1(tmp_path):
    record = {"turns": [{"speaker": "A", "text": "Hi"}, {"speaker": "B", "text": "Hello"}], "summary1": "They greet."}
    [example] = tune.read_examples("summarize", write_jsonl(tmp_path / "t.jsonl", [record]))
    assert example.messages[-1]["content"].endswith("A: Hi\nB: Hello")
    assert example.target == "They greet."


def test_translate_example_uses_the_apps_own_prompt(tmp_path):
    from ganymede.apps.translate import languages
    from ganymede.apps.translate.translator import PROMPT, build_messages
    from ganymede.core.prompts import load_prompt

    record = {"source": "Good morning.", "reference": "Guten Morgen.", "source_lang": "en", "target_lang": "de"}
    [example] = tune.read_examples("translate", write_jsonl(tmp_path / "t.jsonl", [record]))
    expected = build_messages(load_prompt(PROMPT), "Good morning.", languages.resolve("en"), languages.resolve("de"))
    assert example.messages == expected
    assert example.target == "Guten Morgen."


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (['{"dialogue": "A: hi", "summary": "x"}', "{not json"], "line 2: not valid JSON"),
        ([{"dialogue": "A: hi", "summary": "x"}, {"dialogue": "A: hi"}], "line 2: no `summary` field"),
        ([{"summary": "x"}], "line 1: no `dialogue` field"),
        (["", {"dialogue": "A: hi", "summary": "  "}], "line 2: no `summary` field"),
        (['["a list"]'], "line 1: expected a JSON object"),
        ([{"dialogue": [{"speaker": "A"}], "summary": "x"}], "line 1: turn 1 has no text field"),
    ],
)
def test_bad_training_records_name_the_file_and_line(tmp_path, lines, expected):
    data = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(InputFileError) as info:
        tune.read_examples("summarize", data)
    assert str(data) in str(info.value) and expected in str(info.value)


def test_bad_translate_record_names_the_line_and_fields(tmp_path):
    data = write_jsonl(tmp_path / "t.jsonl", [{"source": "Hi", "reference": "Hallo", "source_lang": "en"}])
    with pytest.raises(InputFileError, match=r"t\.jsonl line 1: missing target_lang"):
        tune.read_examples("translate", data)
    data = write_jsonl(
        tmp_path / "u.jsonl", [{"source": "a", "reference": "b", "source_lang": "en", "target_lang": "xx"}]
    )
    with pytest.raises(InputFileError, match=r"u\.jsonl line 1: unknown language 'xx'"):
        tune.read_examples("translate", data)


def test_missing_empty_and_unknown_inputs(tmp_path):
    with pytest.raises(InputFileError, match=r"training data not found: .*nope.jsonl"):
        tune.read_examples("summarize", tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"empty.jsonl: no records"):
        tune.read_examples("summarize", tmp_path / "empty.jsonl")
    with pytest.raises(GanymedeError, match="no training data adapter for 'chat'"):
        tune.read_examples("chat", tmp_path / "empty.jsonl")


# -- tokenizing -------------------------------------------------------------------------------------------------
def test_completion_is_what_follows_the_prompt_in_the_rendered_conversation():
    prompt = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tune.completion_text(prompt, prompt + "Hello<|im_end|>\n", "Hello", "<eos>") == "Hello<|im_end|>\n"
    # a template that rewrites earlier turns: the reply plus the end-of-sequence token
    assert tune.completion_text(prompt, "other" + prompt + "Hello", "Hello", "<eos>") == "Hello<eos>"


class _CharTokenizer:
    """A chat template of tags and one token per character: enough to check which tokens are scored."""

    eos_token = "$"

    def apply_chat_template(self, messages, add_generation_prompt=False, tokenize=False):
        text = "".join(f"<{m['role']}>{m['content']}|" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [ord(c) for c in text]}


def test_encode_scores_only_the_reply_and_its_end_marker():
    example = tune.Example("x", [{"role": "user", "content": "hi"}], "yo")
    encoded = tune.encode(_CharTokenizer(), example)
    assert "".join(map(chr, encoded.prompt_ids)) == "<user>hi|<assistant>"
    assert "".join(map(chr, encoded.target_ids)) == "yo|"
    assert encoded.length == len("<user>hi|<assistant>yo|")


# -- schedule and data order --------------------------------------------------------------------------------------
def test_schedule_warms_up_then_decays_to_zero():
    lr = tune.schedule(total=10, warmup=2, peak=1.0)
    assert [lr(0), lr(1)] == [0.5, 1.0]
    assert lr(2) == 1.0 and lr(6) == pytest.approx(0.5) and lr(9) == pytest.approx(0.125)
    assert all(lr(s) >= lr(s + 1) for s in range(1, 9))


def test_each_epoch_sees_every_example_once_in_a_seeded_order():
    batches = [tune.batch_indices(10, 4, seed=3, step=s) for s in range(6)]
    assert [epoch for epoch, _ in batches] == [0, 0, 0, 1, 1, 1]
    for epoch in (0, 1):
        seen = [i for e, batch in batches if e == epoch for i in batch]
        assert sorted(seen) == list(range(10))
    assert [b for _, b in batches[:3]] != [b for _, b in batches[3:]]  # reshuffled each epoch
    assert tune.batch_indices(10, 4, seed=3, step=4) == batches[4]  # a resumed run gets the same batch
    assert tune.batch_indices(10, 4, seed=4, step=0) != batches[0]


# -- settings, resume rules, CLI errors -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rank": 0}, "--rank must be at least 1"),
        ({"epochs": 0}, "--epochs must be at least 1"),
        ({"learning_rate": 0}, "--learning-rate must be in (0, 1)"),
        ({"batch_size": 0}, "--batch-size must be at least 1"),
        ({"max_length": 8}, "--max-length must be at least 16"),
        ({"dropout": 1.5}, "--dropout must be in [0, 1)"),
        ({"app": "chat"}, "no training data adapter for 'chat'"),
    ],
)
def test_settings_are_checked(change, message):
    settings = tune.TuneSettings(app="summarize", train="t.jsonl", output="out")
    for key, value in change.items():
        setattr(settings, key, value)
    with pytest.raises(GanymedeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        settings.check()


def test_cli_bad_train_file_is_one_line_naming_file_and_line(tmp_path, capsys):
    data = write_jsonl(tmp_path / "train.jsonl", [{"dialogue": "A: hi", "summary": "x"}, {"dialogue": "A: hi"}])
    assert cli.main(["tune", "summarize", "--train", str(data), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {data} line 2: no `summary` field")
    assert not (tmp_path / "out").exists()


def test_cli_bad_eval_file_and_bad_options(tmp_path, capsys):
    good = write_jsonl(tmp_path / "train.jsonl", [{"dialogue": "A: hi", "summary": "x"}])
    out = str(tmp_path / "out")
    assert cli.main(["tune", "summarize", "--train", str(good), "--eval", str(tmp_path / "none.jsonl"), "-o", out]) == 2
    assert "training data not found" in capsys.readouterr().err
    assert cli.main(["tune", "summarize", "--train", str(good), "-o", out, "--rank", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --rank must be at least 1"
    with pytest.raises(SystemExit):
        cli.main(["tune", "chat", "--train", str(good), "-o", out])
    assert "invalid choice: 'chat'" in capsys.readouterr().err


def _fake_checkpoint(output: Path, step: int, settings: tune.TuneSettings, digest: str = "abc") -> Path:
    folder = output / tune.CHECKPOINTS / f"step-{step:06d}"
    folder.mkdir(parents=True)
    state = {"settings": settings.to_dict(), "train_sha256": digest, "step": step, "history": [], "eval": []}
    (folder / tune.STATE).write_text(json.dumps(state), encoding="utf-8")
    return folder


def _args(**values):
    base = {name: None for name in tune._OPTIONS}
    base.update(app="summarize", train="t.jsonl", output="out", eval=None, resume=False)
    base.update(values)
    return argparse.Namespace(**base)


def test_resume_takes_unspecified_options_from_the_checkpoint(tmp_path):
    first = tune.TuneSettings(app="summarize", train="t.jsonl", output=str(tmp_path), rank=4, epochs=3, max_steps=7)
    _fake_checkpoint(tmp_path, 5, first)
    settings = tune.settings_from_args(_args(output=str(tmp_path), resume=True, save_every=10))
    assert (settings.rank, settings.epochs, settings.max_steps, settings.save_every) == (4, 3, 7, 10)
    fresh = tune.settings_from_args(_args(output=str(tmp_path / "new")))
    assert (fresh.rank, fresh.epochs, fresh.max_steps) == (8, 1, None)


def test_resume_refuses_changed_options_or_data(tmp_path):
    first = tune.TuneSettings(app="summarize", train="t.jsonl", output=str(tmp_path), rank=4)
    checkpoint = _fake_checkpoint(tmp_path, 5, first)
    saved = tune.read_state(checkpoint)
    tune.check_resumable(saved, first, "abc", checkpoint)
    changed = tune.TuneSettings(app="summarize", train="t.jsonl", output=str(tmp_path), rank=8, learning_rate=1e-3)
    with pytest.raises(GanymedeError) as info:
        tune.check_resumable(saved, changed, "other", checkpoint)
    message = str(info.value)
    assert "--rank 4 -> 8" in message and "--learning-rate" in message and "not the file" in message


def test_output_folder_rules(tmp_path):
    settings = tune.TuneSettings(app="summarize", train="t.jsonl", output=str(tmp_path / "a"))
    _fake_checkpoint(tmp_path / "a", 2, settings)
    _fake_checkpoint(tmp_path / "a", 10, settings)
    with pytest.raises(GanymedeError, match=r"checkpoints of an earlier run \(up to step-000010\).*--resume"):
        tune.Trainer(settings)._prepare_output()
    assert tune.Trainer(settings, resume=True)._prepare_output().name == "step-000010"
    done = tmp_path / "b"
    done.mkdir()
    (done / "adapter_config.json").write_text("{}")
    with pytest.raises(GanymedeError, match="already holds an adapter"):
        tune.Trainer(tune.TuneSettings(app="summarize", train="t", output=str(done)))._prepare_output()
    notes = []
    empty = tune.TuneSettings(app="summarize", train="t", output=str(tmp_path / "c"))
    assert tune.Trainer(empty, resume=True, say=notes.append)._prepare_output() is None
    assert "starting at step 0" in notes[0]


def test_loss_curve_is_a_png(tmp_path):
    history = [{"step": i, "loss": 2.0 / i} for i in range(1, 30)]
    path = tune.plot_loss(history, [{"step": 10, "loss": 0.5}], tmp_path / "curve.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- the adapter folder and its GGUF form ---------------------------------------------------------------------------
def _peft_folder(tmp_path: Path, rank: int = 2, arch: str = "qwen2") -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "lora_alpha": 4, "peft_type": "LORA"}))
    prefix = "base_model.model.model.layers"
    tensors = {
        f"{prefix}.0.self_attn.q_proj.lora_A.weight": np.ones((rank, 8), dtype=np.float32),
        f"{prefix}.0.self_attn.q_proj.lora_B.weight": np.full((6, rank), 2, dtype=np.float32),
        f"{prefix}.1.mlp.down_proj.lora_A.weight": np.ones((rank, 5), dtype=np.float32),
        f"{prefix}.1.mlp.down_proj.lora_B.weight": np.ones((8, rank), dtype=np.float32),
    }
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    meta = {
        "app": "summarize",
        "base_model": "bundled:qwen2.5-coder-0.5b",
        "architecture": arch,
        "prompt": {"shots": 0},
    }
    (folder / "ganymede_adapter.json").write_text(json.dumps(meta))
    return folder


def test_peft_adapter_converts_to_a_gguf_lora_llamacpp_accepts(tmp_path):
    from gguf import GGUFReader

    from ganymede.core import lora

    path = lora.gguf_adapter(_peft_folder(tmp_path))
    assert path.name == "adapter_model.gguf"
    reader = GGUFReader(path)
    assert reader.get_field("general.type").contents() == "adapter"
    assert reader.get_field("adapter.type").contents() == "lora"
    assert reader.get_field("general.architecture").contents() == "qwen2"
    assert reader.get_field("adapter.lora.alpha").contents() == 4.0
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}
    # ggml order (ne): lora_a is [in, rank], lora_b is [rank, out], as llama-adapter.cpp checks
    assert shapes == {
        "blk.0.attn_q.weight.lora_a": [8, 2],
        "blk.0.attn_q.weight.lora_b": [2, 6],
        "blk.1.ffn_down.weight.lora_a": [5, 2],
        "blk.1.ffn_down.weight.lora_b": [2, 8],
    }
    assert lora.gguf_adapter(path.parent) == path  # up to date: not converted again
    assert lora.gguf_adapter(path) == path  # a GGUF file is used as it is


def test_unsupported_architecture_is_a_clear_error(tmp_path):
    from ganymede.core import lora
    from ganymede.core.errors import BackendUnavailableError

    with pytest.raises(BackendUnavailableError, match=r"'llama' models to GGUF.*--backend transformers"):
        lora.gguf_adapter(_peft_folder(tmp_path, arch="llama"))


def test_read_adapter_errors_say_what_to_do(tmp_path):
    from ganymede.core import lora

    with pytest.raises(GanymedeError, match="adapter not found"):
        lora.read_adapter(tmp_path / "none")
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    with pytest.raises(GanymedeError, match=r"not a LoRA adapter folder.*--resume"):
        lora.read_adapter(tmp_path / "run")
    info = lora.read_adapter(_peft_folder(tmp_path))
    assert (info.base_model, info.app, info.prompt) == ("bundled:qwen2.5-coder-0.5b", "summarize", {"shots": 0})


# -- --adapter at inference -----------------------------------------------------------------------------------------
def test_adapter_flag_defaults_the_model_to_the_adapters_base(tmp_path, monkeypatch):
    from ganymede.core import cliargs

    calls = []
    monkeypatch.setattr(
        "ganymede.core.backends.load_backend", lambda model, backend=None, **kw: calls.append((model, kw))
    )
    folder = _peft_folder(tmp_path)
    cliargs.load_backend_from_args(argparse.Namespace(model=None, backend=None, adapter=str(folder)))
    assert calls == [("bundled:qwen2.5-coder-0.5b", {"adapter": str(folder.resolve())})]
    cliargs.load_backend_from_args(argparse.Namespace(model="bundled:qwen2.5-coder-1.5b", backend=None, adapter=None))
    assert calls[-1] == ("bundled:qwen2.5-coder-1.5b", {})
    with pytest.raises(GanymedeError, match="local backends only"):
        cliargs.load_backend_from_args(argparse.Namespace(model="openai:m", backend=None, adapter=str(folder)))


def test_every_app_command_takes_adapter_but_serve_and_ui_do_not():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for command in ("chat", "summarize", "translate"):
        assert "--adapter" in sub.choices[command].format_help()
    for command in ("serve", "ui"):
        assert "--adapter" not in sub.choices[command].format_help()


def test_summarize_with_an_adapter_uses_its_training_prompt(tmp_path):
    from ganymede.apps.summarize import build_summarizer

    backend = ScriptedBackend("A summary.")
    with_adapter, _ = build_summarizer(backend, adapter=str(_peft_folder(tmp_path)))
    assert with_adapter.shots == 0
    without, _ = build_summarizer(backend, adapter=None)
    assert without.shots == 3
    explicit, _ = build_summarizer(backend, shots=1, adapter="ignored")
    assert explicit.shots == 1
