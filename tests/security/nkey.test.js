// nkey.test.js — NATS NKey login end to end, with the option names both binaries share:
// nats.nkey / NATS_NKEY (the user's public key "U..."), nats.nkey_seed / NATS_NKEY_SEED (the path of the
// file holding its seed, mode 600), nats.subject_prefix / IBB_SUBJECT_PREFIX (ib-bridge-http still takes
// the deprecated nats.prefix / IBB_PREFIX, with one warning).
// Real parts only: a nats-server that accepts exactly one NKey user (keys made here with nkeys.js, which the
// `nats` package bundles), ib-sim, ib-bridge and `ib-bridge-http --probe`.
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const NODE_DIR = path.join(__dirname, '..', 'node');
const bus = require(path.join(NODE_DIR, 'bus_lib'));
const sim = require(path.join(NODE_DIR, 'sim_lib'));
const { startBridge, waitReady, request, SANITIZER_RE } = require(path.join(NODE_DIR, 'stack'));
const { nkeyAuthenticator, nkeys } = require(path.join(NODE_DIR, 'npm'))('nats');

const BRIDGE = process.env.IB_BRIDGE_BIN;
const HTTP = process.env.IBB_HTTP_BIN;
const run = bus.runner('security.nkey');

// Runs a binary to completion (bounded, then SIGKILL); resolves { code, out, err }.
function runBin(bin, args, env, ms = 20000) {
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('exit', (code, sig) => {
      clearTimeout(t);
      // a sanitizer report is a failure whatever the exit code
      if (SANITIZER_RE.test(err)) code = `sanitizer report: ${err.slice(-3000)}`;
      resolve({ code: code === null ? `signal ${sig}` : code, out, err });
    });
  });
}

async function startNatsConf(conf, port) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-nkey-js-'));
  const proc = spawn('nats-server', ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-sd', dir],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 100 && !/Server is ready/.test(log); i++) await bus.sleep(100);
  if (!/Server is ready/.test(log)) throw new Error('nats-server did not start:\n' + log);
  return { proc, log: () => log, stop: () => new Promise((r) => { proc.on('exit', r); proc.kill('SIGKILL'); }) };
}

(async () => {
  if (!BRIDGE || !HTTP) throw new Error('IB_BRIDGE_BIN and IBB_HTTP_BIN must name the binaries');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ibb-nkey-'));
  const f = (n) => path.join(dir, n);
  // user: the one the server knows; other: a valid key pair the server does not know
  const user = nkeys.createUser();
  const other = nkeys.createUser();
  const pub = user.getPublicKey();
  const seed = Buffer.from(user.getSeed()).toString();
  const otherSeed = Buffer.from(other.getSeed()).toString();
  fs.writeFileSync(f('user.nk'), seed + '\n', { mode: 0o600 });
  fs.writeFileSync(f('other.nk'), otherSeed + '\n', { mode: 0o600 });
  fs.writeFileSync(f('nats.conf'), `jetstream {}\nauthorization {\n  users = [ { nkey: "${pub}" } ]\n}\n`);
  const nkeyEnv = { NATS_NKEY: pub, NATS_NKEY_SEED: f('user.nk') };

  const port = await bus.freePort();
  const url = `nats://127.0.0.1:${port}`;
  const nats = await startNatsConf(f('nats.conf'), port);
  let nats2 = null;
  const s = await sim.startSim(['--seed', '1']);
  const bridge = await startBridge({ natsUrl: url, simPort: s.port, env: nkeyEnv });
  const nc = await bus.connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) });

  await run.step('the server really asks for the NKey: a client without it is refused', async () => {
    let refused = false;
    try { const c = await bus.connect({ servers: url, reconnect: false, timeout: 3000 }); await c.close(); }
    catch (e) { refused = /AUTHORIZATION_VIOLATION|Authorization/i.test(String(e.code) + ' ' + e.message); }
    bus.assert(refused, 'an anonymous client must be refused with an authorization error');
  });

  await run.step('ib-bridge with NATS_NKEY + NATS_NKEY_SEED connects and answers ib.rpc.status', async () => {
    const st = await waitReady(nc);
    bus.assert(st.connected === true, 'IB link up: ' + JSON.stringify(st));
    bus.assert(st.nats && st.nats.connected === true, 'NATS link up: ' + JSON.stringify(st.nats));
  });

  await run.step('ib-bridge: the seed never appears in its log, and a 0600 seed file draws no warning', async () => {
    bus.assert(!bridge.log().includes(seed), 'seed not logged');
    bus.assert(!/secret_readable/.test(bridge.log()), 'no secret_readable warning for a private seed file');
  });

  await run.step('ib-bridge-http --probe with the same two options succeeds', async () => {
    const r = await runBin(HTTP, ['--probe'], { NATS_URL: url, ...nkeyEnv, HTTP_REQUEST_TIMEOUT_MS: '5000' });
    bus.eq(r.code, 0, `probe exit code (stderr: ${r.err})`);
    bus.eq(JSON.parse(r.out).connected, true, 'the probe printed ib-bridge\'s status');
    bus.assert(!(r.out + r.err).includes(seed), 'seed not printed');
  });

  await run.step('ib-bridge-http reads nats.nkey / nats.nkey_seed / nats.subject_prefix from its file', async () => {
    fs.writeFileSync(f('http.conf'),
      `nats = { url = "${url}"; nkey = "${pub}"; nkey_seed = "${f('user.nk')}"; subject_prefix = "ib"; };\n`);
    const r = await runBin(HTTP, ['--config', f('http.conf'), '--probe'], { HTTP_REQUEST_TIMEOUT_MS: '5000' });
    bus.eq(r.code, 0, `probe exit code (stderr: ${r.err})`);
    bus.assert(!/config\.deprecated/.test(r.err), 'no deprecation warning for the current names: ' + r.err);
    // the same keys, with ib-bridge's own file (nats.urls is its URL list)
    fs.writeFileSync(f('bridge.conf'),
      `nats = { nkey = "${pub}"; nkey_seed = "${f('user.nk')}"; subject_prefix = "ib.paper"; };\n`);
    const c = await runBin(BRIDGE, ['--config', f('bridge.conf'), '--check-config'], {});
    bus.eq(c.code, 0, `ib-bridge --check-config (stderr: ${c.err})`);
    bus.assert(c.out.includes(`nats.nkey = "${pub}";  # file`), 'nats.nkey from the file: ' + c.out);
    bus.assert(c.out.includes(`nats.nkey_seed = "${f('user.nk')}";  # file`), 'nats.nkey_seed from the file');
    bus.assert(c.out.includes('nats.subject_prefix = "ib.paper";  # file'), 'nats.subject_prefix from the file');
  });

  await run.step('ib-bridge-http: IBB_SUBJECT_PREFIX is used; deprecated IBB_PREFIX still works with one warning', async () => {
    const env = { NATS_URL: url, ...nkeyEnv, HTTP_REQUEST_TIMEOUT_MS: '2500' };
    const wrong = await runBin(HTTP, ['--probe'], { ...env, IBB_SUBJECT_PREFIX: 'nobody.here' });
    bus.eq(wrong.code, 1, 'a prefix nobody serves: probe fails');
    const old = await runBin(HTTP, ['--probe'], { ...env, IBB_PREFIX: 'ib' });
    bus.eq(old.code, 0, `deprecated IBB_PREFIX=ib reaches ib-bridge (stderr: ${old.err})`);
    const warns = old.err.split('\n').filter((l) => /config\.deprecated/.test(l));
    bus.eq(warns.length, 1, 'one warning: ' + old.err);
    bus.assert(/key=nats\.prefix/.test(warns[0]) && /use_key=nats\.subject_prefix/.test(warns[0]) &&
      /use_env=IBB_SUBJECT_PREFIX/.test(warns[0]), 'the warning names the new key and variable: ' + warns[0]);
    const both = await runBin(HTTP, ['--probe'], { ...env, IBB_PREFIX: 'nobody', IBB_SUBJECT_PREFIX: 'ib' });
    bus.eq(both.code, 0, 'the current name wins over the deprecated one');
    fs.writeFileSync(f('old.conf'), `nats = { url = "${url}"; prefix = "nobody"; };\n`);
    const file = await runBin(HTTP, ['--config', f('old.conf'), '--probe'], { ...nkeyEnv, HTTP_REQUEST_TIMEOUT_MS: '2500' });
    bus.eq(file.code, 1, 'nats.prefix in a file is still read (prefix "nobody": nothing answers)');
    bus.eq(file.err.split('\n').filter((l) => /config\.deprecated .*key=nats\.prefix/.test(l)).length, 1,
      'and warned about once: ' + file.err);
  });

  await run.step('a wrong seed is refused: ib-bridge-http --probe exits 1, bounded', async () => {
    const t0 = Date.now();
    const r = await runBin(HTTP, ['--probe'],
      { NATS_URL: url, NATS_NKEY: pub, NATS_NKEY_SEED: f('other.nk'), HTTP_REQUEST_TIMEOUT_MS: '2500' });
    bus.eq(r.code, 1, `probe exit code (stderr: ${r.err})`);
    bus.assert(/not connected to NATS/.test(r.err), 'the probe says it could not log in: ' + r.err);
    bus.assert(Date.now() - t0 < 15000, 'the probe gave up in time');
    bus.assert(!(r.out + r.err).includes(otherSeed), 'seed not printed');
  });

  await run.step('a wrong seed is refused: a second ib-bridge never gets onto the bus', async () => {
    const before = (nats.log().match(/authentication error - Nkey/g) || []).length;
    const b2 = await startBridge({ natsUrl: url, simPort: s.port,
      env: { NATS_NKEY: pub, NATS_NKEY_SEED: f('other.nk'), IBB_SUBJECT_PREFIX: 'wrong', IB_CLIENT_ID: '977' } });
    await bus.sleep(3000);
    let answered = false;
    try { await request(nc, 'wrong.rpc.status', {}, { timeout: 1500 }); answered = true; } catch (_) { /* none */ }
    bus.assert(!answered, 'nobody answers for the ib-bridge with the wrong seed');
    bus.eq(b2.proc.exitCode, 1, 'ib-bridge exits 1 by itself when NATS refuses it:\n' + b2.log().slice(-2000));
    // the refusal closes the connection before the service starts (bus_start_failed) or just after
    // (nats_closed): a race between nats.c's connect thread and the loop; either way it says why
    bus.assert(/bridge\.(bus_start_failed|nats_closed)/.test(b2.log()), 'it says why it stopped:\n' + b2.log().slice(-2000));
    bus.assert(!/nats\.up/.test(b2.log()), 'it never reported a NATS connection:\n' + b2.log().slice(-2000));
    const after = nats.log().match(new RegExp(`authentication error - Nkey "${pub}"`, 'g')) || [];
    bus.assert(after.length > before, 'nats-server refused the login of ' + pub);
    bus.assert(!b2.log().includes(otherSeed), 'seed not logged');
    await b2.stop();
    bus.assert(!SANITIZER_RE.test(b2.log()), 'no sanitizer report');
  });

  await run.step('only one of nats.nkey / nats.nkey_seed: both binaries refuse to start, naming both keys', async () => {
    for (const env of [{ NATS_NKEY: pub }, { NATS_NKEY_SEED: f('user.nk') }]) {
      const b = await runBin(BRIDGE, ['--check-config'], env);
      bus.eq(b.code, 2, 'ib-bridge exit code for ' + Object.keys(env));
      bus.assert(/nats\.nkey\b/.test(b.err) && /nats\.nkey_seed/.test(b.err), 'ib-bridge names both keys: ' + b.err);
      const h = await runBin(HTTP, ['--probe'], { NATS_URL: url, ...env });
      bus.eq(h.code, 2, 'ib-bridge-http exit code for ' + Object.keys(env));
      bus.assert(/nats\.nkey\b/.test(h.err) && /nats\.nkey_seed/.test(h.err), 'ib-bridge-http names both keys: ' + h.err);
    }
    // the old meaning of NATS_NKEY (a seed file path) is refused with a pointer to the new key
    const old = await runBin(BRIDGE, ['--check-config'], { NATS_NKEY: f('user.nk') });
    bus.eq(old.code, 2, 'a path in NATS_NKEY is refused');
    bus.assert(/seed file's path goes in nats\.nkey_seed/.test(old.err), 'and told where it goes: ' + old.err);
    const pasted = await runBin(BRIDGE, ['--check-config'], { NATS_NKEY: seed, NATS_NKEY_SEED: f('user.nk') });
    bus.eq(pasted.code, 2, 'a seed in NATS_NKEY is refused');
    bus.assert(!pasted.err.includes(seed) && !pasted.out.includes(seed), 'without echoing the seed');
  });

  await run.step('the seed file is a secret: readable by others draws a warning naming nats.nkey_seed', async () => {
    fs.copyFileSync(f('user.nk'), f('open.nk'));
    fs.chmodSync(f('open.nk'), 0o644);
    const b = await runBin(BRIDGE, ['--check-config'], { NATS_NKEY: pub, NATS_NKEY_SEED: f('open.nk') });
    bus.eq(b.code, 0, 'still starts (a warning, not a refusal)');
    bus.assert(/config\.secret_readable .*key=nats\.nkey_seed .*mode=644/.test(b.err), 'ib-bridge warns: ' + b.err);
    const h = await runBin(HTTP, ['--probe'],
      { NATS_URL: url, NATS_NKEY: pub, NATS_NKEY_SEED: f('open.nk'), HTTP_REQUEST_TIMEOUT_MS: '5000' });
    bus.eq(h.code, 0, 'probe works');
    bus.assert(/config\.secret_readable .*key=nats\.nkey_seed/.test(h.err), 'ib-bridge-http warns: ' + h.err);
    fs.writeFileSync(f('garbage.nk'), 'not a seed\n', { mode: 0o600 });
    const g = await runBin(BRIDGE, ['--check-config'], { NATS_NKEY: pub, NATS_NKEY_SEED: f('garbage.nk') });
    bus.eq(g.code, 2, 'a file without a seed is refused');
    bus.assert(/nats\.nkey_seed: .* holds no NKey user seed/.test(g.err), g.err);
  });

  await nc.close();
  const code = await bridge.stop();
  await run.step('ib-bridge shuts down cleanly', async () => bus.eq(code, 0, 'exit code'));

  await run.step('a key revoked while running: nats.c gives up, ib-bridge stops and exits 1 (not a silent zombie)', async () => {
    const b3 = await startBridge({ natsUrl: url, simPort: s.port, env: { ...nkeyEnv, IB_CLIENT_ID: '978' } });
    const nc3 = await bus.connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) });
    await waitReady(nc3);
    await nc3.close();
    await nats.stop(); // restart with only the other key: ib-bridge's key is no longer accepted
    fs.writeFileSync(f('revoked.conf'), `jetstream {}\nauthorization {\n  users = [ { nkey: "${other.getPublicKey()}" } ]\n}\n`);
    nats2 = await startNatsConf(f('revoked.conf'), port);
    for (let i = 0; i < 300 && b3.proc.exitCode === null; i++) await bus.sleep(100);
    bus.eq(b3.proc.exitCode, 1, 'ib-bridge exits 1 by itself:\n' + b3.log().slice(-2000));
    bus.assert(/bridge\.nats_closed/.test(b3.log()), 'it says why: ' + b3.log().slice(-1500));
    await b3.stop();
  });
  await sim.stopSim(s);
  await (nats2 || nats).stop();
  fs.rmSync(dir, { recursive: true, force: true });
  run.done();
})().catch((e) => { console.log('FAIL setup: ' + (e.stack || e)); console.log('security.nkey: 0 passed, 1 failed'); process.exit(1); });
