#!/usr/bin/env bash
# Hostile configs for the wave-5 differential scripts (diff_addrm.sh,
# diff_list.sh, fix_diff.sh): Includes ssh reads only after a repair (BOM,
# non-ASCII space, UTF-16, glued comment, CRLF, lone CR) whose included file
# has `Match exec` (a `touch` that must never run: checked at the end),
# Include spelt every way (upper case, `=`, tab, quoted, in a Match block,
# unterminated), SendEnv `-` edge cases, Match host after HostName chains and
# CanonicalizeHostname, a duplicated RunPod entry, broken lines, tabs.
#   bash bench/diff_wave5_hostile.sh BASE NEW
# Against main 448a6a4 the fix runs differ on purpose where the included file
# has a refused line: polish9 names `runpod-ssh fix --config INCLUDED` there.
set -u
base=$1 new=$2
here=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/wave5-hostile-XXXX); A=$W/addrm; F=$W/fix; mkdir -p "$A" "$F"; trap 'rm -rf "$W"' EXIT
mark=$W/PWNED
RP='Host runpod-3\n    HostName 203.0.113.3\n    Port 40003\n    User root\n    IdentityFile ~/.ssh/id_ed25519\n'
EX="Match exec \"touch $mark\"\n  Port 9\nHost incd\n  Port 1#glued\n  User \"a b\" # c\n"
cfg() { # name include-file-text config-text: NAME.conf + NAME.ssh/ (addrm), NAME/x.conf + siblings (fix)
  printf "$3" > "$A/$1.conf"
  mkdir -p "$A/$1.ssh" "$F/$1"; printf "$2" > "$A/$1.ssh/i.conf"
  cp "$A/$1.conf" "$F/$1/x.conf"; cp "$A/$1.ssh/i.conf" "$F/$1/i.conf"
}
cfg bom "$EX" "\xef\xbb\xbfInclude ~/.ssh/i.conf\n$RP"
cfg nbsp "$EX" "Include\xc2\xa0~/.ssh/i.conf\n$RP"
cfg glued "$EX" "Host gpu\n  Port 22#Include\nInclude ~/.ssh/i.conf#x\n$RP"
cfg crlf "$EX" "Include ~/.ssh/i.conf\r\n$RP"
cfg lonecr "$EX" "Include ~/.ssh/i.conf\r$RP"
cfg upper "$EX" "INCLUDE ~/.ssh/i.conf\n$RP"
cfg eq "$EX" "Include=~/.ssh/i.conf\n$RP"
cfg tab "$EX" "\tinclude\t\"i.conf\"\n$RP"
cfg quoted "$EX" "Include \"~/.ssh/i.conf\" ~/.ssh/nothere\n$RP"
cfg inmatch "$EX" "${RP}Match all\n  Include i.conf\n"
cfg unterminated "$EX" "Include \"~/.ssh/i.conf\n$RP"
cfg execglued "" "Host gpu\n    Port 22#x\nMatch exec \"touch $mark\"#c\n    Port 3\n$RP"
cfg execeq "" "Host gpu\n    Port 22 # c\nMatch exec=\"touch $mark\"\n    Port 3\n$RP"
cfg sendenv "" "Host runpod-3 gpu\n    SendEnv -\n    SendEnv - LANG\n    SendEnv -*\n    SendEnv LC_* -LC_ALL\n    SendEnv \"\" -\"\"\nHost *\n    SendEnv -LANG\n    SendEnv LANG\n"
cfg canon "" "CanonicalizeHostname always\nCanonicalDomains example.com example.org\nCanonicalizeMaxDots 0\nHost gpu\n    HostName gpu2\nMatch host gpu2\n    Port 2\nMatch host gpu2.example.com\n    Port 3\nHost gpu2.example.com\n    HostName gpu\nMatch host gpu\n    User u\nMatch canonical host gpu\n    User canon\nMatch final host *.example.com\n    User fin\n$RP"
cfg chain "" "Host gpu\n    HostName %%h.x\nHost gpu.x\n    HostName %%h.y\nMatch host gpu.x\n    Port 2\nMatch host gpu.x.y\n    Port 3\nMatch originalhost gpu host gpu\n    User same\nHost *\n    HostName ignored\nMatch host ignored\n  Port 4\n$RP"
cfg case "" "Host gpu\n    HostName GPU.Example.COM\nMatch host gpu.example.com\n    Port 2\nMatch Host GPU.EXAMPLE.COM\n    User up\n$RP"
cfg dup "" "Host *\n    User nobody\n${RP}${RP}Host runpod-5000\n    HostName 203.0.113.50\n    Port 1\nHost gpu prod\n    HostName 10.0.0.3\n    Port 20003\n"
cfg broken "" "Host pod-1.alias runpod-2\n    HostName 203.0.113.2\n    Port 40002 # c\n    Bogus\n    User \"root\n$RP"
cfg tabs "" "Host gpu\tprod\n\tHostName\t10.0.0.3\n\tPort=20003\n  Port 1 #\n$RP"
printf "Include ~/.ssh/i.conf\n$RP" | iconv -t UTF-16 > "$A/u16.conf"; mkdir -p "$A/u16.ssh" "$F/u16"
printf "$EX" > "$A/u16.ssh/i.conf"; cp "$A/u16.conf" "$F/u16/x.conf"; cp "$A/u16.ssh/i.conf" "$F/u16/"
bad=0
nice -n 5 bash "$here/diff_addrm.sh" "$base" "$new" "$A"/*.conf || bad=1
nice -n 5 bash "$here/diff_list.sh" "$base" "$new" "$A"/*.conf | tail -20
# fix_diff.sh on these only (its fixtures/ run is separate).
sed -e 's#^mapfile -t files.*#files=()#' -e 's#"\$hand"/\* ##' "$here/fix_diff.sh" > "$W/fix_only.sh"
nice -n 5 bash "$W/fix_only.sh" "$base" "$new" "$F"/*/x.conf || bad=1
if [ -e "$mark" ]; then echo "A Match exec command RAN"; bad=1; fi
exit $bad
