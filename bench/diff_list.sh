#!/usr/bin/env bash
# Differential test of `list` / `list --all` / `--json`: the binary of main
# before wave 5 (BASE) against this branch's (NEW), each in a private mount
# namespace whose password database names a fresh temp home, on fresh
# copies of each config. Compares stdout, stderr, exit code and the config
# file afterwards. Prints one line per difference and a count.
#   bash bench/diff_list.sh BASE NEW [CONFIG...]
set -uo pipefail
base=$1 new=$2; shift 2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
iso() { # HOME cmd...
  local H=$1; shift
  unshare -m -- sh -c 't="$1/.isolate.$$" && mkdir -p "$t" && mount -t tmpfs none "$t" && mkdir "$t/u" "$t/w" && mount -t overlay overlay -o "lowerdir=/etc,upperdir=$t/u,workdir=$t/w" /etc && awk -F: -v OFS=: -v u="$(id -u)" -v h="$1" "\$3==u{\$6=h}1" /etc/passwd > "$t/p" && cat "$t/p" > /etc/passwd && shift && exec "$@"' sh "$H" env HOME="$H" XDG_CONFIG_HOME="$H/.config" NO_COLOR=1 "$@"
}
# Crafted configs beside the ones given.
c=$work/crafted; mkdir -p "$c/inc"
printf 'Host runpod-1 gpu\n    HostName 203.0.113.7\n    Port 40123\n    User root\n    IdentityFile ~/.ssh/id_ed25519\nHost *\n    User fallback\n' > "$c/plain"
printf 'Host a b !c\n  HostName %%h.example\nMatch host a.example user root\n  Port 2222\nMatch originalhost b\n  User bee\nHost c\n  Port 3\nHost *\n  IdentitiesOnly yes\n' > "$c/match"
printf 'Include %s/inc/*.conf\nHost top\n  Port 1\n' "$c" > "$c/include"
printf 'Host inc1\n  HostName 10.0.0.1\n' > "$c/inc/1.conf"; printf 'Host inc2 inc1\n  User two\n' > "$c/inc/2.conf"
printf 'CanonicalizeHostname yes\nCanonicalDomains example.com\nHost canon\n  HostName canon\nHost canon.example.com\n  Port 99\n' > "$c/canon"
printf 'Host glued#comment\n  Port 22#c\nHost ok\n  Port 5\n' > "$c/glued"
printf 'Host crlf\r\n  Port 7\r\n' > "$c/crlf"
printf '\xef\xbb\xbfHost bom\n  Port 8\n' > "$c/bom"
printf 'Host u16\n  Port 9\n' | iconv -t UTF-16LE | { printf '\xff\xfe'; cat; } > "$c/utf16"
printf 'Host runpod-2\n  HostName 203.0.113.8\n  Port 1\nHost runpod-2\n  HostName 203.0.113.9\n  Port 2\n' > "$c/dup"
printf 'Host broken\n  Port abc\n  Bogus yes\n' > "$c/broken"
printf 'Host x y\n  SendEnv LANG LC_*\n  SendEnv -LC_*\n  ProxyJump j\n  ProxyCommand nc %%h %%p\nHost *\n  SendEnv -LANG\n' > "$c/sendenv"
printf 'Match exec true\n  Port 1\nHost e\n  Port 2\n' > "$c/exec"
printf 'Host neg !neg2 neg2\n  Port 3\nHost *.wild\n  Port 4\nHost "quoted host" plain\n  User q\n' > "$c/neg"
printf 'Host esc\x1b[31m\n  Port 5\n' > "$c/esc"
: > "$c/empty"
# Wave 6 (list6): cells escape leaves alone or not (NBSP, C1, bidi, wide
# and combining characters), the values-only evaluation (duplicated and
# %h HostNames, Match user after User, IgnoreUnknown, Match final and
# CanonicalizeHostname falling back to the whole evaluation), keywords in
# any case, lines with more than two arguments, markers and "runpod" in
# any case, a non-UTF-8 comment above a header.
printf 'Host wide\xe6\xbc\xa2 \xc3\xbcber RunPod-X\n  HostName \xc3\xbc.example\n  User a\xc2\xa0b\n  IdentityFile ~/k\xc2\x85e\xcc\x81\nHost bidi\xe2\x80\xae\n  User \xe3\x80\x80\n' > "$c/wide"
printf 'Host h1 h2 h3 h4 h5\n  HOSTNAME %%h.x\n  hostname second\n  IdentityFile a\n  IdentityFile a\n  IdentityFile b c\n  identityfile "q r"\nMatch user root\n  Port 4\nHost h2\n  User root\nMatch user root host h2.x\n  Port 5\nHost *\n  Port 6\n  User other\n' > "$c/values"
printf 'IgnoreUnknown Foo*\nHost ig\n  FooBar 1\n  Port 7\nHost fin\n  Port 8\nMatch final host fin\n  User finale\nHost cz\n  CanonicalizeHostname yes\n  HostName cz.example\n' > "$c/final"
# Refusals only ssh -G reports (the backstop, started beside the rows) and
# one the own evaluator reports first (the backstop is dropped unread).
printf 'Host runpod-1\n  HostName 10.0.0.1\n  Port 2222\n  User root\n  KexAlgorithms nonsense-kex\n' > "$c/backstop-kex"
printf 'Host runpod-1\n  HostName 10.0.0.1\n  Port 2222\n  Ciphers bogus\nHost b\n  MACs nope\n' > "$c/backstop-ciphers"
printf 'Host runpod-1\n  HostName 10.0.0.1\n  Port 99999\n  KexAlgorithms nonsense-kex\n' > "$c/backstop-own-first"
printf '# managed by runpod-ssh\nHost mine\n  HostName 203.0.113.9\n  Port 2\n\t# managed by runpod-ssh  \nHost mine2\n \xff\xfe junk\nHost notmine\n  HostName 203.0.113.10\n  User root\n  Port 40000\nHost p22\n  HostName 203.0.113.11\n  User root\n  Port 22\nHost proxy\n  HostName SSH.RUNPOD.IO\n' > "$c/marker"
printf 'Host many\n  SendEnv A B C D E F G H I J\n  LocalForward 1 h:2\n  LocalForward 1 h:2 # c\n  User "u s" x\n  Port 9\n' > "$c/many"
# Wave 7 (list7): the values-only resolver indexes a block on its header
# alone (blocks whose other lines warn, are excused by IgnoreUnknown or set
# what no row shows), skips lines that set nothing a row shows, falls back
# to the whole evaluation (CanonicalizeHostname in a block, Match final);
# a table from rows of several files (Include) and long port/line numbers.
printf 'IgnoreUnknown Foo*\nHost ig1 runpod-ig\n  FooBar 1\n  CompressionLevel 6\n  Port 7\nHost ig2 ig1\n  User u\n  UseKeychain yes\nMatch host ig1\n  Port 9\n  HostName %%h.x\nHost other\n  LocalForward 1 h:2\n  SendEnv A B\n  SendEnv -A\n  ProxyJump j\n  ProxyCommand nc %%h %%p\n  IdentityFile ~/a\nHost ig1\n  IdentityFile ~/b\n' > "$c/values-skip"
printf 'Host c1 c2\n  HostName c1\n  CanonicalizeHostname yes\n  CanonicalDomains example.com\nHost runpod-9 c2\n  Port 65535\nMatch final host c1.example.com\n  User fin\n' > "$c/values-fallback"
mkdir -p "$c/inc2"; printf 'Host a1\n  Port 1\nHost runpod-inc\n  Port 2\n' > "$c/inc2/a.conf"; printf 'Host b1 a1\n  User b\n' > "$c/inc2/b.conf"
printf 'Host top1\n  Port 1\nInclude %s/inc2/*.conf\nHost top2 b1\n  Port 3\n' "$c" > "$c/include-rows"
# Wave 8 (list8): entries read from header lines (no blocks): RunPod by
# HostName/User/Port in any keyword case, the first HostName line wins even
# when a later one would qualify, negated and wildcard-negated patterns
# beside literal ones (a header of literal names is indexed unevaluated),
# an empty pattern (never indexed), a block holding an Include, a %h
# HostName in upper case and an IPv6 one (left as written).
printf 'Host a1 !b* c1\n  HOSTNAME 203.0.113.5\n  USER root\n  PORT 2222\nHost d1\n  HostName ssh.runpod.io\n  HostName 203.0.113.6\nHost e1 ""\n  User root\n  HostName 203.0.113.7\n  Port 2200\nHost f1\n  Include %s/inc2/*.conf\n  Port 5\nHost g1 !a1 a1\n  HostName UP.%%h.Example\nHost h1\n  HostName FE80::1\n  User Root\n  Port 2\nMatch host up.g1.example\n  User m\n' "$c" > "$c/wave8"
# Wave 9 (w9list): the values-only plan lists each block's lines once
# (blank and comment lines, lines that set nothing a row shows, a Match
# exec line inside a block, SendEnv drops), rows moved out of the
# evaluation (HostName in upper case, an upper-case IPv6 address, none),
# and printable-ASCII cells measured without the escape scan.
printf 'Host v1 v2\n\n  # c\n  Compression yes\n  HostName V1.Example\n\n  SendEnv A B\n  SendEnv -A\n  Port 3\nMatch exec true host v1\n  User ex\nHost v2\n  HostName FE80::1\n  User two\n  IdentityFile ~/k\x7f\nHost v3\n  ServerAliveInterval 5\n  User \x1b[1m\nHost *\n  IdentityFile ~/.ssh/id_a\n' > "$c/w9-visit"
printf 'Host w1 w2 w3\n  HostName %%h.EXAMPLE\n  Port 7\nHost w2\n  HostName lower.example\nMatch host lower.example\n  User low\nHost w3\n  Port 8\n' > "$c/w9-rows"
configs=("$@" "$c"/*)
n=0 bad=0
for cfg in "${configs[@]}"; do
  [ -f "$cfg" ] || continue
  for args in "list" "list --all" "--json list --all" "list --all -q"; do
    for who in base new; do
      h=$work/h.$who; rm -rf "$h"; mkdir -p -m 700 "$h/.ssh"
      cp "$cfg" "$h/.ssh/config"
      bin=$base; [ $who = new ] && bin=$new
      # shellcheck disable=SC2086
      ( cd "$h" && iso "$h" "$bin" --config "$h/.ssh/config" $args >"$work/$who.out" 2>"$work/$who.err"; echo $? >"$work/$who.rc" )
      cp "$h/.ssh/config" "$work/$who.cfg"
      sed -i "s#$h#HOME#g" "$work/$who.out" "$work/$who.err"
    done
    n=$((n+1))
    for f in out err rc cfg; do
      if ! cmp -s "$work/base.$f" "$work/new.$f"; then
        echo "DIFF $f: $cfg :: $args"; bad=$((bad+1))
      fi
    done
  done
done
echo "$n runs, $bad differences"
