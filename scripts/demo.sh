#!/usr/bin/env bash
# One command on a fresh Debian 12 machine: install what is missing, build,
# and run cleave's main job on its built-in defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec ./build/cleave demo "$@"
