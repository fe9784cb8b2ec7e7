#!/usr/bin/env bash
# Training and inference on a CUDA GPU, end to end, on generated data (no download).
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh [WORKDIR]
# Prints: the front end on the GPU against the CPU, a bf16-mixed fit from scratch, evaluate,
# a head-only fine-tune on the GPU, and predict on a generated soundscape.
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
