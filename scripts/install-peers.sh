#!/usr/bin/env bash
# Installs cleave's test and benchmark peers, each only when missing:
#   - ONNX Runtime for node: npm package onnxruntime-node, at the version
#     pinned in tools/package.json (+ package-lock.json), into
#     tools/node_modules (gitignored). Needs node and npm (Debian's nodejs and
#     npm packages are installed when absent). Used by tests/test_ort_peer.c
#     and bench/engine/run.sh through scripts/ort_run.js.
#   - with --torch (or CLEAVE_PEERS_TORCH=1): Debian's python3-torch for
#     /usr/bin/python3, the PyTorch column of bench/engine/run.sh. Tests do
#     not need it.
# darknet (libdarknet.so) is a build dependency: scripts/install-deps.sh.
# Idempotent; prints what it did. Needs root for apt-get (npm does not).
set -euo pipefail
cd "$(dirname "$0")/.."

want_torch=${CLEAVE_PEERS_TORCH:-0}
for a in "$@"; do
  case "$a" in
    --torch) want_torch=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install-peers: unknown option '$a'" >&2; exit 2 ;;
  esac
done

apt_install() {
  local sudo=
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then sudo=sudo; else
      echo "install-peers: need root to apt-get install $*" >&2; return 1
    fi
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" ||
    { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "$@"; }
}

# ---- ONNX Runtime (onnxruntime-node) --------------------------------------
ort_version=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' tools/package.json)
have_ort() {
  [ -f tools/node_modules/onnxruntime-node/package.json ] &&
    grep -q "\"version\": *\"$ort_version\"" tools/node_modules/onnxruntime-node/package.json &&
    (cd tools && node -e "require('onnxruntime-node')" >/dev/null 2>&1)
}
if have_ort; then
  echo "install-peers: onnxruntime-node $ort_version present in tools/node_modules"
else
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "install-peers: installing Debian's nodejs and npm"
    apt_install nodejs npm
  fi
  echo "install-peers: npm installing onnxruntime-node $ort_version into tools/node_modules"
  # The package bundles the CPU libonnxruntime; its postinstall step only
  # fetches optional CUDA files, which cleave does not use: skip it.
  (cd tools &&
    ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
      npm ci --no-audit --no-fund --loglevel=error ||
    ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
      npm install --no-audit --no-fund --loglevel=error)
  have_ort || { echo "install-peers: onnxruntime-node does not load after npm install" >&2; exit 1; }
  echo "install-peers: onnxruntime-node $ort_version installed"
fi

# ---- PyTorch (Debian python3-torch) ---------------------------------------
if [ "$want_torch" = 1 ]; then
  if /usr/bin/python3 -c 'import torch, onnx' >/dev/null 2>&1; then
    echo "install-peers: python3-torch present ($(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
  else
    echo "install-peers: installing Debian's python3-torch and python3-onnx"
    apt_install python3-torch python3-onnx
  fi
fi
