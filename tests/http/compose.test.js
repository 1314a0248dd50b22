// docker-compose.yml and Dockerfile structure (there is no Docker engine here): services, images,
// ports, health checks, the sim profile, and that everything referenced exists in the repo.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const npm = require('../node/npm');
const YAML = npm('yaml');

const ROOT = path.resolve(__dirname, '../..');
const doc = YAML.parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
const S = doc.services;
const KNOWN_KEYS = new Set(['image', 'build', 'command', 'environment', 'ports', 'volumes', 'healthcheck', 'depends_on',
  'profiles', 'networks', 'restart']);

test('the five services exist with known keys, an image or a build, and a health check', () => {
  assert.deepEqual(Object.keys(S).sort(), ['ib-bridge', 'ib-bridge-http', 'ib-gateway', 'ib-sim', 'nats']);
  for (const [name, svc] of Object.entries(S)) {
    for (const k of Object.keys(svc)) assert.ok(KNOWN_KEYS.has(k), `${name}: unknown key ${k}`);
    assert.ok(svc.image || svc.build, `${name}: image or build`);
    const hc = svc.healthcheck;
    assert.ok(hc && Array.isArray(hc.test) && ['CMD', 'CMD-SHELL'].includes(hc.test[0]), `${name}: healthcheck.test`);
    for (const k of ['interval', 'timeout']) assert.match(String(hc[k]), /^\d+(ms|s|m)$/, `${name}: healthcheck.${k}`);
    assert.ok(Number.isInteger(hc.retries) && hc.retries > 0, `${name}: healthcheck.retries`);
    for (const p of svc.ports || []) assert.match(p, /^((\d+\.){3}\d+:)?\d+:\d+$/, `${name}: port ${p}`);
    for (const dep of Object.keys(svc.depends_on || {})) {
      assert.ok(S[dep], `${name}: depends_on ${dep}`);
      assert.ok(!S[dep].profiles, `${name}: must not depend on profiled service ${dep}`);
    }
    if (svc.command) assert.ok(Array.isArray(svc.command), `${name}: command is an exec array`);
  }
});

test('nats uses the config from nats/ and publishes 4222', () => {
  const n = S.nats;
  assert.match(n.image, /^nats:2\.9/);
  const vol = n.volumes.find((v) => v.startsWith('./nats:'));
  assert.ok(vol, 'nats/ mounted');
  const confPath = n.command[n.command.indexOf('-c') + 1];
  assert.ok(confPath.startsWith('/etc/nats/'));
  assert.ok(fs.existsSync(path.join(ROOT, 'nats', path.basename(confPath))), `${confPath} exists in nats/`);
  assert.ok(n.ports.some((p) => p.endsWith(':4222')));
  assert.ok(n.command.includes('-m'), 'monitoring port for the health check');
  for (const role of ['ADAPTER', 'HTTP']) assert.ok(n.environment[`IBB_NATS_${role}_PASSWORD`], `password for ${role}`);
});

test('IB Gateway: a maintained community image, credentials and paper mode from the environment', () => {
  const g = S['ib-gateway'];
  assert.match(g.image, /^ghcr\.io\/gnzsnz\/ib-gateway:/);
  assert.match(g.environment.TWS_USERID, /^\$\{TWS_USERID/);
  assert.match(g.environment.TWS_PASSWORD, /^\$\{TWS_PASSWORD/);
  assert.match(g.environment.TRADING_MODE, /^\$\{TRADING_MODE:-paper\}$/);
  assert.deepEqual(g.profiles, ['gateway']);
});

test('profile sim runs ib-sim in the gateway\'s place', () => {
  const s = S['ib-sim'];
  assert.deepEqual(s.profiles, ['sim']);
  assert.ok(s.networks.default.aliases.includes('ib-gateway'), 'ib-sim answers as ib-gateway');
  assert.equal(s.command[0], 'ib-sim');
  const port = s.command[s.command.indexOf('--port') + 1];
  assert.equal(port, S['ib-bridge'].environment.IB_PORT, 'ib-sim listens where ib-bridge connects');
  assert.equal(S['ib-bridge'].environment.IB_HOST, 'ib-gateway');
  for (const name of ['nats', 'ib-bridge', 'ib-bridge-http']) assert.ok(!S[name].profiles, `${name} runs in every profile`);
});

test('ib-bridge and ib-bridge-http talk to nats with their own users; http publishes 8080 and checks /health', () => {
  const b = S['ib-bridge'];
  const h = S['ib-bridge-http'];
  assert.equal(b.environment.NATS_URL, 'nats://nats:4222');
  assert.equal(h.environment.NATS_URL, 'nats://nats:4222');
  assert.equal(b.environment.NATS_USER, 'adapter');
  assert.equal(h.environment.NATS_USER, 'http');
  const conf = fs.readFileSync(path.join(ROOT, 'nats/nats-server.conf'), 'utf8');
  assert.match(conf, /user: http,/);
  assert.match(conf, /user: adapter,/);
  assert.deepEqual(h.command, ['ib-bridge-http']);
  assert.equal(h.environment.HTTP_PORT, '8080');
  assert.ok(h.ports.includes('127.0.0.1:8080:8080'), 'published on the host loopback only');
  assert.equal(h.environment.HTTP_LISTEN, '0.0.0.0');
  assert.ok(h.healthcheck.test.some((a) => /\/health$/.test(a)));
  assert.equal(h.depends_on.nats.condition, 'service_healthy');
  const t = b.healthcheck.test;
  assert.ok(t.includes('ib-bridge-http') && t.includes('--probe'), `ib-bridge health is a bus request: ${t}`);
  assert.ok(t.includes('NATS_USER=reader'), 'the probe uses a user that may publish ib.rpc.*');
  assert.match(conf, /user: reader,[\s\S]*?publish:\s*\{ allow: \["ib\.rpc\.\*"/);
});

test('Dockerfile builds the binaries on Debian bookworm', () => {
  const d = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const froms = d.split('\n').filter((l) => /^FROM /.test(l));
  assert.ok(froms.length >= 1 && froms.every((l) => /debian:bookworm/.test(l)), froms.join(' | '));
  for (const pkg of ['libnats-dev', 'libwebsockets-dev', 'libmsgpack-dev', 'libconfig-dev', 'libjansson-dev', 'libuv1-dev'])
    assert.ok(d.includes(pkg), `build installs ${pkg}`);
  for (const pkg of ['libnats3.4', 'libwebsockets17', 'libmsgpackc2', 'libconfig9', 'libjansson4', 'libuv1', 'curl'])
    assert.ok(d.includes(pkg), `runtime installs ${pkg}`);
  assert.match(d, /cmake --build/);
  assert.match(d, /http\/ib-bridge-http/);
  assert.match(d, /app\/ib-bridge/);
  assert.match(d, /sim\/ib-sim/);
});
