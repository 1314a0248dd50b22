// bench_go.js — what the node benchmarks share (scripts/bench-quotes, scripts/bench-depth-ticks): the Go
// subscriber / baseline publisher (scripts/bench-quotes-go) and the adapter's CPU and RSS from /proc.
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn, execFileSync } = require('child_process');

const GO_DIR = path.join(__dirname, '..', 'bench-quotes-go');
const GO_BIN = path.join(os.tmpdir(), `bench-quotes-go-${process.getuid()}`);

function buildGo() {
  execFileSync('go', ['build', '-o', GO_BIN, '.'], {
    cwd: GO_DIR, stdio: 'inherit',
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: path.join(os.tmpdir(), `gocache-${process.getuid()}`) },
  });
}

// A Go subscriber counting events on subject for secs: {done (its JSON summary), ready}.
function goSub(url, secs, subject = 'ib.quote.>') {
  let proc;
  const done = new Promise((resolve, reject) => {
    proc = spawn(GO_BIN, ['sub', '-url', url, '-subject', subject, '-secs', String(secs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    proc.stdout.on('data', (d) => { out += d; });
    proc.stderr.on('data', (d) => { err += d; });
    proc.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(err))));
  });
  return { done, ready: new Promise((r) => proc.stderr.once('data', r)) };
}

function procStat(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const tck = 100; // USER_HZ
  const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpu_s: (Number(f[11]) + Number(f[12])) / tck, rss_kb: rss ? Number(rss[1]) : 0 };
}

// The raw-publisher baseline: pre-encoded MessagePack messages of `size` bytes at `rate` (0 = as fast as
// possible) through the same nats-server to the same kind of subscriber.
async function baseline(nats, { rate, size, secs, burst = 1 }) {
  const sub = goSub(nats.url, secs + 1, 'bench.base');
  await sub.ready;
  const pub = spawn(GO_BIN, ['pub', '-url', nats.url, '-subject', 'bench.base', '-size', String(size), '-rate', String(rate),
    '-secs', String(secs), '-burst', String(burst)]);
  const r = await sub.done;
  await new Promise((res) => (pub.exitCode !== null ? res() : pub.on('exit', res)));
  return { ...r, event_rate: r.events / secs, lossless: r.gaps === 0 && r.dropped === 0 };
}

const f0 = (x) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));

module.exports = { buildGo, goSub, procStat, baseline, f0 };
