"""A real (tiny) LoRA training run on the bundled 0.5B model: two short dialogues, rank 2, one example a step.
The adapter loads on both backends and changes their output; a run stopped after a checkpoint and resumed
ends where an uninterrupted run ends; `ganymede eval summarize --adapter` reports ROUGE with it."""

from __future__ import annotations

import json

import pytest

from ganymede import cli
from ganymede.core.backends import load_backend
from ganymede.core.generation import GenerationConfig
from ganymede.core.settings import SMALL_MODEL
from ganymede.tune import trainer as tune

pytestmark = [pytest.mark.model, pytest.mark.slow]

# Summaries that all mention a zebra: a pattern a few steps of training visibly teach.
TRAIN = [
    {"dialogue": "#Person1#: Did you feed the cat?\n#Person2#: Yes, twice.", "summary": "#Person2# fed the zebra."},
    {"dialogue": "#Person1#: Lend me a pen?\n#Person2#: Sure, here.", "summary": "#Person2# lends a zebra pen."},
]
HELD_OUT = {"dialogue": "#Person1#: Did you water the plants?\n#Person2#: Yes, this morning.", "summary": "x"}


def _settings(tmp_path, name: str) -> tune.TuneSettings:
    return tune.TuneSettings(
        app="summarize",
        train=str(tmp_path / "train.jsonl"),
        eval=str(tmp_path / "train.jsonl"),
        output=str(tmp_path / name),
        model=SMALL_MODEL,
        rank=2,
        batch_size=1,
        max_length=192,
        learning_rate=5e-3,
        save_every=1,
        eval_limit=1,
        threads=1,  # parallel test runs share the CPU: one thread wastes no time waiting for another
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in TRAIN), encoding="utf-8")
    (folder / "held_out.jsonl").write_text(json.dumps(HELD_OUT) + "\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def trained(data):
    """An uninterrupted run: 2 steps (one epoch of 2 examples), a checkpoint after each."""
    result = tune.Trainer(_settings(data, "straight")).train()
    assert result.status == "finished" and result.step == result.total_steps == 2
    return result


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


def test_training_writes_an_adapter_folder(trained):
    from pathlib import Path

    out = Path(trained.output)
    for name in ("adapter_config.json", "adapter_model.safetensors", "adapter_model.gguf", "ganymede_adapter.json"):
        assert (out / name).is_file(), name
    assert (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    meta = json.loads((out / "ganymede_adapter.json").read_text())
    assert meta["base_model"] == SMALL_MODEL and meta["architecture"] == "qwen2"
    assert meta["prompt"] == {"name": "summarize", "shots": 0, "max_words": 20}
    assert [c.name for c in tune.checkpoints(out)] == ["step-000001", "step-000002"]
    assert [e["step"] for e in trained.eval_loss] == [0, 1, 2]  # step 0: the base model
    assert len((out / "training_log.jsonl").read_text().splitlines()) == 2
    assert trained.eval_loss[-1]["loss"] < trained.eval_loss[0]["loss"]  # it learned the training examples
    assert trained.cpu_seconds > 0


def test_stopped_and_resumed_run_ends_like_an_uninterrupted_one(data, trained):
    import torch

    settings = _settings(data, "resumed")
    first = tune.Trainer(settings).train(stop_after=1)
    assert (first.status, first.step) == ("stopped", 1)
    out = data / "resumed"
    assert [c.name for c in tune.checkpoints(out)] == ["step-000001"]
    assert not (out / "adapter_config.json").exists()  # unfinished: no adapter yet
    with pytest.raises(Exception, match="--resume"):
        tune.Trainer(_settings(data, "resumed")).train()
    second = tune.Trainer(_settings(data, "resumed"), resume=True).train()
    assert (second.status, second.step, second.resumed_from) == ("finished", 2, 1)
    straight = [json.loads(line) for line in (data / "straight" / "training_log.jsonl").read_text().splitlines()]
    resumed = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [h["step"] for h in resumed] == [1, 2]
    for a, b in zip(straight, resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-3, abs=1e-4)
    for key, value in _weights(data / "straight").items():
        assert torch.allclose(value, _weights(out)[key], rtol=1e-3, atol=1e-5), key


def _summary(backend) -> str:
    from ganymede.apps.summarize.dialogue_io import Dialogue, parse_turn_lines
    from ganymede.apps.summarize.summarizer import Summarizer

    summarizer = Summarizer(backend, GenerationConfig(greedy=True, max_new_tokens=16), shots=0)
    return summarizer.summarize(Dialogue("held-out", parse_turn_lines(HELD_OUT["dialogue"]))).summary


def test_adapter_changes_the_transformers_output(trained):
    backend = load_backend(SMALL_MODEL, backend="transformers", adapter=trained.output)
    adapted = _summary(backend)
    with backend.model.disable_adapter():  # the same weights without the LoRA deltas
        base = _summary(backend)
    assert adapted != base, adapted


def test_gguf_adapter_changes_the_llamacpp_output(trained, small_backend):
    adapted_backend = load_backend(SMALL_MODEL, adapter=trained.output)
    assert adapted_backend.name == "llamacpp"
    adapted = _summary(adapted_backend)
    assert adapted != _summary(small_backend), adapted


def test_eval_summarize_with_adapter_reports_rouge(data, trained, capsys):
    args = ["eval", "summarize", "--data", str(data / "held_out.jsonl"), "--adapter", trained.output, "--json"]
    assert cli.main([*args, "--max-new-tokens", "16"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["adapter"] == trained.output and result["model"] == SMALL_MODEL
    assert result["shots"] == 0 and result["n"] == 1 and result["failed"] == 0
    assert 0.0 <= result["rouge1"] <= 1.0
