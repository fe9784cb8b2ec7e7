#!/usr/bin/env bash
# Training and inference on a CUDA GPU, end to end, on generated data (no download).
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh [WORKDIR]
# Prints: the front end on the GPU against the CPU, a bf16-mixed fit from scratch, evaluate,
# a head-only fine-tune on the GPU, predict on a generated soundscape, and end-to-end scoring
# speed on the GPU (fp32, bf16) against PyTorch on the CPU, with the largest difference.
set -euo pipefail
PYTHON=${PYTHON:-python3}
WORK=${1:-$(mktemp -d)}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$PYTHON" - "$WORK" <<'PY'
import sys, time
from pathlib import Path

import torch

from tests.synthetic_birds import make_dataset, soundscape
from trainer.frontend import FrontEndConfig, MelFrontEnd

work = Path(sys.argv[1])
print("torch", torch.__version__, torch.cuda.get_device_name(0))
for config in (FrontEndConfig(), FrontEndConfig(n_fft=1024, hop_length=500, fmin=40, fmax=15000, context_s=10)):
    frontend = MelFrontEnd(config)
    waves = torch.randn(8, config.context_samples)
    on_cpu = frontend(waves)
    on_gpu = frontend.to("cuda")(waves.cuda()).cpu()
    print(f"front end, GPU against CPU: largest difference {float((on_cpu - on_gpu).abs().max()):.2g}")
start = time.time()
make_dataset(work / "data", clips_per_species=40, negatives=30)
soundscape(work / "soundscape.wav", 60.0, [(6.0, "pulses"), (21.0, "whistle")])
print(f"generated data in {time.time() - start:.1f} s")
PY
train() { "$PYTHON" -m trainer.cli "$@" 2>&1 | grep -viE "warn|tip|fetch_version" | tail -4; }
start=$(date +%s)
train fit --data "$WORK/data" --out "$WORK/run" --species from-data --no-pretrained --epochs 8 \
    --accelerator gpu --precision bf16-mixed --progress none --num-workers 6
echo "fit: $(( $(date +%s) - start )) s"
train evaluate --checkpoint "$WORK/run/checkpoints/best.ckpt" --data "$WORK/data"
start=$(date +%s)
train fit --data "$WORK/data" --out "$WORK/quick" --species from-data --init-from "$WORK/run/checkpoints/best.ckpt" \
    --head-only --epochs 20 --accelerator gpu --progress none
echo "head-only fit: $(( $(date +%s) - start )) s"
train predict --checkpoint "$WORK/run/checkpoints/best.ckpt" --engine torch --audio "$WORK/soundscape.wav" \
    --out "$WORK/p.csv"
"$PYTHON" -c "import pandas as pd; print(pd.read_csv('$WORK/p.csv').iloc[:6, 1:].round(3).to_string())"
"$PYTHON" - "$WORK" <<'PY'
import sys, time
from pathlib import Path

import numpy as np

from tests.synthetic_birds import soundscape
from trainer.inference import load_scorer, predict, resolve_engine

work = Path(sys.argv[1])
checkpoint = work / "run" / "checkpoints" / "best.ckpt"
audio = soundscape(work / "ten-minutes.flac", 600.0, [(30.0 * k + 3, "pulses") for k in range(20)])
print("auto picks:", resolve_engine("auto", is_onnx=False))
tables = {}
for engine, precision in (("torch", "fp32"), ("cuda", "fp32"), ("cuda", "bf16")):
    scorer = load_scorer(checkpoint, engine=engine, precision=precision)
    predict([audio], [scorer])  # warm-up
    start = time.perf_counter()
    table, _ = predict([audio], [scorer])
    rate = len(table) / (time.perf_counter() - start)
    tables[engine, precision] = table.iloc[:, 4:].to_numpy()
    difference = np.abs(tables[engine, precision] - tables["torch", "fp32"]).max()
    print(f"{engine} {precision}: {rate:.0f} windows/s end to end; largest difference from the CPU {difference:.2g}")
PY
