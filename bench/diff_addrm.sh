#!/usr/bin/env bash
# Differential test of `add` and `remove`: the binary of main before wave 5
# (BASE) against this branch's (NEW), each in a private mount namespace whose
# password database names the same temp home (ISOLATE.md), on a fresh copy of
# each config. Compares stdout, stderr, exit code, the config as written, the
# backups and known_hosts (cmp). Backup names carry a timestamp: normalized.
#
#   bash bench/diff_addrm.sh BASE NEW CONFIG...
# CONFIG may have a sibling NAME.ssh/ (copied into ~/.ssh, for Includes) or be
# a fixtures/fix/RULE/broken.conf (its home/ copied into the temp home).
set -u
base=$1 new=$2; shift 2
configs=("$@")
# A folder of its own per run (ADDRM_DIFF_DIR to choose it): two runs
# sharing one mixed each other's files and reported each other's output.
if [ -n "${ADDRM_DIFF_DIR:-}" ]; then W=$ADDRM_DIFF_DIR; else W=$(mktemp -d /tmp/addrm-diff-XXXX); trap 'rm -rf "$W"' EXIT; fi
H=$W/home
iso() { unshare -m -- sh -c 't="$1/.isolate.$$" && mkdir -p "$t" && mount -t tmpfs none "$t" && mkdir "$t/u" "$t/w" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/u,workdir=$t/w" /etc && awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" "\$3==u{\$6=h}1" /etc/passwd > "$t/p" && cat "$t/p" > /etc/passwd && shift && exec "$@"' sh "$H" env HOME="$H" XDG_CONFIG_HOME="$H/.config" NO_COLOR=1 "$@"; }
fresh() { # config
  rm -rf "$H"; mkdir -p -m 700 "$H/.ssh"
  local c=$1 d; d=$(dirname "$c")
  [ -d "${c%.conf}.ssh" ] && cp -r "${c%.conf}.ssh/." "$H/.ssh/"
  [ "$(basename "$c")" = broken.conf ] && [ -d "$d/home" ] && cp -r "$d/home/." "$H/"
  cp "$c" "$H/.ssh/config"
  printf '203.0.113.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n' >> "$H/.ssh/known_hosts"
}
snap() { # bin out args...
  local bin=$1 out=$2; shift 2
  iso "$bin" "$@" > "$out.stdout" 2> "$out.stderr"; echo $? > "$out.rc"
  sed -i -E 's/[0-9]{8}-[0-9]{6}\.[0-9]+/TS/g' "$out.stdout" "$out.stderr"
  (cd "$H" && find . -path ./.isolate.\* -prune -o -type f -print | sort | while read -r f; do
     echo "== $(echo "$f" | sed -E 's/[0-9]{8}-[0-9]{6}\.[0-9]+/TS/g')"; cat "$f"; done) > "$out.files" 2>/dev/null
}
fails=0 runs=0
while read -r name args; do
  [ -z "$name" ] && continue
  for c in "${configs[@]}"; do
    eval "argv=($args)"
    fresh "$c"; snap "$base" $W/a "${argv[@]}"
    fresh "$c"; snap "$new" $W/b "${argv[@]}"
    runs=$((runs+1))
    for k in stdout stderr rc files; do
      if ! cmp -s $W/a.$k $W/b.$k; then
        fails=$((fails+1)); echo "DIFF $k: $name on $c"; diff $W/a.$k $W/b.$k | head -5
      fi
    done
  done
done <<'CMDS'
add           add --no-vscode 'ssh root@203.0.113.5 -p 40022 -i ~/.ssh/id_ed25519'
add-dry       add --no-vscode --dry-run 'ssh root@203.0.113.6 -p 40023'
add-name      add --no-vscode --name gpu 'ssh root@203.0.113.7 -p 40024'
add-json      --json add --no-vscode 'ssh root@203.0.113.8 -p 40025'
add-reset     add --no-vscode --name gpu --reset-host-key
add-existing  add --no-vscode 'ssh root@10.0.0.3 -p 20003'
add-force     add --no-vscode --force --name prod 'ssh root@203.0.113.9 -p 40026'
rm-runpod     remove --no-vscode runpod-3
rm-force      remove --no-vscode --force runpod-5000
rm-dry        remove --no-vscode --dry-run --force runpod-2
rm-json       --json remove --no-vscode --force gpu
rm-multi      remove --no-vscode --force pod-1.alias
rm-missing    remove --no-vscode runpdo-4090
rm-prod       remove --no-vscode prod
CMDS
echo "runs: $runs, differences: $fails"
[ $fails = 0 ]
