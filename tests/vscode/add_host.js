// What VS Code Remote-SSH's "Add New SSH Host…" does to the config file:
// parse it with npm `ssh-config` (the parser the extension bundles), prepend
// a host block for the ssh command the user typed, stringify, write back.
//
//   node add_host.js CONFIG MODULE_DIR ssh USER@HOST [-p PORT] [-i KEY]
//
// MODULE_DIR is the node_modules folder holding ssh-config (5.3.0 in CI).
// Used by tests/guide_story.rs; never run against a real ~/.ssh/config.
'use strict';
const fs = require('fs');
const path = require('path');

const [configPath, moduleDir, ...command] = process.argv.slice(2);
if (!configPath || !moduleDir || command[0] !== 'ssh') {
  console.error('usage: node add_host.js CONFIG MODULE_DIR ssh USER@HOST [-p PORT] [-i KEY]');
  process.exit(2);
}
const SSHConfig = require(path.join(moduleDir, 'ssh-config'));

// The ssh command as VS Code reads it: destination, -p, -i.
const entry = {};
let dest;
for (let i = 1; i < command.length; i++) {
  const a = command[i];
  if (a === '-p') entry.Port = command[++i];
  else if (a === '-i') entry.IdentityFile = command[++i];
  else if (!a.startsWith('-')) dest = a;
}
if (!dest) {
  console.error('no destination in the ssh command');
  process.exit(2);
}
const at = dest.lastIndexOf('@');
const host = at >= 0 ? dest.slice(at + 1) : dest;
const block = { Host: host, HostName: host };
if (at >= 0) block.User = dest.slice(0, at);
Object.assign(block, entry);

const text = fs.existsSync(configPath) ? fs.readFileSync(configPath, 'utf8') : '';
const config = SSHConfig.parse(text);
config.prepend(block);
fs.writeFileSync(configPath, SSHConfig.stringify(config));
