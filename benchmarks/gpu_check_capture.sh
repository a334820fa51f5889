#!/bin/bash
# The GPU checks and cost figures of autolr tune --metric, as recorded in benchmarks/README.md;
# OUT: the folder the JSON files go to.
set -x
export PYTHONPATH=$PWD
python -c "import torch, sys; print(sys.version, torch.__version__, torch.cuda.is_available())"
python -c "import optuna, click, rich, sqlalchemy, sklearn; print('deps ok', optuna.__version__)" || echo "deps missing"
timeout 120 python benchmarks/gpu_check_capture.py ${OUT:-benchmarks/results}/gpu_check_capture.json
timeout 120 python benchmarks/capture_overhead.py --device cuda --rounds 21 --steps 400 --json ${OUT:-benchmarks/results}/capture_overhead_cuda.json
OMP_NUM_THREADS=2 timeout 150 python benchmarks/capture_overhead.py --device cpu --rounds 21 --steps 400 --json ${OUT:-benchmarks/results}/capture_overhead_cpu2.json
