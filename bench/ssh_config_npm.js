// parse+stringify and parse+compute with npm `ssh-config`, on the file
// given as argv[2], for host argv[3]. Prints one JSON line of medians (ms).
const fs = require('fs');
const SSHConfig = require('ssh-config');
const text = fs.readFileSync(process.argv[2], 'utf8');
const host = process.argv[3];
function median(f, runs) {
  f();
  const t = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}
const parseEmit = median(() => {
  const out = SSHConfig.stringify(SSHConfig.parse(text));
  if (out.length < text.length / 2) throw new Error('stringify lost text');
}, 11);
const cfg = SSHConfig.parse(text);
const hn = cfg.compute(host).HostName;
const resolve = median(() => { cfg.compute(host); }, 11);
const parseResolve = median(() => { SSHConfig.parse(text).compute(host); }, 11);
const path = require('path');
let dir = path.dirname(require.resolve('ssh-config'));
while (!(fs.existsSync(path.join(dir, 'package.json')) &&
         JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'ssh-config')) {
  dir = path.dirname(dir);
}
const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
console.log(JSON.stringify({ tool: 'ssh-config', version,
  hostname: hn, parse_emit_ms: parseEmit, resolve_ms: resolve, parse_resolve_ms: parseResolve }));
