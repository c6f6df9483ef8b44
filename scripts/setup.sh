#!/usr/bin/env bash
# Install mdlnas into the current Python environment.
#
#   bash scripts/setup.sh          the package and its data sources
#   bash scripts/setup.sh --dev    also the test and lint tools
#
# PyTorch: on a machine without an NVIDIA GPU a plain `torch` requirement would pull a
# CUDA build of several GB, so the CPU build is installed first (pinned to the release
# this project is tested with; override with MDLNAS_TORCH="torch==X.Y.Z"). Where torch is
# already installed it is left alone, and with a GPU pip picks its usual (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extras="data"
[ "${1:-}" = "--dev" ] && extras="dev"

pip_install() { "$PYTHON" -m pip install --disable-pip-version-check -q "$@"; }

if ! "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: NVIDIA GPU found; installing the default (CUDA) build of torch" >&2
        pip_install "${MDLNAS_TORCH:-torch>=2.2}"
    else
        echo "setup: no GPU; installing the CPU build of torch" >&2
        pip_install "${MDLNAS_TORCH:-torch==2.13.0}"
    fi
fi
pip_install -e ".[$extras]"

# Fashion-MNIST comes from Debian's dataset-fashion-mnist; install it where we may.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's dataset-fashion-mnist" >&2
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
        || echo "setup: dataset-fashion-mnist could not be installed; fashion-mnist needs --data-dir" >&2
fi
echo "setup: done ($("$PYTHON" -c 'import torch, mdlnas; print("mdlnas", mdlnas.__version__, "torch", torch.__version__)'))" >&2
