#!/usr/bin/env bash
# smoke.sh ZIP: the Windows release zip, unpacked and run under Wine.
#   1. the zip holds runpod-ssh.exe and the README, and no DLL (the shim
#      below is a test aid and must never ship);
#   2. runpod-ssh.exe --version names this version and commit;
#   3. add --dry-run on a pasted RunPod command prints the entry it would
#      write and writes nothing;
#   4. fix --dry-run on a fixture (fixtures/fix/trailing-comment) finds the
#      trailing comments, shows the repair, leaves the file byte-identical.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
zip=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

fail() { echo "wine smoke: FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
# Stop this prefix's wineserver before its folder goes (it saves the
# registry on exit).
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver)
trap 'WINEPREFIX="$work/prefix" "$wineserver" -k 2>/dev/null; WINEPREFIX="$work/prefix" "$wineserver" -w 2>/dev/null; rm -rf "$work"' EXIT

listing=$(unzip -Z1 "$zip")
grep -qx 'runpod-ssh.exe' <<<"$listing" || fail "no runpod-ssh.exe in the zip"
grep -qx 'README.md' <<<"$listing" || fail "no README.md in the zip"
! grep -qi '\.dll$' <<<"$listing" || fail "a DLL is in the zip: $listing"
unzip -q "$zip" -d "$work/app"

# A private prefix per run: Wine's first start takes some seconds and
# must not see ~/.wine. Wine maps / to Z:, so Z:$path is a Linux path.
export WINEPREFIX="$work/prefix"
run() { "$here/wine-run" "$work/app/runpod-ssh.exe" "$@"; }
winpath() { printf 'Z:%s' "${1//\//\\}"; }

out=$(run --version | tr -d '\r')
echo "  --version: $out"
[ "$out" = "runpod-ssh $version (commit $commit)" ] || fail "--version said: $out"

mkdir -p "$work/cfg"
cp "$root/fixtures/fix/trailing-comment/broken.conf" "$work/cfg/config"
before=$(sha256sum < "$work/cfg/config")

out=$(run add --dry-run --no-vscode --config "$(winpath "$work/cfg/config")" \
  'ssh root@203.0.113.7 -p 40124 -i ~/.ssh/id_ed25519' | tr -d '\r')
echo "$out" | sed 's/^/  add: /'
grep -q '^+Host runpod-203-0-113-7-40124' <<<"$out" || fail "add --dry-run showed no new entry"
grep -Eq '^\+ +Port 40124$' <<<"$out" || fail "add --dry-run showed no Port line"

set +e
out=$(run fix --dry-run --config "$(winpath "$work/cfg/config")" | tr -d '\r')
code=$?
set -e
echo "$out" | sed 's/^/  fix: /'
[ "$code" = 1 ] || fail "fix --dry-run exit status $code, want 1 (repairs pending)"
grep -q '^+# my 4090' <<<"$out" || fail "fix --dry-run did not move the trailing comment"

[ "$(sha256sum < "$work/cfg/config")" = "$before" ] || fail "a --dry-run changed the config"
# (runpod-ssh's lock file beside the config may remain; nothing else.)
left=$(ls -A "$work/cfg" | grep -vx -e config -e .runpod-ssh.lock || true)
[ -z "$left" ] || fail "a --dry-run left files: $left"
echo "wine smoke: OK ($(basename "$zip"))"
