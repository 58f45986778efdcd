"""The run directory: the contract every training command keeps.

    RUN_DIR/
      config.json      everything needed to rerun the command
      metrics.jsonl    one JSON object per log step, always with "step"
      events.*         TensorBoard events (same numbers as metrics.jsonl)
      checkpoints/     written atomically (tmp file + rename); a killed run resumes from the last
      summary.json     the final evaluation, written at the end

Plots and reports are made from these files, so a figure can always be regenerated without
retraining.
"""

from __future__ import annotations

import gzip
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rlhf_from_scratch.utils.errors import ConfigError


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def compress_metrics(run_dir: str | Path) -> Path:
    """RUN_DIR/metrics.jsonl -> metrics.jsonl.gz (no timestamp inside, so the same rows give the
    same bytes), the plain file removed: how runs are committed under benchmarks/ (about a
    quarter of the size)."""
    path = Path(run_dir) / "metrics.jsonl"
    packed = path.with_suffix(".jsonl.gz")
    packed.write_bytes(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))
    path.unlink()
    return packed


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """All rows of RUN_DIR/metrics.jsonl (a half-written last line, from a kill, is skipped),
    or of metrics.jsonl.gz where that is what the folder holds (committed benchmark runs)."""
    rows = []
    path = Path(run_dir) / "metrics.jsonl"
    if path.exists():
        text = path.read_text()
    elif path.with_suffix(".jsonl.gz").exists():
        text = gzip.decompress(path.with_suffix(".jsonl.gz").read_bytes()).decode()
    else:
        return rows
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def final_return(run_dir: str | Path) -> float | None:
    """A finished run's final deterministic evaluation (summary.json `eval_return_mean`); None
    for a run without one."""
    summary = Path(run_dir) / "summary.json"
    return json.loads(summary.read_text()).get("eval_return_mean") if summary.exists() else None


# How a run is executed and logged, not what it learns: a resume may change them (a run
# started on 2 threads goes on with 1 while the machine does other work; its sums then round
# differently in the last bits, as on another machine), and `rlhf plot` averages over them.
RUNTIME_SETTINGS = frozenset({"torch_threads", "checkpoint_every", "log_every"})


class RunDir:
    """Opens (or resumes) a run directory and writes config, metrics, checkpoints and summary.

    A directory that already holds a *different* run is refused: the message names the keys
    whose values differ (RUNTIME_SETTINGS aside). The same run is continued only with
    resume=True. `canonical`, where given, maps a config to the form in which two configs are
    compared (e.g. nested settings equal to their defaults dropped); config.json keeps the
    config as given.
    """

    def __init__(
        self,
        path: str | Path,
        config: dict,
        resume: bool = False,
        tensorboard: bool = True,
        keep_checkpoints: int = 2,
        canonical: Callable[[dict], dict] | None = None,
    ) -> None:
        self.path = Path(path)
        self.config = _jsonable(config)
        self.keep_checkpoints = keep_checkpoints
        self.checkpoint_dir = self.path / "checkpoints"
        config_path = self.path / "config.json"
        if config_path.exists():
            old = json.loads(config_path.read_text())
            new = self.config
            if canonical is not None:
                old, new = canonical(old), canonical(new)
            # Settings that a newer version added are not in an older run's config: only the
            # settings the old run recorded are compared. (Nested settings, e.g. algo_config,
            # record only what differs from the defaults: there a missing key is a default.)
            differ = sorted(k for k in old.keys() - RUNTIME_SETTINGS if old[k] != new.get(k))
            if differ:
                detail = ", ".join(
                    f"{k}: {old.get(k)!r} there vs {new.get(k)!r} now" for k in differ[:5]
                )
                raise ConfigError(
                    f"run directory '{self.path}' already holds a different run ({detail}); "
                    "choose another --run-dir, or, to continue that run (say after a default "
                    "changed), name the settings it used"
                )
            if not resume:
                raise ConfigError(
                    f"run directory '{self.path}' already holds this run; pass --resume to "
                    "continue it, or choose another --run-dir"
                )
        elif self.path.exists() and any(self.path.iterdir()):
            raise ConfigError(
                f"run directory '{self.path}' is not empty and holds no config.json; "
                "choose another --run-dir"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoint_dir.mkdir(exist_ok=True)
        write_json_atomic(config_path, self.config)
        self._tensorboard = tensorboard
        self._writer = None
        self._metrics = None

    # ---- metrics -------------------------------------------------------------------------
    def _open_metrics(self, purge_after: int | None) -> None:
        path = self.path / "metrics.jsonl"
        if purge_after is not None and path.exists():
            # A resumed run rewrites the steps after its checkpoint: drop them from the log.
            rows = [r for r in read_metrics(self.path) if r.get("step", 0) <= purge_after]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self._metrics = open(path, "a")  # noqa: SIM115 (closed in close())
        if self._tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(
                str(self.path), purge_step=None if purge_after is None else purge_after + 1
            )

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Append one row to metrics.jsonl and the same scalars to TensorBoard."""
        if self._metrics is None:
            self._open_metrics(purge_after=None)
        row = {"step": int(step), **_jsonable(metrics)}
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        if self._writer is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, (int, float)) and math.isfinite(value):
                    self._writer.add_scalar(key, value, int(step))

    # ---- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self, state: dict, step: int) -> Path:
        """torch.save to a temporary file, then an atomic rename; older ones are pruned."""
        final = self.checkpoint_dir / f"step_{int(step):012d}.pt"
        tmp = final.with_name(final.name + ".tmp")
        torch.save(state, tmp)
        os.replace(tmp, final)
        for old in self.checkpoints()[: -self.keep_checkpoints]:
            old.unlink(missing_ok=True)
        return final

    def checkpoints(self) -> list[Path]:
        return sorted(self.checkpoint_dir.glob("step_*.pt"))

    def load_latest_checkpoint(self) -> dict | None:
        """The newest checkpoint (and reopen the logs so that later steps are rewritten)."""
        paths = self.checkpoints()
        if not paths:  # killed before its first checkpoint: start over, logs included
            self._open_metrics(purge_after=0)
            return None
        state = torch.load(paths[-1], map_location="cpu", weights_only=False)
        self._open_metrics(purge_after=int(state["step"]))
        return state

    # ---- end -----------------------------------------------------------------------------
    def write_summary(self, summary: dict) -> None:
        write_json_atomic(self.path / "summary.json", summary)

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
