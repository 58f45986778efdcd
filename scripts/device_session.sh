#!/bin/bash
# bash scripts/device_session.sh STAGE [SECONDS]   (on the GPU machine, from the repository root,
#   with the wheels of gymnasium/mujoco/ale_py/vaderSentiment in .whl/ and Pong's checkpoint in
#   .bench_state/; $OUT is where the results go: the device tool's convention). The wheels, on
#   the development machine: pip download -d .whl --only-binary=:all: --no-deps \
#     --python-version 3.12 --platform manylinux_2_28_x86_64 gymnasium ale-py mujoco \
#     vaderSentiment farama-notifications cloudpickle
#   and a later call resumes from the previous call's $OUT/atari.tgz.part-* put in .bench_state/
# stage 1: CUDA tests, GPT-2-small throughput, rlhf demo on CUDA; Pong to 5M then Breakout
# stage 2: the other algorithms on CUDA, GPT-2-small pretraining; Atari goes on
# stage pref: the preference tests on CUDA, then Pong from 3300 synthetic labels (issue 3), 10M
#   steps resumed across calls (not yet run on a GPU: written 2026-11-25 without one)
S=$(date +%s); END=$((S+${2:-550}))
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1; unset MUJOCO_GL
B=/root/bench; mkdir -p $B/atari $B/lm
if [ ! -d $B/atari/ppo-Pong-v5-s1 ]; then
  if ls .bench_state/atari.tgz.part-* >/dev/null 2>&1; then cat .bench_state/atari.tgz.part-* | tar xz -C $B;
  elif [ -f .bench_state/pong.tgz ]; then tar xzf .bench_state/pong.tgz -C /; fi
fi
echo "code $(git rev-parse --short HEAD 2>/dev/null)" >> $OUT/status.txt
ST=$OUT/status.txt
{ echo "stage $1 start $(date -u)"; grep -m1 "model name" /proc/cpuinfo; nproc
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c "import torch,gymnasium,ale_py;print('torch',torch.__version__,'gymnasium',gymnasium.__version__,'ale_py',ale_py.__version__)"; } >> $ST 2>&1
left() { echo $((END-$(date +%s))); }
atari() {  # Pong to its 5M steps, then Breakout (10M, resumed across calls), until the deadline
  for game in Pong Breakout; do
    P=$B/atari/ppo-$game-v5-s1
    [ $game = Breakout ] && P=$P-full-games  # ppo-Breakout-v5-s1 was the one-life run (discarded)
    [ -f $P/summary.json ] && continue
    R=""; [ -f $P/config.json ] && R=--resume; T=5000000; [ $game = Breakout ] && T=10000000
    echo "$game start at +$(( $(date +%s)-S )) s, $(left) s left" >> $ST
    timeout $(( $(left) - 30 )) python3 -m rlhf_from_scratch train --algo ppo --env $game-v5 --device cuda \
      --num-envs 16 --total-steps $T --seed 1 --run-dir $P --quiet --checkpoint-every 20 $R >> $B/atari/$game.log 2>&1
    echo "$game rc $? at +$(( $(date +%s)-S )) s" >> $ST
  done; }
demo() { R=""; [ -f $B/lm/demo/config.json ] && R=--resume
  timeout $(( $(left) - 30 )) python3 -m rlhf_from_scratch demo --device cuda --hacking --run-dir $B/lm/demo --no-progress $R >> $B/lm/demo.log 2>&1
  echo "demo rc $? at +$(( $(date +%s)-S )) s" >> $ST; }
pong_preferences() {
  P=$B/atari/ppo-Pong-v5-s1-pref3300; R=""; [ -f $P/config.json ] && R=--resume
  echo "Pong from preferences start at +$(( $(date +%s)-S )) s, $(left) s left" >> $ST
  timeout $(( $(left) - 40 )) python3 -m rlhf_from_scratch train --algo ppo --env Pong-v5 --device cuda \
    --num-envs 16 --total-steps 10000000 --reward preferences --labels 3300 --seed 1 --run-dir $P \
    --quiet --checkpoint-every 20 $R >> $B/atari/pong-pref.log 2>&1
  echo "Pong from preferences rc $? at +$(( $(date +%s)-S )) s" >> $ST; }
if [ "$1" = pref ]; then
  [ -f $B/atari/pytest_pref.txt ] || { timeout 240 python3 -m pytest -q -p no:cacheprovider -rs \
    tests/preferences/test_preferences_cuda.py > $B/atari/pytest_pref.txt 2>&1
    echo "pytest preferences rc $? at +$(( $(date +%s)-S )) s" >> $ST; }
  pong_preferences
elif [ "$1" = 1 ]; then
  timeout 150 python3 -m pytest -q -p no:cacheprovider -rs tests/lm/test_cuda.py tests/lm/test_safetensors.py > $B/lm/pytest.txt 2>&1
  echo "pytest rc $? at +$(( $(date +%s)-S )) s" >> $ST
  timeout 250 python3 scripts/bench_lm_gpu.py --out $B/lm/gpu --seconds 30 > $B/lm/gpu.log 2>&1
  echo "lm_gpu rc $? at +$(( $(date +%s)-S )) s" >> $ST
  atari &
  demo
elif [ "$1" = 3 ]; then
  atari &
else
  atari &
  [ -f $B/lm/demo/summary.json ] || demo
  for a in reinforce a2c trpo; do
    R=""; [ -f $B/lm/rlhf-$a/config.json ] && R=--resume
    timeout $(( $(left) / 2 )) python3 -m rlhf_from_scratch lm rlhf --policy $B/lm/demo/sft --reward-model $B/lm/demo/rm \
      --algo $a --device cuda --updates 20 --prompts-per-update 8 --samples-per-prompt 4 --max-new-tokens 120 \
      --kl-coef 0.2 --run-dir $B/lm/rlhf-$a --no-progress $R > $B/lm/rlhf-$a.log 2>&1
    echo "rlhf $a rc $? at +$(( $(date +%s)-S )) s" >> $ST
  done
  R=""; [ -f $B/lm/gpt2small/config.json ] && R=--resume
  timeout $(( $(left) - 30 )) python3 -m rlhf_from_scratch lm pretrain --config gpt2-small --device cuda --compile \
    --num-docs 20000 --steps 600 --eval-every 200 --checkpoint-every 200 --run-dir $B/lm/gpt2small --no-progress $R > $B/lm/gpt2small.log 2>&1
  echo "gpt2small rc $? at +$(( $(date +%s)-S )) s" >> $ST
fi
wait
echo "=== finished at +$(( $(date +%s)-S )) s" >> $ST
for d in $B/atari/*/checkpoints; do ls $d/*.pt 2>/dev/null | head -n -1 | xargs -r rm -f; rm -f $d/*.tmp; done
{ for f in $B/atari/*/metrics.jsonl; do echo "$f"; tail -1 "$f" | cut -c1-600; done
  for f in $B/atari/*/summary.json; do echo "$f $(tr -d '\n ' < $f)"; done
  tail -5 $B/atari/*.log; tail -5 $B/atari/pytest_pref.txt 2>/dev/null; cat $B/lm/pytest.txt | tail -15; cat $B/lm/gpu/lm_gpu.md 2>/dev/null; tail -3 $B/lm/gpu.log
  tail -25 $B/lm/demo.log; for f in $B/lm/rlhf-*.log $B/lm/gpt2small.log; do echo "-- $f"; tail -8 $f; done; } >> $ST 2>&1
cd $B && tar czf $OUT/lm.tgz --exclude='*.pt' lm
tar czf - atari | split -b 15M - $OUT/atari.tgz.part-
ls -la $OUT >> $ST
