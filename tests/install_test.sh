#!/usr/bin/env bash
# The installed library as a user gets it: `cmake --install` into a fresh
# prefix, then docs/example/split.c compiled with nothing but pkg-config's
# flags (strict warnings), against the shared library and against the
# static one, and run: it loads a model, plans a cut and runs both halves,
# and exits 0 only when the split output equals the whole one.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
prefix=$build/install-test
rm -rf "$prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pc=$(find "$prefix" -name cleave.pc)
[ -n "$pc" ] || { echo "no cleave.pc installed" >&2; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
libdir=$(pkg-config --variable=libdir cleave)
for h in engine error graph load net plan profile runtime; do
  [ -f "$(pkg-config --variable=includedir cleave)/cleave/$h.h" ] ||
    { echo "header cleave/$h.h not installed" >&2; exit 1; }
done
[ -x "$prefix/bin/cleave" ] || { echo "the cleave tool is not installed" >&2; exit 1; }
cc=${CC:-cc}
flags="-std=c11 -Wall -Wextra -pedantic -Werror"
# shared
$cc $flags "$src/docs/example/split.c" $(pkg-config --cflags --libs cleave) \
  -Wl,-rpath,"$libdir" -o "$prefix/split"
out=$("$prefix/split")
echo "$out"
grep -q "bit for bit" <<<"$out"
# ldd's whole output first: `ldd | grep -q` under pipefail fails whenever
# grep exits on its match before ldd has written its last line (SIGPIPE).
deps=$(ldd "$prefix/split")
grep -qF "libcleave.so.0 => $libdir/" <<<"$deps" ||
  { echo "split does not use the installed libcleave.so:" >&2; echo "$deps" >&2; exit 1; }
# static
$cc $flags "$src/docs/example/split.c" $(pkg-config --cflags cleave) \
  "$libdir/libcleave.a" $(pkg-config --static --libs cleave | sed 's/-lcleave//') \
  -o "$prefix/split-static"
"$prefix/split-static" >/dev/null
echo "install_test: shared and static programs built from the installed copy agree with the whole model"
