#!/usr/bin/env bash
# Build the Wine test shim (bcryptprimitives.dll, see bcryptprimitives.c)
# into DIR (default: target/wine) and print its path. Rebuilt only when the
# source is newer. Needs x86_64-w64-mingw32-gcc (gcc-mingw-w64-x86-64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../target/wine}
mkdir -p "$out"
dll=$(cd "$out" && pwd)/bcryptprimitives.dll
if [ ! -f "$dll" ] || [ "$here/bcryptprimitives.c" -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$dll" "$here/bcryptprimitives.c" -ladvapi32
fi
echo "$dll"
