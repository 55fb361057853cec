#!/usr/bin/env bash
# Wave 7: `add` writes a new entry into the session's own document (UTF-8
# files: no copy of it), places it from the blocks find_entry listed, reads
# each block's endpoint in one pass, and proves the bytes it made once.
# Configs that take those paths (a new entry in a UTF-8 file: before a
# Host * or a Match, under attached comments, at the end, without a final
# newline) and that fall back (BOM, UTF-16, an existing entry, Match exec,
# a global override, odd HostName/Port lines, header spellings), then bench/diff_addrm.sh
# (BASE against NEW) on them, plus any CONFIG given.
#
#   bash bench/diff_addrm7.sh BASE NEW [CONFIG...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/addrm7-cfg-XXXX)
trap 'rm -rf "$d"' EXIT
body() { # the blocks diff_addrm.sh's commands name
  printf 'Host prod\n    HostName 198.51.100.1\n    User deploy\n\n'
  for n in 1 2 3 4 5; do
    printf '# runpod-ssh: managed entry\nHost runpod-%s pod-%s.alias\n    HostName 10.0.0.%s\n    Port 2000%s\n    User root\n\n' "$n" "$n" "$n" "$n"
  done
  printf 'Host runpod-5000\n    HostName 10.0.19.136\n    Port 25000\n    User root\n\n'
  printf 'Host gpu\n    HostName 10.0.0.9\n    Port 20009\n    User root\n'
}
body > "$d/plain.conf"
{ body; printf '\n# the defaults\n# (two lines)\nHost *\n    ServerAliveInterval 30\n'; } > "$d/star-attached.conf"
{ body; printf '\nMatch user root\n    Compression yes\n'; } > "$d/match-last.conf"
{ printf 'Match all\n    ForwardAgent no\n'; body; } > "$d/match-first.conf"
{ printf '# top\nHost 203.0.113.*\n    Compression yes\n'; body; } > "$d/pattern-first.conf"
{ body; printf 'Host last\n    Port 1'; } > "$d/no-final-newline.conf"
{ printf 'User admin\n'; body; } > "$d/global-override.conf"
{ printf 'IdentityFile ~/.ssh/other\n'; body; } > "$d/global-identity.conf"
{ printf 'Host *\n    Port 2222\n'; body; } > "$d/star-first-port.conf"
body | sed 's/^    HostName 10.0.0.3$/    hostname=10.0.0.3\n    HostName 203.0.113.5/' > "$d/hostname-twice.conf"
body | sed 's/^    Port 20003$/    PORT 20003\n    Port 40022/' > "$d/port-twice.conf"
body | sed 's/^    HostName 10.0.0.2$/    HostName 203.0.113.5\n    Port 40022/' > "$d/same-endpoint-runpod.conf"
{ printf 'Host mine\n    HostName 203.0.113.5\n    Port 40022\n\n'; body; } > "$d/same-endpoint-foreign.conf"
body | sed 's/^    HostName 10.0.0.4$/    HostName 203.0.113.5\n    Port 40022/; s/^Host runpod-4 pod-4.alias$/Host runpod-4/' > "$d/existing-by-endpoint.conf"
{ printf 'Match exec "true"\n    Compression yes\n'; body; } > "$d/match-exec.conf"
{ printf 'Include extra.conf\n'; body; } > "$d/include.conf"
mkdir -p "$d/include.ssh"; printf 'Host extra\n    Port 2222\n' > "$d/include.ssh/extra.conf"
{ printf '\357\273\277'; body; } > "$d/bom.conf"
body | iconv -f UTF-8 -t UTF-16LE | { printf '\377\376'; cat; } > "$d/utf16.conf"
body | sed 's/$/\r/' > "$d/crlf.conf"
body | sed 's/^    Port 20001$/    Port 20001 # comment/' > "$d/refused-77.conf"
: > "$d/empty.conf"
printf 'Host runpod-203-0-113-5-40022\n    HostName 10.9.9.9\n' > "$d/default-alias-taken.conf"
# Wave 8: `remove` finds the blocks naming the alias in one pass of its own
# (edit::host_blocks_naming): the alias in other spellings of the header,
# named by two blocks and by a Match, in the last block without a newline.
body | sed 's/^Host runpod-3 pod-3.alias$/HOST="runpod-3" pod-3.alias/; s/^Host gpu$/host=gpu/' > "$d/host-spellings.conf"
{ body; printf 'Match host runpod-3\n    Compression yes\nHost runpod-3\n    Port 1\nHost gpu'; } > "$d/named-twice.conf"
# Wave 9: OpenSSH 7.7's own problems found per line (a comment after a
# plain value decided from the bytes, words made only for the listed lines)
# and the after-write warning capped at 10 lines per file. Configs that
# take the shortcuts (many comments after plain values, one file and one
# included), and that fall back (quotes, `=`, backslashes, odd spaces, a
# BOM, 7.7 words on a Host line). Diff BASE with its listing capped
# (/tmp/w9add-tools/basecap) to see only the rest.
comments() { for n in $(seq 1 "$1"); do printf 'Host c%s\n    Port 2%s # port\n    LocalForward 3%s localhost:8888   # jupyter\n' "$n" "$n" "$n"; done; }
{ body; comments 30; } > "$d/comments-many.conf"
{ body; comments 5; } > "$d/comments-ten.conf"
{ printf 'Include inc.conf\n'; body; comments 12; } > "$d/comments-include.conf"
mkdir -p "$d/comments-include.ssh"; comments 14 > "$d/comments-include.ssh/inc.conf"
{ body; comments 12; printf 'Host q\n    User "root" # quoted\n    SendEnv A=B # eq\n    User=root # eq sep\n    IdentityFile C:\\\\id # bs\n    User ro\302\240ot # nbsp\n    HostName h#x # glued\nHost a b # two\n'; } > "$d/comments-fallback.conf"
{ printf '\357\273\277'; body; comments 11; } > "$d/comments-bom.conf"
bash "$here/diff_addrm.sh" "$1" "$2" "$d"/*.conf "${@:3}"
