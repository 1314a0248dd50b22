// A strict parser of the Prometheus text exposition format (version 0.0.4), for the tests: it throws
// on anything a Prometheus server would refuse or that breaks the conventions this project keeps —
// a sample before its family's TYPE, a family declared twice, a bad name, label or value, a counter
// not ending in _total, a histogram whose buckets are not cumulative or lack +Inf.
'use strict';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s, where) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: bad value "${s}"`);
  return Number(s);
}

function parseLabels(s, where) {
  const labels = {};
  let i = 0;
  while (i < s.length) {
    const m = s.slice(i).match(/^([a-zA-Z_][a-zA-Z0-9_]*)="/);
    if (!m) throw new Error(`${where}: bad label at "${s.slice(i)}"`);
    i += m[0].length;
    let v = '';
    for (;;) {
      if (i >= s.length) throw new Error(`${where}: unterminated label value`);
      const c = s[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        if (e === 'n') v += '\n'; else if (e === '\\' || e === '"') v += e;
        else throw new Error(`${where}: bad escape \\${e}`);
      } else v += c;
    }
    if (!LABEL.test(m[1]) || m[1] in labels) throw new Error(`${where}: bad or repeated label ${m[1]}`);
    labels[m[1]] = v;
    if (s[i] === ',') i++;
    else if (i < s.length) throw new Error(`${where}: expected , after label`);
  }
  return labels;
}

// Returns Map family name -> { help, type, samples: [{ name, labels, value }] }.
function parse(text) {
  if (!text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const fams = new Map();
  const familyOf = (name) => {
    if (fams.has(name)) return fams.get(name);
    for (const suf of ['_bucket', '_sum', '_count']) {
      if (name.endsWith(suf)) {
        const f = fams.get(name.slice(0, -suf.length));
        if (f && (f.type === 'histogram' || (f.type === 'summary' && suf !== '_bucket'))) return f;
      }
    }
    return null;
  };
  text.slice(0, -1).split('\n').forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line === '') return;
    let m;
    if ((m = line.match(/^# HELP (\S+) (.*)$/))) {
      if (!NAME.test(m[1])) throw new Error(`${where}: bad name ${m[1]}`);
      const f = fams.get(m[1]) || { name: m[1], samples: [] };
      if (f.help !== undefined) throw new Error(`${where}: second HELP for ${m[1]}`);
      if (f.samples.length) throw new Error(`${where}: HELP after samples of ${m[1]}`);
      f.help = m[2];
      fams.set(m[1], f);
      return;
    }
    if ((m = line.match(/^# TYPE (\S+) (\S+)$/))) {
      if (!NAME.test(m[1]) || !TYPES.has(m[2])) throw new Error(`${where}: bad TYPE line`);
      const f = fams.get(m[1]) || { name: m[1], samples: [] };
      if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${m[1]}`);
      if (f.samples.length) throw new Error(`${where}: TYPE after samples of ${m[1]}`);
      f.type = m[2];
      fams.set(m[1], f);
      return;
    }
    if (line.startsWith('#')) return;
    m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/);
    if (!m) throw new Error(`${where}: not a sample: ${line}`);
    const f = familyOf(m[1]);
    if (!f || !f.type) throw new Error(`${where}: sample ${m[1]} before its TYPE`);
    const labels = m[3] !== undefined ? parseLabels(m[3], where) : {};
    const key = m[1] + JSON.stringify(labels);
    if (f.samples.some((s) => s.key === key)) throw new Error(`${where}: duplicate sample ${key}`);
    f.samples.push({ name: m[1], labels, value: parseValue(m[4], where), key });
  });
  for (const f of fams.values()) {
    if (f.help === undefined || f.type === undefined) throw new Error(`${f.name}: HELP and TYPE are both needed`);
    if (f.type === 'counter' && !f.name.endsWith('_total')) throw new Error(`${f.name}: a counter must end in _total`);
    if (f.type !== 'counter' && f.name.endsWith('_total')) throw new Error(`${f.name}: _total on a ${f.type}`);
    if (f.type === 'counter') for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`${f.name}: negative counter`);
    if (f.type === 'histogram') checkHistogram(f);
  }
  return fams;
}

function checkHistogram(f) {
  const groups = new Map();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(rest);
    if (!groups.has(k)) groups.set(k, { buckets: [], sum: undefined, count: undefined });
    const g = groups.get(k);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      g.buckets.push([parseValue(le, f.name), s.value]);
    } else if (s.name.endsWith('_sum')) g.sum = s.value;
    else if (s.name.endsWith('_count')) g.count = s.value;
  }
  for (const g of groups.values()) {
    if (g.sum === undefined || g.count === undefined) throw new Error(`${f.name}: _sum and _count needed`);
    const b = g.buckets;
    if (!b.length || b[b.length - 1][0] !== Infinity) throw new Error(`${f.name}: last bucket must be +Inf`);
    for (let i = 1; i < b.length; i++)
      if (!(b[i][0] > b[i - 1][0]) || b[i][1] < b[i - 1][1]) throw new Error(`${f.name}: buckets not cumulative`);
    if (b[b.length - 1][1] !== g.count) throw new Error(`${f.name}: +Inf bucket != _count`);
  }
}

// The one value of a family (optionally the sample with these labels).
function value(fams, name, labels = {}) {
  const f = fams.get(name) || fams.get(name.replace(/_(bucket|sum|count)$/, ''));
  if (!f) return undefined;
  const s = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : undefined;
}

module.exports = { parse, value };
