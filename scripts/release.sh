#!/usr/bin/env bash
# Build the release artifacts on this Linux machine, the same way the forge
# workflow (.github/workflows/release.yml) does on a tag:
#
#   runpod-ssh-V-x86_64-pc-windows-gnu.zip      runpod-ssh.exe, README, licences
#   runpod-ssh-V-x86_64-unknown-linux-musl.tar.gz  static runpod-ssh, man page, README, licences
#   runpod-ssh.1                                 the man page
#   *.sha256, SHA256SUMS                         one sum per artifact
#   scoop/runpod-ssh.json, winget/manifests/…    manifests with this version and the zip's sum
#
# Usage: scripts/release.sh [--out DIR] [--only windows|musl] [--require-musl]
#   --out DIR       where to put them (default target/artifacts/VERSION)
#   --only T        build one target (CI's Wine smoke test needs only windows)
#   --require-musl  fail when the musl target cannot be added (the forge)
#   Extra artifacts (the forge's macOS builds) dropped into DIR before a
#   re-run with --sums-only get summed too.
#
# The musl binary is built when `rustup target add x86_64-unknown-linux-musl`
# succeeds; otherwise the script says so loudly and goes on. The Wine shim
# (ci/wine) is a test aid and is never packed: checked below.
set -euo pipefail
cd "$(dirname "$0")/.."

out= only= require_musl=0 sums_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --require-musl) require_musl=1; shift ;;
    --sums-only) sums_only=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "release.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

field() { sed -n "s/^$1 = \"\(.*\)\"$/\1/p" Cargo.toml | head -1; }
version=$(field version)
repository=$(field repository)
description=$(field description)
out=${out:-target/artifacts/$version}
mkdir -p "$out"
out=$(cd "$out" && pwd)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Reproducible archive timestamps: the commit's time.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
# zip stores local times: without this the zip (and the sum in the
# manifests) would depend on the machine's time zone.
export TZ=UTC
# Where cargo puts what it builds (a stale target/ must never be packed).
target_dir=${CARGO_TARGET_DIR:-target}
release_date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
profile=dist
docs=(README.md LICENSE-MIT LICENSE-APACHE)

say() { printf '==> %s\n' "$*"; }

stage() { # stage DIR FILE... : copy with fixed modes and mtimes (the
  # umask must not reach the archives: a 0700 binary runs for root only)
  local dir=$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$@" "$dir/"
  chmod 0644 "$dir"/*
  for f in "$dir/runpod-ssh" "$dir/runpod-ssh.exe"; do
    [ ! -e "$f" ] || chmod 0755 "$f"
  done
  touch -d "@$SOURCE_DATE_EPOCH" "$dir"/*
}

no_shim() { # the Wine test shim must never ship
  if "$@" | grep -qi 'bcryptprimitives\|\.dll'; then
    echo "release.sh: a DLL (the Wine test shim?) ended up in an archive" >&2
    exit 1
  fi
}

man_page() { # the man page from a binary that runs here
  if [ -x "$out/.stage-musl/runpod-ssh" ]; then
    "$out/.stage-musl/runpod-ssh" man
  else
    cargo run --locked --quiet --bin runpod-ssh -- man
  fi
}

build_windows() {
  local t=x86_64-pc-windows-gnu
  say "$t"
  rm -f "$out/runpod-ssh-$version-$t.zip" "$out/runpod-ssh-$version-$t.zip.sha256"
  rustup target add "$t" >/dev/null
  command -v x86_64-w64-mingw32-gcc >/dev/null || {
    echo "release.sh: x86_64-w64-mingw32-gcc missing (apt-get install gcc-mingw-w64-x86-64)" >&2; exit 1; }
  cargo build --locked --profile "$profile" --target "$t" --bin runpod-ssh
  local s="$out/.stage-windows"
  stage "$s" "$target_dir/$t/$profile/runpod-ssh.exe" "${docs[@]}"
  local zip="$out/runpod-ssh-$version-$t.zip"
  rm -f "$zip"
  (cd "$s" && zip -q -X -9 "$zip" runpod-ssh.exe "${docs[@]}")
  no_shim unzip -Z1 "$zip"
}

musl_built=0
build_musl() {
  local t=x86_64-unknown-linux-musl
  say "$t"
  # An earlier run's archive must not pass for this one's if this fails.
  rm -f "$out/runpod-ssh-$version-$t.tar.gz" "$out/runpod-ssh-$version-$t.tar.gz.sha256"
  local why
  if ! why=$(rustup target add "$t" 2>&1); then
    echo "########################################################################"
    echo "# musl: NOT BUILT. rustup could not add $t:"
    printf '#   %s\n' "$why" | tail -3
    echo "########################################################################"
    [ "$require_musl" = 0 ] || exit 1
    return 0
  fi
  cargo build --locked --profile "$profile" --target "$t" --bin runpod-ssh
  local bin="$target_dir/$t/$profile/runpod-ssh"
  # Static means no program interpreter (no dynamic loader needed).
  if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
    echo "release.sh: $bin is not static" >&2; exit 1
  fi
  local s="$out/.stage-musl"
  stage "$s" "$bin" "${docs[@]}"
  "$s/runpod-ssh" man > "$s/runpod-ssh.1"
  chmod 0644 "$s/runpod-ssh.1"
  touch -d "@$SOURCE_DATE_EPOCH" "$s/runpod-ssh.1"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$s" -czf "$out/runpod-ssh-$version-$t.tar.gz" runpod-ssh runpod-ssh.1 "${docs[@]}"
  no_shim tar -tzf "$out/runpod-ssh-$version-$t.tar.gz"
  musl_built=1
}

if [ "$sums_only" = 0 ]; then
  case $only in
    ''|windows|musl) ;;
    *) echo "release.sh: --only takes windows or musl" >&2; exit 2 ;;
  esac
  [ "$only" = windows ] || build_musl
  [ "$only" = musl ] || build_windows
  # The man page needs a binary that runs here: the musl one, else a host
  # build (skipped for --only windows, which CI uses for the Wine test).
  if [ "$musl_built" = 1 ] || [ "$only" != windows ]; then
    say "man page"
    man_page > "$out/runpod-ssh.1"
  fi
fi

say "sums"
(
  cd "$out"
  rm -f SHA256SUMS ./*.sha256
  for f in *.zip *.tar.gz runpod-ssh.1; do
    [ -f "$f" ] || continue
    sha256sum "$f" > "$f.sha256"
    cat "$f.sha256" >> SHA256SUMS
  done
)

zip_name="runpod-ssh-$version-x86_64-pc-windows-gnu.zip"
if [ -f "$out/$zip_name" ]; then
  say "Scoop and winget manifests"
  sum=$(cut -d' ' -f1 "$out/$zip_name.sha256")
  fill() { # fill TEMPLATE OUTPUT
    mkdir -p "$(dirname "$2")"
    sed -e "s|@VERSION@|$version|g" -e "s|@REPOSITORY@|$repository|g" \
        -e "s|@DESCRIPTION@|$description|g" -e "s|@RELEASE_DATE@|$release_date|g" \
        -e "s|@SHA256_WINDOWS_ZIP@|$sum|g" -e "s|@SHA256_WINDOWS_ZIP_UPPER@|${sum^^}|g" "$1" > "$2"
    if grep -q '@[A-Z_0-9]*@' "$2"; then
      echo "release.sh: unfilled placeholder in $2" >&2; exit 1
    fi
  }
  fill packaging/scoop/runpod-ssh.json.in "$out/scoop/runpod-ssh.json"
  w="$out/winget/manifests/r/RunpodSsh/RunpodSsh/$version"
  for f in packaging/winget/*.yaml.in; do
    b=$(basename "$f" .in)
    fill "$f" "$w/$b"
  done
fi

rm -rf "$out/.stage-windows" "$out/.stage-musl"
say "runpod-ssh $version (commit $commit) in ${out#"$PWD"/}"
(cd "$out" && find . -type f ! -path './.*' | sort | while read -r f; do
  printf '  %10s  %s\n' "$(stat -c %s "$f")" "${f#./}"
done)
echo "SHA256SUMS:"
sed 's/^/  /' "$out/SHA256SUMS"
