#!/usr/bin/env bash
# Side-by-side benchmark of config parsing on a generated config of 10,000
# Host blocks (~61k lines): runpod-ssh vs npm `ssh-config` 5.3.0 (the parser
# VS Code Remote-SSH uses) vs paramiko's SSHConfig, in one run, same file,
# same host. Each tool times itself in-process (median of repeated runs), so
# interpreter start-up is not counted against the others.
#
# Then whole processes: `show`, `list --all`, `add`, `remove` and
# `fix --dry-run` of the release binary beside `ssh -G` on the same
# 10,000- and 100,000-block files, interleaved in one run, with ratios
# (bench/whole_process.py; CPU time from wait4, so a loaded machine
# weighs on both sides alike). Runs in a private mount namespace whose
# password database names a temp dir as home: nothing touches ~/.ssh.
#
#   bash bench/config.sh                 # everything
#   bash bench/config.sh whole [ROUNDS]  # only the whole-process timings
#   BENCH_ONLY="add,remove" BENCH_SKIP_100K=1 bash bench/config.sh whole 3
#                                        # only those commands, 10,000 blocks
#
# Prints one JSON line per tool, then the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
host=runpod-9999

ours=$(BENCH_CONFIG_OUT="$work/bench.conf" BENCH_CONFIG_100K_OUT="$work/bench100k.conf" \
  cargo bench --quiet --bench config 2>/dev/null | tail -1)

whole() {
  cargo build --release --quiet
  local bin rounds=${1:-7}
  bin=$(pwd)/target/release/runpod-ssh
  local configs=("$work/bench.conf")
  [ -n "${BENCH_SKIP_100K:-}" ] || configs+=("$work/bench100k.conf")
  mkdir -p "$work/home/.ssh" && chmod 700 "$work/home"
  # The same isolation as the tests' TempHome (tests/common/mod.rs).
  unshare -m sh -c 'awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" '"'"'$3==u{$6=h}1'"'"' /etc/passwd > "$1/.passwd" && mount --bind "$1/.passwd" /etc/passwd && shift && exec "$@"' \
    sh "$work/home" env HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" \
    python3 bench/whole_process.py "$bin" "$rounds" "${configs[@]}"
}
if [ "${1:-}" = whole ]; then
  whole "${2:-7}"
  exit 0
fi
echo "$ours"

npm_json='{}'
if command -v npm >/dev/null && npm install --silent --prefix "$work/npm" ssh-config@5.3.0 >/dev/null 2>&1; then
  npm_json=$(NODE_PATH="$work/npm/node_modules" node bench/ssh_config_npm.js "$work/bench.conf" "$host")
  echo "$npm_json"
else
  echo "npm ssh-config: could not be installed; skipped" >&2
fi

py_json='{}'
if python3 -m pip install --quiet --disable-pip-version-check --target "$work/py" paramiko >/dev/null 2>&1; then
  py_json=$(PYTHONPATH="$work/py" python3 bench/paramiko_lookup.py "$work/bench.conf" "$host")
  echo "$py_json"
else
  echo "paramiko: could not be installed; skipped" >&2
fi

python3 - "$ours" "$npm_json" "$py_json" <<'PY'
import json, sys
ours, npm, py = (json.loads(a) for a in sys.argv[1:])
print(f"\nconfig: {ours['lines']} lines, 10,000 Host blocks")
print(f"runpod-ssh parse+emit   {ours['parse_emit_ms']:8.2f} ms  (target < 20 ms)")
print(f"runpod-ssh resolve      {ours['resolve_ms']:8.2f} ms")
print(f"runpod-ssh parse+resolve{ours['parse_resolve_ms']:8.2f} ms")
def ratio(name, theirs, mine, what):
    if theirs is not None:
        print(f"{name:<28} {what:<15} {theirs:9.2f} ms  = {theirs / mine:6.1f}x runpod-ssh")
if npm:
    ratio("ssh-config (npm) " + npm.get("version", ""), npm["parse_emit_ms"], ours["parse_emit_ms"], "parse+stringify")
    ratio("ssh-config (npm)", npm["resolve_ms"], ours["resolve_ms"], "compute")
    ratio("ssh-config (npm)", npm["parse_resolve_ms"], ours["parse_resolve_ms"], "parse+compute")
if py:
    ratio("paramiko " + py.get("version", ""), py["parse_ms"], ours["parse_emit_ms"], "parse")
    ratio("paramiko", py["resolve_ms"], ours["resolve_ms"], "lookup")
    ratio("paramiko", py["parse_resolve_ms"], ours["parse_resolve_ms"], "parse+lookup")
for other in (npm, py):
    if other and other.get("hostname") != "10.0.39.15":
        print(f"WARNING: {other['tool']} resolved hostname {other.get('hostname')!r}")
PY

whole 7
