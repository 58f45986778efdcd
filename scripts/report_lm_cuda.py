"""The language-model world on a CUDA GPU: copy a device session's results in and report them.

    python scripts/report_lm_cuda.py --src DIR     # copy DIR's results into benchmarks/, report
    python scripts/report_lm_cuda.py               # re-report from benchmarks/lm_cuda/runs

DIR is laid out as .bench_state/call.sh leaves it on the GPU machine:

    DIR/pytest.txt          python -m pytest tests/lm/test_cuda.py tests/lm/test_safetensors.py
    DIR/gpu/lm_gpu.*        scripts/bench_lm_gpu.py (GPT-2-small tokens/s and MFU) -> benchmarks/lm_gpu/
    DIR/demo/               rlhf demo --device cuda --hacking
    DIR/rlhf-ALGO/          rlhf lm rlhf --algo ALGO --device cuda on the demo's SFT model and RM
    DIR/gpt2small/          rlhf lm pretrain --config gpt2-small --device cuda --compile

Only the small files are copied (config, summary, metrics, report, figures; no checkpoints).
Writes benchmarks/lm_cuda/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEEP = {".json", ".jsonl", ".md", ".png", ".txt"}
KEYS = ("gold_reward", "rm_score", "kl", "grammar", "repetition")


def copy_small(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        if path.is_file() and path.suffix in KEEP and "checkpoints" not in path.parts:
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def row(name: str, summary: dict, config: dict, wall: float) -> str:
    after = summary["after"]
    cells = " | ".join(f"{after[k]:.3f}" for k in KEYS)
    return f"| {name} | {config.get('kl_coef', '?')} | {cells} | {wall:.0f} |"


def report(out: Path) -> Path:
    runs = out / "runs"
    demo = load(runs / "demo" / "summary.json")
    demo_cfg = load(runs / "demo" / "config.json")
    lines = [
        "# The language-model world on a CUDA GPU",
        "",
        "Every stage of the GPT pipeline run with `--device cuda` (bf16 autocast) on the GPU "
        "machine; the CPU numbers of the same commands are in [../lm_rlhf](../lm_rlhf/README.md) "
        "and [../lm_pretrain_cpu.md](../lm_pretrain_cpu.md). Copied in by "
        "`python scripts/report_lm_cuda.py --src DIR`; the commands are in "
        "`scripts/device_session.sh` (stages 1 and 2).",
        "",
    ]
    meta = out / "machine.json"
    if meta.exists():
        m = load(meta)
        lines += [f"- machine: {m['machine']}", f"- software: {m['software']}",
                  f"- date: {m['date']}; code: {m['code']}", f"- load: {m['load']}", ""]  # fmt: skip
    pytest_out = (runs / "pytest.txt").read_text().strip().splitlines()
    lines += [
        "## Tests on the GPU",
        "",
        "`python -m pytest -q -rs tests/lm/test_cuda.py tests/lm/test_safetensors.py` (the CUDA "
        "tests are skipped on machines without a GPU; the safetensors file compared with "
        "Hugging Face `transformers`' GPT-2, which is installed there): "
        f"**{pytest_out[-1].strip('= ')}**.",
        "",
        "## `rlhf demo --device cuda --hacking`",
        "",
        f"Size `{demo_cfg['size']}`, PPO, beta {demo_cfg['kl_coef']}. Pretraining validation "
        f"loss {demo['pretrain_val_loss']:.3f}; SFT instruction following "
        f"{demo['sft_gold_instruction']:.3f}; reward model held-out accuracy "
        f"{demo['rm_held_out_accuracy']:.3f} ({demo['rm_comparisons']} comparisons). Wall time "
        f"{demo['wall_time_s']:.0f} s ("
        + ", ".join(f"{k} {v:.0f} s" for k, v in demo["stage_times_s"].items())
        + ").",
        "",
        "| run | beta | " + " | ".join(KEYS) + " | wall (s) |",
        "|---|---|" + "---|" * (len(KEYS) + 1),
        "| SFT (before RL) | - | "
        + " | ".join(f"{demo['before'][k]:.3f}" for k in KEYS)
        + " | - |",
    ]
    for name in ("rlhf", "rlhf-beta0"):
        path = runs / "demo" / name
        if (path / "summary.json").exists():
            s, c = load(path / "summary.json"), load(path / "config.json")
            lines.append(row(f"demo {name} (ppo)", s, c, s.get("wall_time_s", 0.0)))
    for path in sorted(runs.glob("rlhf-*")):
        s, c = load(path / "summary.json"), load(path / "config.json")
        lines.append(row(f"`rlhf lm rlhf --algo {c['algo']}`", s, c, s.get("wall_time_s", 0.0)))
    lines += [
        "",
        "The `rlhf lm rlhf` rows start from the demo's SFT model and reward model, with the "
        "demo's RL budget (`--updates 20 --prompts-per-update 8 --samples-per-prompt 4 "
        "--max-new-tokens 120 --kl-coef 0.2`), one seed each: a check that every algorithm runs "
        "on CUDA, not a ranking (the matched-KL comparison is in ../lm_rlhf).",
        "",
        "![curves](runs/demo/rlhf_curves.png)",
        "",
    ]
    gpt2 = runs / "gpt2small" / "summary.json"
    if gpt2.exists():
        s, c = load(gpt2), load(runs / "gpt2small" / "config.json")
        lines += [
            "## `rlhf lm pretrain --config gpt2-small --device cuda --compile`",
            "",
            f"GPT-2-small shape (12 layers, 768 wide, context 1024; {s['params'] / 1e6:.1f} M "
            f"parameters with the character vocabulary) on the built-in corpus "
            f"({c['num_docs']} reviews), {s['steps']} steps of {c['batch_size']} x 1024 tokens "
            f"({s['tokens'] / 1e6:.1f} M tokens) in {s['wall_time_s']:.0f} s including "
            f"compilation: validation loss {s['val_loss']:.4f} nats/char against the corpus's "
            f"entropy rate {s['entropy_rate']:.4f} (gap {s['gap_nats_per_token']:.4f}); "
            f"{s['sample_grammatical']:.0%} of its samples are grammatical.",
            "",
        ]
    gpu = ROOT / "benchmarks" / "lm_gpu" / "lm_gpu.md"
    if gpu.exists():
        lines += ["## Training throughput (GPT-2-small, vocabulary 50304)", "",
                  "From [../lm_gpu/lm_gpu.md](../lm_gpu/lm_gpu.md):", ""]  # fmt: skip
        lines += [ln for ln in gpu.read_text().splitlines() if ln.startswith("|")]
        lines.append("")
    readme = out / "README.md"
    readme.write_text("\n".join(lines) + "\n")
    return readme


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", help="the device's lm folder to copy in first")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "lm_cuda"))
    args = parser.parse_args()
    out = Path(args.out)
    if args.src:
        src = Path(args.src)
        runs = out / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "pytest.txt", runs / "pytest.txt")
        for name in ["demo", "gpt2small", *[p.name for p in src.glob("rlhf-*") if p.is_dir()]]:
            if (src / name).is_dir():
                copy_small(src / name, runs / name)
        if (src / "gpu").is_dir():
            copy_small(src / "gpu", ROOT / "benchmarks" / "lm_gpu")
    print(f"wrote {report(out)}")


if __name__ == "__main__":
    main()
