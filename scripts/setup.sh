#!/usr/bin/env bash
# Install mdlnas into a Python environment.
#
#   bash scripts/setup.sh          the package and its data sources
#   bash scripts/setup.sh --dev    also the test and lint tools
#
# The environment: the one active when this runs (an activated virtual environment,
# $VIRTUAL_ENV, or conda environment, $CONDA_PREFIX); otherwise the project's own .venv in
# the repository root, created with $PYTHON (default python3) unless it exists. Either way
# .venv/bin/python and .venv/bin/mdlnas are that environment afterwards: an active one
# elsewhere is linked as .venv. (A system Python such as Debian's is "externally managed",
# PEP 668, and pip refuses to install into it, hence the virtual environment.)
#
# PyTorch: on a machine without an NVIDIA GPU a plain `torch` requirement would pull a
# CUDA build of several GB from PyPI, so the CPU build is installed first (pinned to the
# release this project is tested with; override with MDLNAS_TORCH="torch==X.Y.Z"): from a
# wheel pip already has at hand (find-links), else from PyTorch's CPU index, and only where
# neither has it from PyPI (a CUDA build, which runs on the CPU too). Where torch is
# already installed it is left alone, and with a GPU pip picks its usual (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
PYTHON=${PYTHON:-python3}
extras="data"
[ "${1:-}" = "--dev" ] && extras="dev"

# Where to install, and how the user activates it.
if [ -n "${VIRTUAL_ENV:-}" ]; then
    env_dir=$VIRTUAL_ENV
    where="the active virtual environment $env_dir"
    activate="source .venv/bin/activate"
elif [ -n "${CONDA_PREFIX:-}" ]; then
    env_dir=$CONDA_PREFIX
    where="the active conda environment $env_dir"
    activate="conda activate $env_dir"
else
    env_dir=""
    where="the project's virtual environment $root/.venv"
    activate="source .venv/bin/activate"
fi

if [ -n "$env_dir" ]; then
    if [ ! -x "$env_dir/bin/python" ]; then
        echo "setup: $env_dir/bin/python does not exist; activate a working environment" \
            "or deactivate to use .venv" >&2
        exit 1
    fi
    env_real=$(cd "$env_dir" && pwd -P)
    # .venv/bin/... must be this environment: link .venv to it unless it is .venv already.
    if [ "$env_real" != "$(cd .venv 2>/dev/null && pwd -P)" ]; then
        if [ -L .venv ] || [ ! -e .venv ]; then
            ln -sfn "$env_real" .venv
            where="$where (linked as .venv)"
        else
            echo "setup: warning: .venv exists and is not $env_dir; not linking it" \
                "(run $env_dir/bin/mdlnas, or remove .venv and run setup again)" >&2
            if [ -n "${VIRTUAL_ENV:-}" ]; then activate="source $env_dir/bin/activate"; fi
        fi
    fi
    py="$env_dir/bin/python"
else
    if [ ! -e .venv ] && [ ! -L .venv ]; then
        echo "setup: creating .venv with $PYTHON" >&2
        if ! "$PYTHON" -m venv .venv; then
            rm -rf .venv
            echo "setup: could not create a virtual environment with $PYTHON (on Debian or" \
                "Ubuntu: apt install python3-venv; or set PYTHON=/path/to/python)" >&2
            exit 1
        fi
    elif [ ! -x .venv/bin/python ]; then
        echo "setup: .venv exists but .venv/bin/python does not; remove .venv and run setup" \
            "again" >&2
        exit 1
    fi
    py="$root/.venv/bin/python"
fi

pip_install() { "$py" -m pip install --disable-pip-version-check -q "$@"; }

install_cpu_torch() {
    local spec=${MDLNAS_TORCH:-torch==2.13.0}
    # 1. a CPU wheel already on this machine (pip's find-links): no download. Its own
    #    requirements come from the usual index afterwards, torch being satisfied.
    if pip_install --no-index --no-deps "$spec" >/dev/null 2>&1; then
        pip_install "$spec"
        return
    fi
    # 2. PyTorch's CPU index (a few hundred MB); one quick try where it cannot be reached
    #    (it holds torch's own requirements as well)
    if pip_install --retries 0 --timeout 15 --index-url https://download.pytorch.org/whl/cpu \
        "$spec" >/dev/null 2>&1; then
        return
    fi
    # 3. PyPI: on Linux its build brings the CUDA libraries (several GB) and runs on the CPU
    echo "setup: no CPU build of $spec found (for Python $("$py" -c 'import sys; print(sys.version.split()[0])'));" \
        "installing PyPI's build, which includes CUDA libraries (several GB)" >&2
    pip_install "$spec"
}

if ! "$py" -c "import torch" >/dev/null 2>&1; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: NVIDIA GPU found; installing the default (CUDA) build of torch" >&2
        pip_install "${MDLNAS_TORCH:-torch>=2.2}"
    else
        echo "setup: no GPU; installing the CPU build of torch" >&2
        install_cpu_torch
    fi
fi
pip_install -e ".[$extras]"

# Fashion-MNIST comes from Debian's dataset-fashion-mnist; install it where we may.
if [ ! -d /usr/share/datasets/fashion-mnist ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian's dataset-fashion-mnist" >&2
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
        || echo "setup: dataset-fashion-mnist could not be installed; fashion-mnist needs --data-dir" >&2
fi
echo "setup: installed into $where; activate it with: $activate" >&2
echo "setup: done ($("$py" -c 'import torch, mdlnas; print("mdlnas", mdlnas.__version__, "torch", torch.__version__)'))" >&2
