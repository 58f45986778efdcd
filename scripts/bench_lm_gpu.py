"""Benchmark: GPT-2-small training throughput and model FLOPs utilisation on a CUDA GPU.

    python scripts/bench_lm_gpu.py --out DIR              (a CUDA machine, ~1 minute per mode)
    python scripts/bench_lm_gpu.py --out DIR --smoke      (any machine: tiny model, few steps)

Trains the GPT of lm/model.py at GPT-2-small size (12 layers, 768 wide, context 1024,
vocabulary 50304) on random tokens with bf16 autocast and fused AdamW, first eagerly and then
under torch.compile, and reports for each: tokens/s and MFU,

    FLOPs per token = 6 N + 12 L d T     (N parameters without wpe; the second term is
                                          attention's QK^T and AV, forward and backward)
    MFU = FLOPs per token x tokens/s / peak   (peak dense bf16 from the GPU's name: H100 SXM
                                               and H200 989 TFLOP/s, H100 PCIe 756; or --peak-tflops)

Writes DIR/lm_gpu.json and DIR/lm_gpu.md.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from rlhf_from_scratch.lm.model import GPT, GPTConfig
from rlhf_from_scratch.lm.pretrain import make_optimizer
from rlhf_from_scratch.utils.machine import machine_info

GPT2_SMALL = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50304)
SMOKE = dict(n_layer=2, n_head=2, n_embd=32, block_size=64, vocab_size=128)


def flops_per_token(model: GPT) -> float:
    c = model.config
    return 6 * model.num_params() + 12 * c.n_layer * c.n_embd * c.block_size


def peak_tflops(name: str) -> float:
    """Dense bf16 peak of the GPUs we know by name (vendor data sheets); else ask for the flag."""
    for key, peak in (("H100 PCIe", 756.0), ("H100", 989.0), ("H200", 989.0), ("A100", 312.0)):
        if key in name:
            return peak
    if not name:  # --smoke on a CPU: MFU means nothing there
        return 989.0
    raise SystemExit(f"unknown GPU '{name}': pass its dense bf16 peak with --peak-tflops")


def measure(
    config: GPTConfig,
    batch_size: int,
    compile: bool,
    seconds: float,
    min_steps: int,
    warmup: int,
    device: torch.device,
) -> dict:
    torch.manual_seed(0)
    model = GPT(config).to(device)
    optimizer = make_optimizer(model, 6e-4, 0.1, device)
    fast = torch.compile(model) if compile else model
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    )
    x = torch.randint(config.vocab_size, (batch_size, config.block_size), device=device)
    y = torch.randint(config.vocab_size, (batch_size, config.block_size), device=device)

    def step() -> float:
        with autocast:
            _, loss = fast(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    start = time.time()
    for _ in range(warmup):  # includes compilation
        step()
    sync()
    warmup_s = time.time() - start
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    steps, start = 0, time.time()
    while steps < min_steps or time.time() - start < seconds:
        loss = step()
        steps += 1
    sync()
    elapsed = time.time() - start
    tokens_per_s = steps * batch_size * config.block_size / elapsed
    return {
        "compile": compile,
        "steps": steps,
        "seconds": elapsed,
        "warmup_s": warmup_s,
        "tokens_per_s": tokens_per_s,
        "step_ms": 1000 * elapsed / steps,
        "model_tflops": flops_per_token(model) * tokens_per_s / 1e12,
        "final_loss": float(loss.detach()),
        "max_memory_gib": (
            torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="folder for lm_gpu.json and lm_gpu.md")
    parser.add_argument("--smoke", action="store_true", help="tiny model, few steps, any device")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time per mode")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the GPU's dense bf16 peak (default: by name)",
    )
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile run")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type != "cuda" and not args.smoke:
        raise SystemExit("bench_lm_gpu.py needs a CUDA GPU (or --smoke for a quick CPU check)")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.peak_tflops is None:
        args.peak_tflops = peak_tflops(
            torch.cuda.get_device_name() if device.type == "cuda" else ""
        )
    config = GPTConfig(**(SMOKE if args.smoke else GPT2_SMALL))
    batch_size = 4 if args.smoke else args.batch_size
    seconds = 0.0 if args.smoke else args.seconds
    modes = [False] if args.smoke or args.no_compile else [False, True]
    results = []
    for compile in modes:
        r = measure(
            config,
            batch_size,
            compile,
            seconds,
            min_steps=3 if args.smoke else 20,
            warmup=1 if args.smoke else 10,
            device=device,
        )
        r["mfu"] = r["model_tflops"] / args.peak_tflops
        results.append(r)
    model = GPT(config)
    report = {
        **machine_info(),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "smoke": args.smoke,
        "config": vars(config),
        "params_non_embedding": model.num_params(),
        "batch_size": batch_size,
        "flops_per_token": flops_per_token(model),
        "peak_tflops": args.peak_tflops,
        "results": results,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "lm_gpu.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# GPT training throughput on {report['device']}" + (" (SMOKE RUN)" if args.smoke else ""),
        "",
        f"`python scripts/bench_lm_gpu.py --out {args.out}{' --smoke' if args.smoke else ''}`, "
        f"{report['date']}, torch {report['torch']}.",
        "",
        f"Model: {config.n_layer} layers, {config.n_embd} wide, context {config.block_size}, "
        f"vocabulary {config.vocab_size}: {report['params_non_embedding'] / 1e6:.1f} M parameters; "
        f"batch {batch_size} x {config.block_size} tokens, bf16 autocast, fused AdamW.",
        f"FLOPs per token 6N + 12 L d T = {report['flops_per_token'] / 1e9:.3f} GFLOP; "
        f"MFU against {args.peak_tflops:.0f} TFLOP/s.",
        "",
        "| torch.compile | tokens/s | step (ms) | model TFLOP/s | MFU | warmup (s) | memory (GiB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        memory = f"{r['max_memory_gib']:.1f}" if r["max_memory_gib"] is not None else "-"
        lines.append(
            f"| {'on' if r['compile'] else 'off'} | {r['tokens_per_s']:,.0f} | {r['step_ms']:.1f} "
            f"| {r['model_tflops']:.1f} | {100 * r['mfu']:.1f}% | {r['warmup_s']:.1f} | {memory} |"
        )
    (out / "lm_gpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
