#!/usr/bin/env bash
# Issue 3's Pong target on a CPU, a few hours at a time: PPO on Pong-v5 from 3300 synthetic
# labels, 10M steps, seed 1 (the run `device_session.sh pref` makes on a GPU), on 2 torch
# threads. At the ~120 steps/s it made after the speed-ups of session 51 (2-core development
# machine: benchmarks/atari/cpu_overheads) it needs some 20 more hours from 1.19M steps. Each
# call of `start` resumes it from its newest checkpoint (every 10 updates, ~2 minutes), so a
# killed run loses at most that.
#
#   bash scripts/pong_cpu.sh start      # start it, or resume it, in the background
#   bash scripts/pong_cpu.sh status     # is it running; its last metrics row
#   bash scripts/pong_cpu.sh snapshot   # config + metrics into benchmarks/, and the curve beside
#                                       # true-reward PPO's (benchmarks/atari/preferences/pong_cpu.png)
#
# PONG_RUN: the run directory (default /work/pong/pong-pref-3300-s1; outside the repository:
# its checkpoints are 23 MB each and its preference store grows to ~31 MB).
# PONG_THREADS: torch threads (default 2). Two threads want both cores to themselves: while the
# test suite ran beside it (at nice 10) an update took 45-65 s instead of 10, the threads
# waiting on each other. To share the machine, resume it with PONG_THREADS=1 (a resume may
# change the thread count: utils.rundir.RUNTIME_SETTINGS).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${PONG_RUN:-/work/pong/pong-pref-3300-s1}
PY=${PYTHON:-.venv/bin/python}
THREADS=${PONG_THREADS:-2}
OUT=benchmarks/atari/preferences/runs/$(basename "$RUN")-cpu
LOG=$RUN.train.log SESSIONS=$RUN.sessions.log  # beside the run directory, which train owns

running() { pgrep -f -- "--run-dir $RUN( |$)" > /dev/null; }

case "${1:-status}" in
  start)
    if running; then echo "already running: $RUN"; exit 0; fi
    mkdir -p "$(dirname "$RUN")"
    RESUME=""; [ -f "$RUN/config.json" ] && RESUME=--resume
    echo "$(date -u +%FT%TZ) start $RESUME at $(git rev-parse --short HEAD), $THREADS threads" \
      >> "$SESSIONS"
    MUJOCO_GL=egl setsid nohup "$PY" -m rlhf_from_scratch train --algo ppo --env Pong-v5 \
      --reward preferences --labels 3300 --seed 1 --torch-threads "$THREADS" --checkpoint-every 10 \
      --run-dir "$RUN" --quiet $RESUME >> "$LOG" 2>&1 < /dev/null &
    echo "started (pid $!): $RUN, log $LOG" ;;
  status)
    running && echo "running: $RUN" || echo "not running: $RUN"
    [ -f "$RUN/metrics.jsonl" ] && "$PY" - "$RUN" <<'EOF'
import json, signal, sys
signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet when cut short by `| head`
from rlhf_from_scratch.utils.rundir import read_metrics
rows = [r for r in read_metrics(sys.argv[1]) if "wall_seconds" in r]
last, back = rows[-1], rows[max(0, len(rows) - 20)]
keys = ("step", "recent_return", "labels_used", "entropy", "rm_val_accuracy",
        "rm_val_accuracy_recent", "rm_true_corr")
print(json.dumps({k: last.get(k) for k in keys}))
if last["wall_seconds"] > back["wall_seconds"]:  # the rate of the last 20 rows of this stretch
    rate = (last["step"] - back["step"]) / (last["wall_seconds"] - back["wall_seconds"])
    hours = (10_000_000 - last["step"]) / max(rate, 1e-9) / 3600
    print(f"{rate:.0f} steps/s lately: 10M steps in {hours:.0f} more hours at that rate")
EOF
    tail -2 "$SESSIONS" 2>/dev/null || true ;;
  snapshot)
    mkdir -p "$OUT"
    cp "$RUN/config.json" "$OUT/" && cp "$SESSIONS" "$OUT/sessions.log"
    cp "$RUN/metrics.jsonl" "$OUT/metrics.jsonl"
    [ -f "$RUN/summary.json" ] && cp "$RUN/summary.json" "$OUT/"
    "$PY" -c "from rlhf_from_scratch.utils.rundir import compress_metrics as c; import sys; c(sys.argv[1])" "$OUT"
    "$PY" -m rlhf_from_scratch plot "$OUT" benchmarks/atari/runs/ppo-Pong-v5-s1 --title "Pong-v5, PPO" \
      --names "preferences, 3300 labels (CPU, 8 envs)" "true reward (GPU, 16 envs)" \
      --out benchmarks/atari/preferences/pong_cpu.png
    echo "snapshot in $OUT, curve in benchmarks/atari/preferences/pong_cpu.png" ;;
  *) echo "usage: $0 start|status|snapshot" >&2; exit 2 ;;
esac
