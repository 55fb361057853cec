#!/usr/bin/env bash
# fix_diff.sh on large generated configs: ones whose diff is built from the
# kept lines (fsio::unified_diff_anchored: the bench file's trailing
# comments, CRLF, no final newline, glued comments) and ones where it falls
# back to similar (a repaired text already in the file; a frequent line
# between two repaired ones, which similar discards as confusing).
#   bash bench/fix_diff_large.sh BASE_BIN NEW_BIN BENCH_CONF
set -euo pipefail
base=$1 new=$2 bench=$3
d=$(mktemp -d /tmp/fixdiff-large-XXXX); trap 'rm -rf "$d"' EXIT
python3 - "$bench" "$d" <<'PY'
import sys
src, d = open(sys.argv[1]).read(), sys.argv[2]
open(f'{d}/crlf10k.conf', 'w', newline='').write(src.replace('\n', '\r\n'))
open(f'{d}/nofinal10k.conf', 'w').write(src.rstrip('\n'))
L = []
for i in range(3000):
    L += [f"Host h{i}", f"    HostName 10.0.{i//250}.{i%250}",
          "    User root   # u" if i % 5 else "    User root", f"    Port {20000+i}"]
open(f'{d}/repeated3k.conf', 'w').write('\n'.join(L) + '\n')
L = []
for i in range(3000):
    L += [f"Host d{i}", f"    Port {20000+i}   # p{i}", "    User=root",
          f"    HostName 10.1.{i//250}.{i%250}   # h{i}"]
open(f'{d}/confusing3k.conf', 'w').write('\n'.join(L) + '\n')
L = []
for i in range(4000):
    L += [f"Host e{i}", f"    HostName 10.2.{i//250}.{i%250}",
          f"    Port {20000+i}# glued" if i % 97 == 0 else f"    Port {20000+i}"]
    if i % 3 == 0:
        L.append(f"    LocalForward {30000+i} localhost:8888   # j{i}")
open(f'{d}/glued4k.conf', 'w').write('\n'.join(L) + '\n')
PY
FIX_DIFF_EXTRA_ONLY=1 bash "$(dirname "$0")/fix_diff.sh" "$base" "$new" "$bench" "$d"/*.conf
