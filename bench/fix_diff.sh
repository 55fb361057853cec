#!/usr/bin/env bash
# Differential test of `fix --dry-run` and `fix`: a base binary against a
# new one, on every file under fixtures/ (with its folder copied beside it,
# so Includes resolve), a few hand-made configs and any extra files given.
# Each run has a fresh private home (same path both sides) in a private
# mount namespace (ISOLATE.md); stdout, stderr, exit code and the files
# left in the home (backups by content, not name) must be identical.
#   bash bench/fix_diff.sh BASE_BIN NEW_BIN [EXTRA_CONFIG...]
set -uo pipefail
base=$1 new=$2; shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/fixdiff-XXXX); trap 'rm -rf "$work"' EXIT
H=$work/home
iso() { unshare -m -- sh -c 't="$1/.isolate.$$" && mkdir -p "$t" && mount -t tmpfs none "$t" && mkdir "$t/u" "$t/w" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/u,workdir=$t/w" /etc && awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" "\$3==u{\$6=h}1" /etc/passwd > "$t/p" && cat "$t/p" > /etc/passwd && shift && exec "$@"' sh "$work" env HOME="$H" XDG_CONFIG_HOME="$H/.config" NO_COLOR=1 "$@"; }
hand=$work/hand; mkdir -p "$hand"
printf 'Host *\n    User nobody\nHost gpu\n    HostName 203.0.113.7\n    Port 40123   # the port\n' > "$hand/star-first.conf"
printf 'Host gpu\n    HostName 203.0.113.7\n    Port 40123# glued\n    User root\n' > "$hand/glued.conf"
printf 'Host runpod-a\n    HostName 203.0.113.7\n    Port 40123\n    User root\n    IdentityFile ~/.ssh/id_ed25519\nHost runpod-a\n    HostName 203.0.113.8\n    Port 40124\n' > "$hand/dup-runpod.conf"
printf 'CanonicalizeHostname yes\nCanonicalDomains example.com\nHost !bad *.example.com gpu\n    User u # c\nMatch host gpu user root\n    Port 2222\nInclude ~/.ssh/nothere/*\nHost gpu\n    UseKeychain yes\n' > "$hand/canon-match.conf"
printf 'Host a\r\n    Port 22 # crlf\r\n    HostName x\r\n' > "$hand/crlf.conf"
printf '\xef\xbb\xbfHost a\n    Port 22 # bom\n' > "$hand/bom.conf"
printf 'Host a\n    Port 22 # u16\n' | iconv -t UTF-16 > "$hand/utf16.conf"
printf 'Host a\n    Port\n    Bogus yes\n    HostName "unterminated\n    IdentityFile ~/.ssh/k.pub\n' > "$hand/broken.conf"
# Review 9c: grouped entries (one message from two files; the same words
# on a removable duplicate and on one left for the user).
printf 'Include inc/grp.conf\nHost a\n  Bogus 1\n  Other 1\n' > "$hand/grp-files.conf"; mkdir -p "$hand/inc"; printf 'Host b\n  Bogus 2\n' > "$hand/inc/grp.conf"
printf 'Host runpod-a\n  HostName 1.2.3.4\nHost runpod-a\n  HostName 1.2.3.5\nHost runpod-a other\n  User x\nHost gpu\n  Port 2\nHost gpu\n  Port 3\n' > "$hand/dup-mixed.conf"
mapfile -t files < <(find "$root/fixtures" -type f | sort)
# FIX_DIFF_EXTRA_ONLY=1: only the configs given (bench/fix_diff_large.sh).
if [ -n "${FIX_DIFF_EXTRA_ONLY:-}" ]; then files=(); rm -rf "$hand"/*; fi
shopt -s nullglob
n=0 bad=0
run() { # bin cfgsrc tag args...
  local bin=$1 src=$2 tag=$3; shift 3
  rm -rf "$H"; mkdir -p -m 700 "$H/.ssh"
  cp -r "$(dirname "$src")/." "$H/.ssh/" 2>/dev/null
  cp "$src" "$H/.ssh/config"; chmod 600 "$H/.ssh/config"
  iso "$bin" --config "$H/.ssh/config" fix "$@" > "$work/$tag.out" 2> "$work/$tag.err"
  echo $? > "$work/$tag.rc"
  (cd "$H" && find . -type f ! -name '.runpod-ssh.lock' -exec sha256sum {} + | sed -E 's#\./[^ ]*backup[^ ]*#BACKUP#; s#[0-9]{8}[-T]?[0-9]{6}[^ /]*#TS#g' | sort) > "$work/$tag.files"
  sed -E -i 's#[0-9]{8}[-T]?[0-9]{6}[^ /)]*#TS#g; s#[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+Z?#TS#g' "$work/$tag.out" "$work/$tag.err"
}
for f in "${files[@]}" "$hand"/* "$@"; do
  [ -f "$f" ] || continue
  src=$(realpath "$f")
  for mode in "--dry-run" "" "--yes" "--dry-run --yes"; do
    run "$base" "$src" a $mode; run "$new" "$src" b $mode
    n=$((n+1))
    for x in out err rc files; do
      if ! cmp -s "$work/a.$x" "$work/b.$x"; then
        bad=$((bad+1)); echo "DIFF $f fix $mode ($x)"; diff "$work/a.$x" "$work/b.$x" | head -5
      fi
    done
  done
done
echo "compared $n runs (fix --dry-run, fix, fix --yes and fix --dry-run --yes on ${#files[@]} fixtures + hand-made + extra), $bad differences"
[ "$bad" = 0 ]
