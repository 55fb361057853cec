"""parse+lookup with paramiko's SSHConfig on the file argv[1] for host argv[2].
Prints one JSON line of medians (ms)."""
import json
import statistics
import sys
import time

import paramiko

path, host = sys.argv[1], sys.argv[2]
with open(path) as f:
    text = f.read()


def median(f, runs):
    f()
    t = []
    for _ in range(runs):
        s = time.perf_counter()
        f()
        t.append((time.perf_counter() - s) * 1000)
    return statistics.median(t)


parse = median(lambda: paramiko.SSHConfig.from_text(text), 5)
cfg = paramiko.SSHConfig.from_text(text)
hn = cfg.lookup(host)["hostname"]
lookup = median(lambda: cfg.lookup(host), 5)
both = median(lambda: paramiko.SSHConfig.from_text(text).lookup(host), 5)
print(json.dumps({"tool": "paramiko", "version": paramiko.__version__, "hostname": hn,
                  "parse_ms": parse, "resolve_ms": lookup, "parse_resolve_ms": both}))
