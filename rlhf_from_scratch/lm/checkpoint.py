"""Language-model checkpoints: the weights together with what gives them meaning.

A checkpoint (written by RunDir.save_checkpoint) holds the model's GPTConfig and its
tokenizer's identity beside the weights, so that loading it into another architecture, or
pairing it with another tokenizer, is refused with a sentence instead of a shape error.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.tokenizer import check_same, from_identity
from rlhf_from_scratch.utils.errors import ConfigError, unknown
from rlhf_from_scratch.utils.seeding import rng_state, set_rng_state


def resolve_device(name: str) -> torch.device:
    """'auto' (CUDA when there is one), 'cpu' or 'cuda'."""
    if name not in ("auto", "cpu", "cuda"):
        raise unknown("device", name, ["auto", "cpu", "cuda"])
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "--device cuda was asked for but torch sees no CUDA GPU; use --device cpu"
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def model_state(model: GPT, tokenizer, kind: str) -> dict:
    """The part of a checkpoint that describes the model: config, tokenizer, weights."""
    model = getattr(model, "_orig_mod", model)  # a torch.compile'd model wraps the original
    return {
        "kind": kind,  # "pretrain" or "sft": how prompts are formatted when sampling
        "model_config": asdict(model.config),
        "tokenizer": tokenizer.identity(),
        "model": model.state_dict(),
    }


def checkpoint_file(path: str | Path) -> Path:
    """The newest checkpoint of a run directory, or the file itself."""
    path = Path(path)
    if path.is_dir():
        found = sorted((path / "checkpoints").glob("step_*.pt"))
        if not found:
            raise ConfigError(f"'{path}' holds no checkpoints/step_*.pt; train a model there first")
        return found[-1]
    if not path.is_file():
        raise ConfigError(f"checkpoint '{path}' does not exist")
    return path


def load_state(path: str | Path) -> dict:
    file = checkpoint_file(path)
    state = torch.load(file, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model_config" not in state or "tokenizer" not in state:
        raise ConfigError(
            f"'{file}' is not a language-model checkpoint (no model_config/tokenizer)"
        )
    return state


def check_compatible(state: dict, config: GPTConfig, tokenizer, where: str) -> None:
    """ConfigError unless a checkpoint was made by this architecture and this tokenizer."""
    check_same(state["tokenizer"], tokenizer.identity(), where)
    saved = state["model_config"]
    differ = [k for k, v in asdict(config).items() if k != "dropout" and saved.get(k) != v]
    if differ:
        detail = ", ".join(
            f"{k}={saved.get(k)!r} there vs {getattr(config, k)!r} here" for k in differ
        )
        raise ConfigError(f"{where} is another architecture ({detail}); use a matching --config")


def load_model(path: str | Path, tokenizer_name: str | None = None):
    """(model on cpu, tokenizer, state) from a run directory or a checkpoint file.

    With tokenizer_name, a checkpoint made with another tokenizer is refused.
    """
    state = load_state(path)
    tokenizer = from_identity(state["tokenizer"])
    if tokenizer_name is not None and tokenizer_name != state["tokenizer"]["kind"]:
        raise ConfigError(
            f"checkpoint '{checkpoint_file(path)}' was made with the "
            f"'{state['tokenizer']['kind']}' tokenizer, not '{tokenizer_name}'; "
            "drop --tokenizer or pass the checkpoint's"
        )
    config = GPTConfig(**state["model_config"])
    model = GPT(config)
    model.load_state_dict(state["model"])
    return model, tokenizer, state


def training_state(
    model: GPT,
    tokenizer,
    kind: str,
    step: int,
    optimizer: torch.optim.Optimizer,
    generators: dict[str, torch.Generator],
    **extra,
) -> dict:
    """What `restore_training` puts back: weights (with config and tokenizer), the step, the
    optimiser, the named data generators and the global RNGs; `extra` entries ride along (the
    evaluation before training, a shuffled order)."""
    return {
        **model_state(model, tokenizer, kind),
        "step": step,
        "optimizer": optimizer.state_dict(),
        **{key: generator.get_state() for key, generator in generators.items()},
        "rng": rng_state(),
        **extra,
    }


def restore_training(
    state: dict,
    model: GPT,
    optimizer: torch.optim.Optimizer,
    generators: dict[str, torch.Generator],
) -> int:
    """Put a training checkpoint back: weights, optimiser, the named data generators and the
    global RNGs (so a resumed run draws what the unbroken one would). Returns its step."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    for key, generator in generators.items():
        generator.set_state(state[key])
    set_rng_state(state["rng"])
    return state["step"]
