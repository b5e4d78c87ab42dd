#!/usr/bin/env bash
# Download every wheel the GPU run needs that a bare JAX image lacks into .whl/ (git-ignored)
# at the repository root, for CPython 3.12 on manylinux x86_64 (the lent H200 image).
#
#   bash benchmarks/prepare_gpu_wheels.sh          # keras, namex, optree (what the H200 'cuda' image lacks)
#   bash benchmarks/prepare_gpu_wheels.sh --all    # also h5py, ml-dtypes, rich (+ markdown-it-py, mdurl,
#                                                  # pygments), absl-py, packaging, typing-extensions
#   bash benchmarks/prepare_gpu_wheels.sh --all --grain   # also Grain and its requirements (array-record,
#                                                  # cloudpickle, etils, fsspec, zipp, portpicker, psutil,
#                                                  # protobuf) for the library_training step (train() through
#                                                  # Grain; about 14 MB in all); matplotlib must be on the image
#   PYTHON_VERSION=3.11 bash benchmarks/prepare_gpu_wheels.sh   # another Python on the GPU machine
#
# .whl/ is git-ignored, so the device tool copies it only when asked: name it in `carry`
# (`carry: [".whl"]`). run_gpu.sh installs it at the start of the run with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#       --target /tmp/adiencekit-site .whl/*.whl
# and puts /tmp/adiencekit-site on PYTHONPATH. Versions are the ones this repository is
# tested with (keras 3.15.1 requires absl-py, h5py, ml-dtypes, namex, numpy, optree,
# packaging, rich; optree requires typing-extensions; rich requires markdown-it-py and
# pygments; markdown-it-py requires mdurl).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
PYVER="${PYTHON_VERSION:-3.12}"

# name==version pairs; the core set first.
CORE=(keras==3.15.1 namex==0.1.0 optree==0.20.0)
EXTRA=()
version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
for option in "$@"; do
  case "$option" in
    --all) names=(h5py ml-dtypes rich markdown-it-py mdurl pygments absl-py packaging typing-extensions) ;;
    # not OpenCV: its 64 MB wheel alone fills the device tool's 64 MiB carry (the Grain path decodes
    # with Pillow without it)
    --grain) names=(grain array-record cloudpickle etils fsspec zipp portpicker psutil protobuf) ;;
    *) echo "prepare_gpu_wheels.sh: unknown option '$option' (use --all and/or --grain)" >&2; exit 2 ;;
  esac
  for name in "${names[@]}"; do
    EXTRA+=("$name==$(version "$name")")
  done
done

mkdir -p .whl
for spec in "${CORE[@]}" "${EXTRA[@]}"; do
  name="${spec%%==*}"
  # One version of each package: two would stop the install on the GPU machine.
  norm="$(echo "$name" | tr '-' '_')"
  rm -f .whl/"${norm}"-*.whl .whl/"${name}"-*.whl
  # pip matches manylinux_2_N exactly: offer the usual N.
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PYVER" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    --platform any -d .whl "$spec"
done
ls -l .whl
du -sh .whl
echo "prepare_gpu_wheels.sh: done; carry '.whl' with the run (device tool: carry: [\".whl\"])" >&2
