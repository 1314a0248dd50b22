#!/usr/bin/env node
// gen_corpus.js — seed corpora for the libFuzzer targets, from the repository's tests/ib/vectors/*.jsonl
// (vectors.jsonl, completed_orders.jsonl, ...).
//   node tests/fuzz/gen_corpus.js VECTORS.jsonl|DIR [MORE.jsonl|DIR ...] OUTDIR
// A directory stands for its *.jsonl files; a path that does not exist is skipped with a note.
// writes OUTDIR/fuzz_ib_frames/, OUTDIR/fuzz_ib_requests/, OUTDIR/fuzz_ib_roundtrip/ in the input
// layouts of fuzz_common.h and fuzz_ib_roundtrip.c. A vector becomes frame = be32(len) + payload,
// payload = fields joined and ended by NUL (PROTOCOL.md §9); the client's handshake vectors become
// "API\0" + be32(len) + text (no NUL), as their notes say. Generated files are never committed.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const outDir = args.pop();
if (!args.length || !outDir) {
  console.error('usage: gen_corpus.js VECTORS.jsonl|DIR [MORE.jsonl|DIR ...] OUTDIR');
  process.exit(2);
}

const vecFiles = args.flatMap((p) => {
  if (!fs.existsSync(p)) {
    console.error(`gen_corpus: ${p} not found, skipped`);
    return [];
  }
  return fs.statSync(p).isDirectory()
    ? fs.readdirSync(p).filter((f) => f.endsWith('.jsonl')).sort().map((f) => path.join(p, f))
    : [p];
});
const vectors = vecFiles.flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.trim())
  .map((l) => JSON.parse(l)));

const be32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const payloadOf = (fields) => Buffer.from(fields.map((f) => f + '\0').join(''), 'latin1');
const frame = (payload) => Buffer.concat([be32(payload.length), payload]);
const handshake = (text) => Buffer.concat([Buffer.from('API\0', 'latin1'), be32(text.length), Buffer.from(text, 'latin1')]);
const svByte = (sv) => (sv >= 100 && sv <= 200 ? sv - 100 : 76); // 76 -> sv 176
const isHandshake = (v) => v.message.startsWith('handshake');
// The sv 205 startApi has a binary id: its logged bytes are the frame.
const rawFrame = (v) => (v.fields[0] === '<uint32_be 71>'
  ? Buffer.concat([be32(10), be32(71), Buffer.from('2\x0010\x00\x00', 'latin1')])
  : null);

const dirs = {};
for (const t of ['fuzz_ib_frames', 'fuzz_ib_requests', 'fuzz_ib_roundtrip']) {
  dirs[t] = path.join(outDir, t);
  fs.mkdirSync(dirs[t], { recursive: true });
}
let count = 0;
const write = (target, name, ...parts) => {
  fs.writeFileSync(path.join(dirs[target], name), Buffer.concat(parts));
  count++;
};
const whole = (sv) => Buffer.from([svByte(sv), 0xff, 0xff, 0xff]);
const chunky = (sv) => Buffer.from([svByte(sv), 0, 6, 40]); // chunks of 1, 7, 41 bytes

const startApi = frame(payloadOf(['71', '2', '28', '']));
const toServer = vectors.filter((v) => v.direction === 'client->server');
const toClient = vectors.filter((v) => v.direction === 'server->client');
const clientHandshakes = toServer.filter(isHandshake).map((v) => v.fields[0]);
if (!clientHandshakes.includes('v100..176')) clientHandshakes.push('v100..176');

// Server -> client streams: every reply alone, then whole sessions (handshake reply first).
toClient.forEach((v, i) => {
  const f = frame(payloadOf(v.fields));
  write('fuzz_ib_frames', `v${String(i).padStart(2, '0')}`, whole(v.server_version), f);
  if (!isHandshake(v)) write('fuzz_ib_roundtrip', `reply${String(i).padStart(2, '0')}`,
    Buffer.from([0, svByte(v.server_version)]), payloadOf(v.fields));
});
const session = Buffer.concat(toClient.map((v) => frame(payloadOf(v.fields))));
write('fuzz_ib_frames', 'session_whole', whole(176), session);
write('fuzz_ib_frames', 'session_chunky', chunky(173), session);

// Client -> server streams: "API\0" + version range, startApi, then the request.
toServer.forEach((v, i) => {
  const name = `v${String(i).padStart(2, '0')}`;
  if (isHandshake(v)) {
    write('fuzz_ib_requests', name, whole(176), handshake(v.fields[0]), startApi);
    return;
  }
  const f = rawFrame(v) || frame(payloadOf(v.fields));
  const hs = handshake(`v100..${v.server_version && v.server_version <= 200 ? v.server_version : 176}`);
  write('fuzz_ib_requests', name, whole(v.server_version), hs, startApi, f);
  if (!rawFrame(v)) write('fuzz_ib_roundtrip', `request${String(i).padStart(2, '0')}`,
    Buffer.from([1, svByte(v.server_version)]), payloadOf(v.fields));
});
const requests = Buffer.concat(toServer.filter((v) => !isHandshake(v) && !rawFrame(v))
  .map((v) => frame(payloadOf(v.fields))));
write('fuzz_ib_requests', 'session_whole', whole(176), handshake('v100..176'), requests);
write('fuzz_ib_requests', 'session_chunky', chunky(176), handshake('v100..176 +PACEAPI'), requests);

console.log(`gen_corpus: ${count} seed files from ${vectors.length} vectors in ${outDir}`);
