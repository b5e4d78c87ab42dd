#!/usr/bin/env bash
# One-command GPU benchmark (training + inference of the zoo, KERAS_BACKEND=jax, no TensorFlow).
#
#   bash benchmarks/run_gpu.sh            # ~5-6 min on one H100; writes ONE JSON file to
#                                         # benchmarks/results/gpu-gpu-h100-<date>.json (or $OUT/)
#   bash benchmarks/run_gpu.sh --smoke    # ~1 min, tiny sizes (also works on a CPU)
#
# Needs python3 with JAX (CUDA) and NumPy. The wheels in .whl/ at the repository root
# (made by benchmarks/prepare_gpu_wheels.sh: keras, namex, optree, and with --all the rest
# of Keras's requirements) are installed into /tmp/adiencekit-site; nothing is downloaded.
# gpu_suite.py writes its JSON after every measurement, so the hard stop below keeps what
# was measured. Extra arguments go to gpu_suite.py.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
export KERAS_BACKEND=jax
export TF_CPP_MIN_LOG_LEVEL=2
export PYTHONUNBUFFERED=1
HARD_STOP_S="${HARD_STOP_S:-360}"
if ! [[ "$HARD_STOP_S" =~ ^[1-9][0-9]*$ ]]; then
  echo "run_gpu.sh: HARD_STOP_S must be a whole number of seconds, got '$HARD_STOP_S'" >&2
  exit 2
fi

# Wheels in .whl/ (benchmarks/prepare_gpu_wheels.sh; the device tool copies the git-ignored
# folder only with carry: [".whl"]) are installed first, whatever the image has.
if compgen -G ".whl/*.whl" >/dev/null; then
  echo "run_gpu.sh: installing $(ls .whl/*.whl | xargs -n1 basename | tr '\n' ' ')into /tmp/adiencekit-site" >&2
  if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/adiencekit-site .whl/*.whl; then
    echo "run_gpu.sh: the wheels in .whl/ do not install on $("$PY" -c 'import sys; print(sys.version.split()[0])'); make them for this Python (PYTHON_VERSION=... bash benchmarks/prepare_gpu_wheels.sh)" >&2
    exit 2
  fi
  export PYTHONPATH="/tmp/adiencekit-site${PYTHONPATH:+:$PYTHONPATH}"
elif ! "$PY" -c "import keras" >/dev/null 2>&1; then
  echo "run_gpu.sh: keras is not installed and there are no wheels in $(pwd)/.whl;" >&2
  echo "  run 'bash benchmarks/prepare_gpu_wheels.sh' here and carry .whl (see benchmarks/README.md)." >&2
  exit 2
fi
export PYTHONPATH="$(pwd)/src${PYTHONPATH:+:$PYTHONPATH}"

"$PY" - <<'EOF'
import importlib, sys
missing = []
for name in ("keras", "jax", "numpy", "optree", "namex", "h5py", "ml_dtypes", "rich", "absl", "typing_extensions", "packaging", "pandas", "PIL"):
    try:
        importlib.import_module(name)
    except ImportError as err:
        missing.append(f"{name} ({err})")
if missing:
    sys.exit("run_gpu.sh: missing Python packages: " + ", ".join(missing) + "; see benchmarks/README.md")
import jax, keras
print(f"run_gpu.sh: keras {keras.__version__} ({keras.backend.backend()}), jax {jax.__version__}, devices {jax.devices()}", file=sys.stderr)
EOF

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
# Hard stop (HARD_STOP_S, default 360 s): gpu_suite.py budgets its measurements to 300 s
# by default (--budget) and has written its JSON after each one.
exec timeout "$HARD_STOP_S" "$PY" benchmarks/gpu_suite.py "$@"
