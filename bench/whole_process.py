#!/usr/bin/env python3
"""Whole-process timings of runpod-ssh commands beside `ssh -G` on the same
config files, interleaved in one run (so machine load hits both alike).

    whole_process.py BINARY ROUNDS CONFIG [CONFIG...]

BENCH_ONLY (comma-separated command names, e.g. "add,list --all") times only
those beside `ssh -G`; BENCH_BASE=OTHER_BINARY times OTHER_BINARY's commands
right after BINARY's in every round ("base …" rows, an A/B in one run); BENCH_SKIP_100K=1 (read by bench/config.sh) leaves out
the 100,000-block file.

Run by bench/config.sh inside a private mount namespace whose password
database names a temp dir as home (runpod-ssh and ssh take `~` from it),
so nothing touches the real ~/.ssh. Each command runs on a fresh copy of
the file (add and remove really write). Reports the median CPU time
(user+sys, from wait4: robust on a shared machine) and the median wall
time, and each command's ratio to `ssh -G` on the same file: the ratio of
the medians, and the median of each round's own ratio (`ssh -G` runs just
before the command in every round, so a machine whose speed drifts over
seconds weighs on both alike — the steadier figure of the two here).
"""
import json, os, shutil, statistics, subprocess, sys, time

binary, rounds, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
home = os.environ["HOME"]
work = os.path.join(home, "run")
PASTE = "ssh root@203.0.113.5 -p 40022 -i ~/.ssh/id_ed25519"


def commands(cfg, last):
    # `ssh -G` on the last block (every block before it is read), then
    # each runpod-ssh command on the same file.
    every = [
        ("ssh -G", ["ssh", "-G", "-F", cfg, last]),
        ("show", [binary, "--config", cfg, "show", last]),
        ("list --all", [binary, "--config", cfg, "list", "--all"]),
        ("add", [binary, "--config", cfg, "add", "--no-vscode", PASTE]),
        ("remove", [binary, "--config", cfg, "remove", "--force", "--no-vscode", "runpod-5000"]),
        ("fix --dry-run", [binary, "--config", cfg, "fix", "--dry-run"]),
    ]
    # BENCH_ONLY="add,remove" times only those beside ssh -G (a quicker loop
    # while working on one command).
    only = [o.strip() for o in os.environ.get("BENCH_ONLY", "").split(",") if o.strip()]
    chosen = [c for c in every if not only or c[0] == "ssh -G" or c[0] in only]
    # BENCH_BASE=OTHER_BINARY: each command of OTHER_BINARY runs right
    # after the same command of BINARY in every round ("base …" rows): an
    # A/B comparison in one interleaved run.
    other = os.environ.get("BENCH_BASE")
    if not other:
        return chosen
    paired = []
    for name, argv in chosen:
        paired.append((name, argv))
        if name != "ssh -G":
            paired.append(("base " + name, [other if a == binary else a for a in argv]))
    return paired


def run_once(argv):
    t0 = time.perf_counter()
    # stderr to a file: a pipe nobody reads while waiting could fill up.
    with open(os.path.join(home, "stderr"), "w+b") as ef:
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=ef)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        ef.seek(0)
        err = ef.read()
    code = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime, wall, code, err


for orig in configs:
    # `add` refuses an entry that a global line would override (the
    # generated file's global ServerAliveInterval): that line goes into
    # the closing `Host *` block, where ssh -G gives every host the same.
    src = os.path.join(home, os.path.basename(orig))
    text = open(orig, "rb").read().replace(b"ServerAliveInterval 30\n", b"", 1)
    open(src, "wb").write(text + b"    ServerAliveInterval 30\n")
    # An hour old, as a user's long-saved config is: copy2 below keeps it,
    # and a file modified in the last two seconds is read twice (see there).
    old = time.time() - 3600
    os.utime(src, (old, old))
    lines = sum(1 for _ in open(src, "rb"))
    hosts = sum(1 for l in open(src, "rb") if l.startswith(b"Host "))
    last = [l.split()[1].decode() for l in open(src, "rb") if l.startswith(b"Host runpod-")][-1]
    cfg = os.path.join(work, "config")
    cmds = commands(cfg, last)
    cpu = {n: [] for n, _ in cmds}
    wall = {n: [] for n, _ in cmds}
    for r in range(rounds):
        for name, argv in cmds:
            shutil.rmtree(work, ignore_errors=True)
            os.makedirs(work)
            # copy2 keeps the source's old mtime: a config modified in the last
            # two seconds is read twice, 100 ms apart (fsio::read settles it),
            # which is not the common case timed here.
            shutil.copy2(src, cfg)
            c, w, code, err = run_once(argv)
            if code not in (0, 1):
                sys.exit(f"{name} exited {code}: {err.decode(errors='replace')[:500]}")
            cpu[name].append(c)
            wall[name].append(w)
    base_c = statistics.median(cpu["ssh -G"])
    base_w = statistics.median(wall["ssh -G"])
    print(f"\n{os.path.basename(src)}: {lines} lines, {hosts} Host blocks; median of {rounds} interleaved rounds")
    print(f"{'command':<22}{'cpu ms':>10}{'x ssh -G':>10}{'wall ms':>10}{'x ssh -G':>10}{'rounds x':>10}")
    out = {"config": os.path.basename(src), "lines": lines, "host_blocks": hosts, "rounds": rounds}
    for name, _ in cmds:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        per_round = statistics.median(a / b for a, b in zip(cpu[name], cpu["ssh -G"]))
        print(f"{name:<22}{c*1000:10.1f}{c/base_c:10.2f}{w*1000:10.1f}{w/base_w:10.2f}{per_round:10.2f}")
        out[name] = {"cpu_ms": round(c * 1000, 1), "wall_ms": round(w * 1000, 1),
                     "cpu_ratio": round(c / base_c, 2), "wall_ratio": round(w / base_w, 2),
                     "cpu_ratio_per_round": round(per_round, 2)}
    print(json.dumps(out))
