#!/usr/bin/env bash
# bench/whole_addrm.sh BIN ROUNDS CONFIG... : bench/whole_process.py as bench/config.sh runs it (absolute paths; the 10k/100k configs: BENCH_CONFIG_OUT=… cargo bench --bench config, as bench/config.sh makes them)
set -e
bin=$1; rounds=$2; shift 2
work=$(mktemp -d /tmp/whole-addrm-XXXX); mkdir -p "$work/home/.ssh"; chmod 700 "$work/home"; trap 'rm -rf "$work"' EXIT
cd "$(dirname "$0")/.."
BENCH_ONLY="${BENCH_ONLY:-add,remove}" unshare -m sh -c 'awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" '"'"'$3==u{$6=h}1'"'"' /etc/passwd > "$1/.passwd" && mount --bind "$1/.passwd" /etc/passwd && shift && exec "$@"' \
    sh "$work/home" env HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" \
    python3 bench/whole_process.py "$bin" "$rounds" "$@"
