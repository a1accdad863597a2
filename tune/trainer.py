"""LoRA fine-tuning: `ganymede tune APP --train FILE -o ADAPTER_DIR` trains a LoRA adapter with peft on the
transformers backend (CPU, bfloat16 where the CPU has it), with a progress bar, a loss curve (loss_curve.png),
checkpoints and `--resume`.

The data side comes from the apps: each app package that can be tuned exposes `tune_data`, a DataAdapter
(core/tuning.py) turning one JSONL record into the app's own prompt messages and the target reply. The prompt
comes from the app's own prompt building (the Summarizer's `messages`, translate's `build_messages`), so
training and inference see the same prompt; the adapter folder records that prompt (ganymede_adapter.json) and
the apps reuse it with `--adapter DIR`. Adding an app (NER written as generation, say) = a `tune_data.py` in
that app's package, exported as `tune_data`.

Training: each example is the chat-template prompt followed by the target reply and the end-of-turn token; only
the reply's tokens are scored, and only their logits are computed (`logits_to_keep`), which spares most of the
152k-word output layer on CPU. Examples longer than --max-length are skipped and counted. One step is one
AdamW update over --batch-size examples, taken one at a time (gradient accumulation: no padding to compute).
The data order of each epoch follows from --seed, so a resumed run sees the batches an uninterrupted one would."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganymede.core.errors import GanymedeError, InputFileError
from ganymede.core.tuning import DataAdapter, Example, RecordError

CHECKPOINTS = "checkpoints"
STATE = "trainer_state.json"
OPTIMIZER = "optimizer.pt"
RNG = "rng_state.pt"
LOG = "training_log.jsonl"
CURVE = "loss_curve.png"
DEFAULT_MODEL = "bundled:qwen2.5-coder-0.5b"  # the bundled model that trains in reasonable time on a CPU


# -- data adapters: each app's `tune_data` (a record -> prompt messages, target reply), read through APPS ------
def data_adapters() -> dict[str, DataAdapter]:
    """App name -> its training data adapter, for the apps that expose one."""
    from ganymede.apps import all_apps

    adapters = (getattr(package, "tune_data", None) for package in all_apps())
    return {adapter.app: adapter for adapter in adapters if adapter is not None}


def read_examples(app: str, path: str | Path, options: dict[str, Any] | None = None) -> list[Example]:
    """The training examples in a JSONL file; a bad record is an InputFileError naming the file and line."""
    from ganymede.core.fileio import jsonl_records

    adapter = _adapter(app)
    options = options or {}
    file = Path(path)
    if not file.is_file():
        raise InputFileError(f"training data not found: {file}", f"give a JSONL file of {adapter.fields} records")
    examples = []
    try:
        with file.open(encoding="utf-8-sig") as handle:
            for number, record in jsonl_records(handle, file):
                name = f"{file} line {number}"
                try:
                    messages, target = adapter.build(record, name, options)
                except RecordError as exc:
                    raise InputFileError(
                        f"{name}: {exc}", f"each line is a JSON object with {adapter.fields}"
                    ) from None
                except GanymedeError as exc:  # already names the line (dialogue parsing, unknown language)
                    raise InputFileError(str(exc) if name in str(exc) else f"{name}: {exc}") from None
                if not target:
                    raise InputFileError(f"{name}: the target text is empty")
                examples.append(Example(name, messages, target))
    except UnicodeDecodeError:
        raise InputFileError(f"{file}: not UTF-8 text", "save the file as UTF-8") from None
    if not examples:
        raise InputFileError(f"{file}: no records", f"each line is a JSON object with {adapter.fields}")
    return examples


def _adapter(app: str) -> DataAdapter:
    try:
        return data_adapters()[app]
    except KeyError:
        raise GanymedeError(
            f"no training data adapter for {app!r}", f"use one of: {', '.join(data_adapters())}"
        ) from None


# -- tokenizing: prompt tokens (not scored) + reply tokens (scored) ---------------------------------------------
@dataclass
class Encoded:
    source: str
    prompt_ids: list[int]
    target_ids: list[int]

    @property
    def length(self) -> int:
        return len(self.prompt_ids) + len(self.target_ids)


def completion_text(prompt: str, full: str, target: str, end: str) -> str:
    """What follows the prompt in the rendered conversation: the reply and the template's end-of-turn text.
    (Templates that rewrite earlier turns give no clean prefix: then the reply plus the end token.)"""
    if full.startswith(prompt) and len(full) > len(prompt):
        return full[len(prompt) :]
    return target + end


def encode(tokenizer: Any, example: Example) -> Encoded:
    prompt = tokenizer.apply_chat_template(example.messages, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template(
        [*example.messages, {"role": "assistant", "content": example.target}], tokenize=False
    )
    reply = completion_text(prompt, full, example.target, tokenizer.eos_token or "")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target_ids = tokenizer(reply, add_special_tokens=False)["input_ids"]
    return Encoded(example.source, prompt_ids, target_ids)


# -- settings -----------------------------------------------------------------------------------------------------
@dataclass
class TuneSettings:
    app: str
    train: str
    output: str
    eval: str | None = None
    model: str = DEFAULT_MODEL
    rank: int = 8
    alpha: float | None = None  # default 2 x rank
    dropout: float = 0.05
    targets: str = "all-linear"
    epochs: int = 1
    max_steps: int | None = None
    learning_rate: float = 2e-4
    warmup_steps: int | None = None  # default 5% of the steps (1 to 20)
    batch_size: int = 4
    max_length: int = 512
    max_words: int = 20  # summarize: the prompt's target length
    seed: int = 0
    dtype: str = "auto"
    save_every: int = 25
    eval_limit: int = 20
    keep_checkpoints: int = 2
    threads: int | None = None  # torch threads (default: $GANYMEDE_THREADS or every core)

    #: settings a resumed run must share with its checkpoint (the rest only change how the run is watched)
    FIXED = (
        "app", "model", "rank", "alpha", "dropout", "targets", "epochs", "max_steps", "learning_rate",
        "warmup_steps", "batch_size", "max_length", "max_words", "seed", "dtype",
    )  # fmt: skip

    def check(self) -> None:
        _adapter(self.app)
        rules = [
            (self.rank >= 1, "--rank must be at least 1"),
            (self.alpha is None or self.alpha > 0, "--alpha must be positive"),
            (0 <= self.dropout < 1, "--dropout must be in [0, 1)"),
            (self.epochs >= 1, "--epochs must be at least 1"),
            (self.max_steps is None or self.max_steps >= 1, "--max-steps must be at least 1"),
            (0 < self.learning_rate < 1, "--learning-rate must be in (0, 1)"),
            (self.warmup_steps is None or self.warmup_steps >= 0, "--warmup-steps must be 0 or more"),
            (self.batch_size >= 1, "--batch-size must be at least 1"),
            (self.max_length >= 16, "--max-length must be at least 16 tokens"),
            (self.max_words >= 1, "--max-words must be at least 1"),
            (self.save_every >= 1, "--save-every must be at least 1"),
            (self.eval_limit >= 1, "--eval-limit must be at least 1"),
            (self.keep_checkpoints >= 1, "--keep-checkpoints must be at least 1"),
            (self.threads is None or self.threads >= 1, "--threads must be at least 1"),
            (self.dtype in ("auto", "bfloat16", "float32"), "--dtype must be auto, bfloat16 or float32"),
            (bool(self.targets.strip()), "--targets must name modules (or all-linear)"),
        ]
        for ok, message in rules:
            if not ok:
                raise GanymedeError(message)

    @property
    def lora_alpha(self) -> float:
        return float(self.alpha) if self.alpha is not None else 2.0 * self.rank

    @property
    def prompt_options(self) -> dict[str, Any]:
        return {"max_words": self.max_words}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def schedule(total: int, warmup: int, peak: float) -> Callable[[int], float]:
    """Learning rate for (0-based) step: linear warm-up to `peak`, then linear decay towards 0 at `total`."""

    def lr(step: int) -> float:
        if step < warmup:
            return peak * (step + 1) / warmup
        return peak * max(0.0, (total - step) / max(1, total - warmup))

    return lr


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(seed * 1000 + epoch).shuffle(order)
    return order


def batch_indices(n: int, batch_size: int, seed: int, step: int) -> tuple[int, list[int]]:
    """(epoch, example indices) of a 0-based step: the same for a run and its resumed continuation."""
    per_epoch = math.ceil(n / batch_size)
    epoch, position = divmod(step, per_epoch)
    order = epoch_order(n, seed, epoch)
    return epoch, order[position * batch_size : (position + 1) * batch_size]


def file_digest(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- checkpoints ---------------------------------------------------------------------------------------------------
def checkpoints(output: str | Path) -> list[Path]:
    folder = Path(output) / CHECKPOINTS
    found = [p for p in folder.glob("step-*") if p.is_dir() and (p / STATE).is_file()] if folder.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def read_state(checkpoint: Path) -> dict[str, Any]:
    try:
        return json.loads((checkpoint / STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GanymedeError(f"{checkpoint / STATE}: unreadable ({exc})", "delete that checkpoint folder") from None


def check_resumable(saved: dict[str, Any], settings: TuneSettings, train_digest: str, checkpoint: Path) -> None:
    """A resumed run must train the same thing the same way: name every difference."""
    mine = settings.to_dict()
    theirs = saved.get("settings", {})
    changed = [
        f"--{k.replace('_', '-')} {theirs.get(k)!r} -> {mine[k]!r}"
        for k in TuneSettings.FIXED
        if theirs.get(k) != mine[k]
    ]
    if saved.get("train_sha256") != train_digest:
        changed.append(f"--train {settings.train} is not the file the checkpoint was trained on")
    if changed:
        raise GanymedeError(
            f"cannot resume from {checkpoint}: " + "; ".join(changed),
            "repeat the first run's options, or train into a new -o folder",
        )


def merge_resume_settings(given: dict[str, Any], saved: dict[str, Any]) -> dict[str, Any]:
    """On --resume, options not given on the command line are taken from the checkpoint."""
    merged = dict(saved)
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged


# -- training --------------------------------------------------------------------------------------------------------
@dataclass
class TuneResult:
    output: str
    status: str  # finished | stopped
    step: int
    total_steps: int
    examples: int
    skipped_too_long: int
    seconds: float
    cpu_seconds: float  # CPU time of this run, all threads (on a shared CPU, less than seconds x threads)
    seconds_per_step: float | None
    first_loss: float | None
    last_loss: float | None  # mean of the last 10 steps
    eval_loss: list[dict[str, float]] = field(default_factory=list)
    loss_curve: str | None = None
    gguf: str | None = None
    resumed_from: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pick_dtype(name: str) -> str:
    """bfloat16 where the CPU computes it natively (AVX512-BF16/AMX), else float32 (bf16 emulation is slower)."""
    if name != "auto":
        return name
    import torch

    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native or torch.cuda.is_available() else "float32"


class Trainer:
    """One training run into settings.output. `train()` starts or resumes and returns a TuneResult."""

    def __init__(
        self,
        settings: TuneSettings,
        resume: bool = False,
        progress: Callable[[int, int, dict[str, Any]], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        settings.check()
        self.settings = settings
        self.resume = resume
        self.progress = progress
        self.say = say or (lambda _msg: None)
        self.output = Path(settings.output)

    # -- set-up
    def _prepare_output(self) -> Path | None:
        """The checkpoint to resume from, if any; refuses to overwrite a finished adapter or to ignore checkpoints."""
        found = checkpoints(self.output)
        if self.resume:
            if not found:
                self.say(f"no checkpoint in {self.output}: starting at step 0")
            return found[-1] if found else None
        if found:
            raise GanymedeError(
                f"{self.output} holds checkpoints of an earlier run (up to {found[-1].name})",
                "add --resume to continue it, or give a new -o folder",
            )
        if (self.output / "adapter_config.json").is_file():
            raise GanymedeError(f"{self.output} already holds an adapter", "give a new -o folder, or delete it")
        return None

    def _load(self, dtype: str) -> tuple[Any, Any]:
        from ganymede.core.backends.refs import parse_model_ref
        from ganymede.core.backends.registry import backend_class

        ref = parse_model_ref(self.settings.model)
        if ref.scheme == "openai":
            raise GanymedeError("a served model cannot be fine-tuned here", "use a bundled model or a local folder")
        backend = backend_class("transformers")(ref, dtype=dtype)
        if self.settings.threads:
            import torch

            torch.set_num_threads(self.settings.threads)
        self.ref = ref
        return backend.model, backend.tokenizer

    def _peft(self, model: Any) -> Any:
        from peft import LoraConfig, get_peft_model

        targets = self.settings.targets.strip()
        config = LoraConfig(
            r=self.settings.rank,
            lora_alpha=self.settings.lora_alpha,
            lora_dropout=self.settings.dropout,
            target_modules=targets if targets == "all-linear" else [t.strip() for t in targets.split(",") if t.strip()],
            bias="none",
            task_type="CAUSAL_LM",
        )
        try:
            with warnings.catch_warnings():  # peft asks about gradient checkpointing with a deprecated name
                warnings.simplefilter("ignore", FutureWarning)
                peft_model = get_peft_model(model, config)
        except ValueError as exc:
            raise GanymedeError(f"--targets {targets!r}: {str(exc).splitlines()[0]}") from None
        peft_model.peft_config["default"].base_model_name_or_path = self.ref.raw
        model.config.use_cache = False
        return peft_model

    def _encode_all(self, tokenizer: Any, examples: Sequence[Example]) -> tuple[list[Encoded], int]:
        encoded = [encode(tokenizer, e) for e in examples]
        kept = [e for e in encoded if e.length <= self.settings.max_length]
        return kept, len(encoded) - len(kept)

    # -- the loss of one example: the reply's tokens only, and only their logits
    def _loss(self, model: Any, example: Encoded) -> Any:
        import torch

        ids = torch.tensor([example.prompt_ids + example.target_ids])
        keep = len(example.target_ids) + 1
        logits = model(input_ids=ids, logits_to_keep=keep).logits[0, :-1].float()
        return torch.nn.functional.cross_entropy(logits, torch.tensor(example.target_ids), reduction="sum")

    def eval_loss(self, model: Any, examples: Sequence[Encoded]) -> float:
        import torch

        model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for example in examples:
                total += float(self._loss(model, example))
                tokens += len(example.target_ids)
        model.train()
        return total / max(tokens, 1)

    # -- the run
    def train(self, stop_after: int | None = None, time_limit: float | None = None) -> TuneResult:
        """Train to the end, or stop (with a checkpoint) after `stop_after` steps or `time_limit` seconds of this
        run; a KeyboardInterrupt also saves a checkpoint of the last finished step before it propagates."""
        import torch

        settings = self.settings
        started, cpu_started = time.perf_counter(), time.process_time()
        checkpoint = self._prepare_output()
        saved = read_state(checkpoint) if checkpoint else None
        digest = file_digest(settings.train)
        if saved and checkpoint:
            check_resumable(saved, settings, digest, checkpoint)
        examples = read_examples(settings.app, settings.train, settings.prompt_options)
        eval_examples = (
            read_examples(settings.app, settings.eval, settings.prompt_options)[: settings.eval_limit]
            if settings.eval
            else []
        )
        dtype = pick_dtype(settings.dtype)
        torch.manual_seed(settings.seed)
        base, tokenizer = self._load(dtype)
        model = self._peft(base)
        train_set, skipped = self._encode_all(tokenizer, examples)
        eval_set, _ = self._encode_all(tokenizer, eval_examples)
        if not train_set:
            raise GanymedeError(
                f"{settings.train}: every example is longer than --max-length {settings.max_length} tokens",
                "raise --max-length",
            )
        if skipped:
            self.say(f"skipped {skipped} of {len(examples)} examples longer than {settings.max_length} tokens")
        steps_per_epoch = math.ceil(len(train_set) / settings.batch_size)
        total = settings.epochs * steps_per_epoch
        if settings.max_steps:
            total = min(total, settings.max_steps)
        warmup = settings.warmup_steps if settings.warmup_steps is not None else min(20, max(1, total // 20))
        lr_at = schedule(total, warmup, settings.learning_rate)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=0.0)
        history: list[dict[str, Any]] = []
        evals: list[dict[str, float]] = []
        step = 0
        if saved and checkpoint:
            self._restore(model, optimizer, checkpoint)
            step, history, evals = int(saved["step"]), list(saved["history"]), list(saved["eval"])
            self.say(f"resuming from {checkpoint} (step {step} of {total})")
        resumed_from = step if saved else None
        if eval_set and step == 0:  # the base model's held-out loss: where the curve starts
            evals.append({"step": 0, "loss": round(self.eval_loss(model, eval_set), 5)})
        model.train()
        meta = {
            "settings": settings.to_dict(),
            "train_sha256": digest,
            "dtype": dtype,
            "total_steps": total,
            "examples": len(train_set),
            "skipped_too_long": skipped,
        }
        last_saved = step
        run_steps, run_seconds = 0, 0.0
        try:
            while step < total:
                if stop_after is not None and run_steps >= stop_after:
                    break
                if time_limit is not None and time.perf_counter() - started >= time_limit:
                    self.say(f"time limit reached after step {step}")
                    break
                tick = time.perf_counter()
                _, batch = batch_indices(len(train_set), settings.batch_size, settings.seed, step)
                tokens = sum(len(train_set[i].target_ids) for i in batch)
                loss_sum = 0.0
                for i in batch:
                    loss = self._loss(model, train_set[i])
                    (loss / tokens).backward()
                    loss_sum += float(loss.detach())
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, 1.0))
                lr = lr_at(step)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                run_steps += 1
                seconds = time.perf_counter() - tick
                run_seconds += seconds
                history.append(
                    {
                        "step": step,
                        "epoch": round(step / steps_per_epoch, 4),
                        "loss": round(loss_sum / tokens, 5),
                        "lr": lr,
                        "grad_norm": round(grad_norm, 4),
                        "tokens": sum(train_set[i].length for i in batch),
                        "seconds": round(seconds, 3),
                    }
                )
                self._write_log(history)  # one line a step: `tail -f training_log.jsonl` follows the run
                if step % settings.save_every == 0 or step == total:
                    if eval_set:
                        evals.append({"step": step, "loss": round(self.eval_loss(model, eval_set), 5)})
                    self._save_checkpoint(model, optimizer, step, history, evals, meta)
                    last_saved = step
                if self.progress:
                    self.progress(step, total, {**history[-1], "eval_loss": evals[-1]["loss"] if evals else None})
        except KeyboardInterrupt:
            optimizer.zero_grad(set_to_none=True)
            if step > last_saved:
                self._save_checkpoint(model, optimizer, step, history, evals, meta)
            self.say(f"interrupted: checkpoint at step {step} in {self.output}; continue with --resume")
            raise
        if step > last_saved:
            self._save_checkpoint(model, optimizer, step, history, evals, meta)
        curve = self._plot(history, evals)
        result = TuneResult(
            output=str(self.output),
            status="finished" if step >= total else "stopped",
            step=step,
            total_steps=total,
            examples=len(train_set),
            skipped_too_long=skipped,
            seconds=round(time.perf_counter() - started, 1),
            cpu_seconds=round(time.process_time() - cpu_started, 1),
            seconds_per_step=round(run_seconds / run_steps, 2) if run_steps else None,
            first_loss=history[0]["loss"] if history else None,
            last_loss=round(sum(h["loss"] for h in history[-10:]) / len(history[-10:]), 5) if history else None,
            eval_loss=evals,
            loss_curve=str(curve) if curve else None,
            resumed_from=resumed_from,
        )
        if step >= total:
            result.gguf = self._finish(model, meta, history, evals)
        return result

    def _restore(self, model: Any, optimizer: Any, checkpoint: Path) -> None:
        import torch
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        set_peft_model_state_dict(model, load_file(str(checkpoint / "adapter_model.safetensors")))
        optimizer.load_state_dict(torch.load(checkpoint / OPTIMIZER, weights_only=True))
        rng = checkpoint / RNG
        if rng.is_file():
            torch.set_rng_state(torch.load(rng, weights_only=True))

    def _save_checkpoint(
        self,
        model: Any,
        optimizer: Any,
        step: int,
        history: list[dict[str, Any]],
        evals: list[dict[str, float]],
        meta: dict[str, Any],
    ) -> Path:
        """checkpoints/step-N/: adapter weights, optimizer, RNG and trainer state, written to a temporary folder
        and renamed, so a checkpoint is complete or absent; only the newest `keep_checkpoints` stay."""
        import torch

        folder = self.output / CHECKPOINTS
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"step-{step:06d}"
        tmp = folder / f".tmp-step-{step:06d}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(str(tmp), save_embedding_layers=False)
        torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
        torch.save(torch.get_rng_state(), tmp / RNG)
        state = {**meta, "step": step, "history": history, "eval": evals}
        (tmp / STATE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        for old in checkpoints(self.output)[: -self.settings.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        self._plot(history, evals)
        return target

    def _write_log(self, history: list[dict[str, Any]]) -> None:
        from ganymede.core.fileio import write_atomic

        write_atomic(self.output / LOG, "".join(json.dumps(h) + "\n" for h in history))

    def _plot(self, history: list[dict[str, Any]], evals: list[dict[str, float]]) -> Path | None:
        if not history:
            return None
        return plot_loss(
            history, evals, self.output / CURVE, title=f"LoRA {self.settings.app} on {self.settings.model}"
        )

    def _finish(
        self, model: Any, meta: dict[str, Any], history: list[dict[str, Any]], evals: list[dict[str, float]]
    ) -> str | None:
        """The adapter itself in the output folder (PEFT files, ganymede_adapter.json) and its GGUF form."""
        from ganymede.core import lora
        from ganymede.core.fileio import write_atomic

        model.save_pretrained(str(self.output), save_embedding_layers=False)
        settings = self.settings
        metadata = {
            "app": settings.app,
            "base_model": self.ref.raw,
            "architecture": getattr(model.config, "model_type", None),
            "prompt": _adapter(settings.app).prompt(settings.prompt_options),
            "train": str(settings.train),
            "eval": settings.eval,
            **{k: v for k, v in meta.items() if k != "settings"},
            "settings": settings.to_dict(),
            "steps": history[-1]["step"] if history else 0,
            "final_train_loss": history[-1]["loss"] if history else None,
            "eval_loss": evals,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_atomic(self.output / lora.METADATA, json.dumps(metadata, indent=1) + "\n")
        try:
            return str(lora.gguf_adapter(self.output))
        except GanymedeError as exc:
            self.say(f"no GGUF form of the adapter (llamacpp backend): {exc}")
            return None


def plot_loss(history: Sequence[dict[str, Any]], evals: Sequence[dict[str, float]], path: Path, title: str) -> Path:
    """Training loss per step (and its running mean) and held-out loss, as a PNG (matplotlib, no pyplot state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ganymede.core.fileio import write_atomic

    steps = [h["step"] for h in history]
    losses = [h["loss"] for h in history]
    window = max(1, min(10, len(losses) // 5 or 1))
    smooth = [
        sum(losses[max(0, i - window + 1) : i + 1]) / len(losses[max(0, i - window + 1) : i + 1])
        for i in range(len(losses))
    ]
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(steps, losses, color="#9ecae1", linewidth=1, label="train loss (per step)")
    axes.plot(steps, smooth, color="#08519c", linewidth=2, label=f"train loss (mean of {window})")
    if evals:
        axes.plot([e["step"] for e in evals], [e["loss"] for e in evals], "o-", color="#d94801", label="held-out loss")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats per reply token)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


# -- CLI ------------------------------------------------------------------------------------------------------------
#: options that set TuneSettings fields; their argparse defaults are None so --resume can tell what was given
_OPTIONS = (
    "model", "rank", "alpha", "dropout", "targets", "epochs", "max_steps", "learning_rate", "warmup_steps",
    "batch_size", "max_length", "max_words", "seed", "dtype", "save_every", "eval_limit", "keep_checkpoints",
    "threads",
)  # fmt: skip


def settings_from_args(args: argparse.Namespace) -> TuneSettings:
    """TuneSettings from the flags; with --resume, flags not given take the checkpoint's values."""
    given = {name: getattr(args, name, None) for name in _OPTIONS}
    saved: dict[str, Any] = {}
    found = checkpoints(args.output) if args.resume else []
    if found:
        saved = {k: v for k, v in read_state(found[-1]).get("settings", {}).items() if k in _OPTIONS}
    values = merge_resume_settings(given, saved)
    return TuneSettings(
        app=args.app,
        train=args.train,
        output=args.output,
        eval=args.eval,
        **{k: v for k, v in values.items() if v is not None},
    )


def cmd_tune(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ganymede.core.cliargs import print_json
    from ganymede.core.progress import progress_bar

    settings = settings_from_args(args)
    settings.check()
    read_examples(settings.app, settings.train, settings.prompt_options)  # bad data fails before the model loads
    if settings.eval:
        read_examples(settings.app, settings.eval, settings.prompt_options)
    console = Console(stderr=True)

    def say(message: str) -> None:
        console.print(message, markup=False, highlight=False)

    # The shared bar: live on a terminal, a line a step in a log file.
    with progress_bar(f"tune {settings.app}") as bar:
        bar.update(0, None, info="loading the model")

        def progress(step: int, total: int, info: dict[str, Any]) -> None:
            text = f"loss {info['loss']:.3f}  lr {info['lr']:.1e}  {info['seconds']:.1f} s/step"
            if info.get("eval_loss") is not None:
                text += f"  held-out {info['eval_loss']:.3f}"
            bar.update(step, total, info=text)

        trainer = Trainer(settings, resume=args.resume, progress=progress, say=say)
        time_limit = args.time_limit * 60 if args.time_limit else None
        result = trainer.train(stop_after=args.stop_after, time_limit=time_limit)
    if result.status == "finished":
        say(f"adapter written to {result.output} (loss curve: {result.loss_curve})")
        say(f"use it: ganymede {settings.app} ... --adapter {result.output}")
    else:
        say(f"stopped at step {result.step} of {result.total_steps}; continue with the same command and --resume")
    print_json(result.to_dict())
    return 0


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="LoRA fine-tuning of a local model for an app (peft, transformers backend, CPU)",
        description="Train a LoRA adapter for APP on JSONL examples, using the app's own prompt, then use it with "
        "`ganymede APP ... --adapter DIR` or `ganymede eval APP ... --adapter DIR`. Checkpoints go to "
        "DIR/checkpoints (--save-every); --resume continues the latest one. Data per app: "
        + "; ".join(f"{a.app}: {a.fields}" for a in data_adapters().values()),
    )
    parser.add_argument(
        "app", choices=sorted(data_adapters()), metavar="APP", help=f"one of {', '.join(data_adapters())}"
    )
    parser.add_argument("--train", required=True, metavar="FILE", help="training examples (JSONL)")
    parser.add_argument(
        "--eval", metavar="FILE", help="held-out examples (JSONL): their loss is tracked at checkpoints"
    )
    parser.add_argument("-o", "--output", required=True, metavar="ADAPTER_DIR", help="folder for the adapter")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in ADAPTER_DIR")
    parser.add_argument("--model", help=f"base model (default {DEFAULT_MODEL}); loaded on the transformers backend")
    lora = parser.add_argument_group("LoRA")
    lora.add_argument("--rank", type=int, help="LoRA rank r (default 8)")
    lora.add_argument("--alpha", type=float, help="LoRA alpha (default 2 x rank)")
    lora.add_argument("--dropout", type=float, help="LoRA dropout (default 0.05)")
    lora.add_argument("--targets", help="modules to adapt: all-linear (default) or names, e.g. q_proj,v_proj")
    run = parser.add_argument_group("training")
    run.add_argument("--epochs", type=int, help="passes over the training data (default 1)")
    run.add_argument("--max-steps", type=int, help="stop the schedule after this many steps (default: all epochs)")
    run.add_argument("--learning-rate", type=float, help="peak AdamW learning rate (default 2e-4)")
    run.add_argument("--warmup-steps", type=int, help="linear warm-up steps (default 5%% of the steps, 1 to 20)")
    run.add_argument("--batch-size", type=int, help="examples per step, taken one at a time (default 4)")
    run.add_argument("--max-length", type=int, help="skip examples longer than this many tokens (default 512)")
    run.add_argument("--max-words", type=int, help="summarize: the prompt's summary length (default 20)")
    run.add_argument("--seed", type=int, help="data order and initialisation (default 0)")
    run.add_argument(
        "--dtype", choices=("auto", "bfloat16", "float32"), help="default auto: bfloat16 if the CPU has it"
    )
    run.add_argument("--save-every", type=int, help="checkpoint every N steps (default 25)")
    run.add_argument("--eval-limit", type=int, help="held-out examples scored at checkpoints (default 20)")
    run.add_argument("--keep-checkpoints", type=int, help="checkpoints kept (default 2)")
    run.add_argument("--threads", type=int, help="CPU threads (default $GANYMEDE_THREADS or all; 1 on a busy CPU)")
    run.add_argument("--stop-after", type=int, help="stop this run after N steps (checkpointed; --resume goes on)")
    run.add_argument("--time-limit", type=float, metavar="MINUTES", help="stop this run after MINUTES (checkpointed)")
    parser.set_defaults(func=cmd_tune)
