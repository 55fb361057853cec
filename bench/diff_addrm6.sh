#!/usr/bin/env bash
# Wave 6: `add` and `remove` decide "`runpod-ssh fix` repairs the lines"
# per line when every line OpenSSH 7.7 refuses is a comment after a value
# (refusal::line_repair), else by the full run of fix's rules. This makes
# configs that take that fast path and configs that fall back from it, and
# runs bench/diff_addrm.sh (BASE against NEW) on them, plus any CONFIG given.
#
#   bash bench/diff_addrm6.sh BASE NEW [CONFIG...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/addrm6-cfg-XXXX)
trap 'rm -rf "$d"' EXIT
body() { # the blocks diff_addrm.sh's commands name; $1: a line added to each RunPod block
  printf 'Host prod\n    HostName 198.51.100.1\n    User deploy\n\n'
  for n in 1 2 3 4 5; do
    printf 'Host runpod-%s pod-%s.alias\n    HostName 10.0.0.%s\n    Port 2000%s\n    User root\n%s\n' "$n" "$n" "$n" "$n" "$1"
  done
  printf 'Host runpod-5000\n    HostName 10.0.19.136\n    Port 25000\n    User root\n%s\n' "$1"
  printf 'Host gpu\n    HostName 10.0.0.9\n    Port 20009\n    User root\n'
}
fwd='    LocalForward 30000 localhost:8888   # jupyter'
# Fast path: only trailing comments on plain keywords.
body "$fwd" > "$d/fast-forward.conf"
body "    ServerAliveInterval 30 # keep alive
    Compression yes	# tab before" > "$d/fast-mixed.conf"
{ printf 'Match all # every host\n    ForwardAgent no\n'; body "$fwd"; } > "$d/fast-match.conf"
{ body "$fwd"; printf 'Host *\n    ServerAliveInterval 30\n'; } > "$d/fast-hoststar.conf"
{ printf 'Host *\n    Compression yes # first\n'; body "$fwd"; } > "$d/fast-catchall-first.conf"
body "$fwd" | sed 's/$/\r/' > "$d/fast-crlf.conf"
# Falls back: a refused line the fast path does not decide.
body "$fwd" | sed 's/^Host runpod-3 pod-3.alias$/Host runpod-3 pod-3.alias # a comment on a Host line/' > "$d/back-host-comment.conf"
body "$fwd
    User 'root' # single quotes" > "$d/back-single-quote.conf"
body "    User 'root'" > "$d/back-unrepairable.conf"
body "$fwd
    IdentityFile ~/.ssh/id_ed25519 # the key" > "$d/back-path.conf"
body "    Port 22 # caf$(printf '\303\251')" > "$d/back-nonascii-comment.conf"
{ printf '# caf\351 in Latin-1\n'; body "$fwd"; } > "$d/back-latin1.conf"
{ printf '\357\273\277'; body "$fwd"; } > "$d/back-bom.conf"
body "$fwd
    Port 40123# glued" > "$d/back-glued.conf"
body "$fwd
    UseKeychain yes # apple" > "$d/back-apple.conf"
body "$fwd
    SetEnv A=1 # env" > "$d/back-setenv.conf"
{ printf 'Include extra.conf # the extra hosts\n'; body "$fwd"; } > "$d/back-include.conf"
mkdir -p "$d/back-include.ssh"; printf 'Host extra\n    Port 2222 # p\n' > "$d/back-include.ssh/extra.conf"
{ printf 'Include extra.conf\n'; body ""; } > "$d/incl-only.conf"
mkdir -p "$d/incl-only.ssh"; printf 'Host extra\n    Port 2222 # p\n' > "$d/incl-only.ssh/extra.conf"
body "" > "$d/clean.conf"
bash "$here/diff_addrm.sh" "$1" "$2" "$d"/*.conf "${@:3}"
