'use strict';
// samrun's spare Node.js runtime: a node started before it is needed, already isolated as its
// instance will be (samrun/runtime/node_spare.py started it so), waiting for the instance it
// becomes. `node spare.js CONTROL_FD`: CONTROL_FD is a stream socket to samrun. The spare says
// it is ready (a JSON line), then waits for one JSON line: the instance's environment, working
// folder and bootstrap. It takes them as exec would have given them, says it started, and runs
// the runtime client (bootstrap.js), which reads them as a fresh node's would. It exits when
// samrun closes the socket first. Built-in modules only, any node 18+.

const net = require('net');
const path = require('path');
const Module = require('module');

// what the runtime client loads: already loaded when the instance needs them
for (const name of ['fs', 'http', 'stream', 'url', 'util']) require(name);

const control = new net.Socket({ fd: Number(process.argv[2]), readable: true, writable: true });
let received = '';

control.setEncoding('utf8');
control.on('data', (chunk) => {
  received += chunk;
  const end = received.indexOf('\n');
  if (end >= 0) become(JSON.parse(received.slice(0, end)));
});
control.on('end', () => process.exit(0)); // not needed
control.on('error', () => process.exit(0));
control.write(JSON.stringify({ ready: process.pid }) + '\n');

function become(request) {
  control.removeAllListeners();
  control.on('error', () => {});
  control.pause();
  process.chdir(request.cwd);
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, request.env); // TZ: node resets its time zone as it is assigned
  Module._initPaths(); // NODE_PATH and HOME, as a fresh node reads them
  process.argv.splice(1, process.argv.length, request.bootstrap);
  // set up: samrun's spawn returns now, as a spawn returns once exec succeeded (REPORT's Init
  // Duration counts from here, as it does for a spawned runtime)
  control.end(JSON.stringify({ started: process.pid }) + '\n', () => control.destroy());
  // the main module, as `node bootstrap.js` loads it (require.main, no parent in require stacks)
  setImmediate(() => Module._load(path.resolve(request.bootstrap), null, true));
}
