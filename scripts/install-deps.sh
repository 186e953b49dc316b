#!/usr/bin/env bash
# Installs, from Debian's archive, every package cleave needs to build and to
# test, skipping those already present. Run as root (or with sudo on PATH).
#   --aarch64  the cross-build instead: gcc-aarch64-linux-gnu,
#              qemu-user-static and the arm64 libraries (adds the arm64
#              architecture to dpkg first); scripts/test-aarch64.sh
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libcjson-dev libopenblas-dev libzstd-dev libglpk-dev libssl-dev
  libigraph-dev python3-networkx libstb-dev zlib1g-dev liblz4-dev
  dataset-fashion-mnist
  clang libclang-rt-14-dev
  python3 python3-onnx python3-numpy
  darknet libonnx-testdata
)

AARCH64_PACKAGES=(
  gcc-aarch64-linux-gnu qemu-user-static file
  libc6-dev:arm64 libopenblas-dev:arm64 libprotobuf-c-dev:arm64
  libcjson-dev:arm64 libglpk-dev:arm64 libssl-dev:arm64
  libzstd-dev:arm64 libstb-dev:arm64 zlib1g-dev:arm64
)

aarch64=0
for a in "$@"; do
  case "$a" in
    --aarch64) aarch64=1 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$a'" >&2; exit 2 ;;
  esac
done
if [ "$aarch64" = 1 ]; then
  PACKAGES=("${AARCH64_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "$aarch64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
