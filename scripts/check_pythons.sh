#!/usr/bin/env bash
# Install and smoke-test mdlnas on every supported Python this machine has.
#
#   bash scripts/check_pythons.sh            every Python 3.10 to 3.13 found
#   bash scripts/check_pythons.sh 3.10 3.13  only these
#
# For each version: a copy of the working tree's files, the README's install command run in
# it (`bash scripts/setup.sh --dev`, into that version's virtual environment), then
# `mdlnas --version`, a small search with retraining and testing, and the test suite
# without the eight slow tests (`-m "not slow"`: versions differ in what argparse prints,
# what csv accepts and what numpy's type stubs allow, and only the suite sees that). A
# version is found as python3.X on PATH or under pyenv's versions.
#
# The environments are kept between runs in $MDLNAS_PYTHONS_DIR (default
# ~/.cache/mdlnas/pythons): torch for a Python without a CPU wheel at hand is PyPI's build
# of several GB, worth installing once, not on every run. Each copy gets a fresh editable
# install, so what is tested is this working tree.
set -eEuo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)
cache=${MDLNAS_PYTHONS_DIR:-$HOME/.cache/mdlnas/pythons}
versions=("$@")
work=""
trap 'rm -rf "${work:-}"' EXIT
[ ${#versions[@]} -gt 0 ] || versions=(3.10 3.11 3.12 3.13)

find_python() {
    # the interpreter itself, not a pyenv shim: a shim runs only the versions pyenv selects
    local v=$1 candidate
    local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
    for candidate in "$pyenv_root"/versions/"$v".*/bin/python "$(command -v "python$v" || true)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$v" ]; then
            "$candidate" -c 'import sys; print(sys.executable)'
            return
        fi
    done
    return 1
}

smoke() {
    local v=$1 python=$2
    work=$(mktemp -d)
    # the working tree as it is, committed or not (the tests compare it with itself)
    git ls-files -z --cached --others --exclude-standard \
        | tar -c --null --ignore-failed-read -T - 2>/dev/null | tar -x -C "$work"
    mkdir -p "$cache"
    # a kept environment is reused only if it works (one cut short while being made does not)
    if ! "$cache/$v/bin/python" -m pip --version >/dev/null 2>&1; then
        rm -rf "${cache:?}/$v"
        "$python" -m venv "$cache/$v"
    fi
    ln -s "$cache/$v" "$work/.venv"
    (
        cd "$work"
        env -u VIRTUAL_ENV -u CONDA_PREFIX bash scripts/setup.sh --dev
        .venv/bin/mdlnas --version
        .venv/bin/mdlnas search --data wine --epochs 3 --train-epochs 5 --out "$work/run" \
            --quiet --no-plots
        test -s "$work/run/eval.json"
        .venv/bin/python -m pytest -q -x -p no:cacheprovider -m "not slow"
    )
    rm -rf "$work"
}

checked=()
missing=()
for v in "${versions[@]}"; do
    if ! python=$(find_python "$v"); then
        missing+=("$v")
        continue
    fi
    echo "check_pythons: Python $v ($python)" >&2
    start=$SECONDS
    # called plainly, not under `if`: inside a condition bash ignores `set -e` in the whole
    # function, and a failed step in the middle would pass unnoticed
    trap 'echo "check_pythons: Python $v FAILED" >&2' ERR
    smoke "$v" "$python"
    trap - ERR
    echo "check_pythons: Python $v passed in $((SECONDS - start)) s" >&2
    checked+=("$v")
done
# a version this machine lacks is reported, not failed: CI proves what the machine can
echo "check_pythons: passed on ${checked[*]:-none}${missing:+; not on this machine: ${missing[*]}}" >&2
