// A small YAML-subset reader for the repo's own YAML files (docker-compose.yml, schemas/openapi.yaml),
// because tests/node has no yaml package. Supported: block mappings and sequences by indentation,
// "- key: value" items, plain / 'single' / "double" quoted scalars, flow [..] and {..} collections,
// comments. Not supported (throws): anchors, tags, multi-document, block scalars (| >), multi-line
// plain scalars. The files are written inside this subset on purpose.
'use strict';

function scalar(s, where) {
  s = s.trim();
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (/^[-+]?\d+$/.test(s)) return Number(s);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(s)) return Number(s);
  if (s[0] === '"') return JSON.parse(s);
  if (s[0] === "'") return s.slice(1, -1).replace(/''/g, "'");
  if (/^[&*!|>]/.test(s)) throw new Error(`${where}: unsupported YAML feature: ${s}`);
  return s;
}

// Flow collections: [a, "b", {c: d}] and {a: 1, b: [x]}.
function flow(text, where) {
  let i = 0;
  const ws = () => { while (i < text.length && /\s/.test(text[i])) i++; };
  const token = (stops) => {
    ws();
    if (text[i] === '"' || text[i] === "'") {
      const q = text[i]; let j = i + 1;
      while (j < text.length && text[j] !== q) j += text[j] === '\\' && q === '"' ? 2 : 1;
      const t = text.slice(i, j + 1); i = j + 1; return scalar(t, where);
    }
    let j = i;
    while (j < text.length && !stops.includes(text[j])) j++;
    const t = text.slice(i, j); i = j; return scalar(t, where);
  };
  const value = () => {
    ws();
    if (text[i] === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) { a.push(value()); ws(); if (text[i] === ',') { i++; continue; } if (text[i] === ']') { i++; return a; } throw new Error(`${where}: bad flow sequence`); }
    }
    if (text[i] === '{') {
      i++; const o = {}; ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        const k = token([':']); if (text[i] !== ':') throw new Error(`${where}: bad flow mapping`); i++;
        o[k] = value(); ws();
        if (text[i] === ',') { i++; continue; } if (text[i] === '}') { i++; return o; }
        throw new Error(`${where}: bad flow mapping`);
      }
    }
    return token([',', ']', '}']);
  };
  const v = value(); ws();
  if (i !== text.length) throw new Error(`${where}: trailing text in flow collection`);
  return v;
}

function stripComment(line) {
  let q = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) { if (c === '\\' && q === '"') i++; else if (c === q) q = null; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) return line.slice(0, i);
  }
  return line;
}

// Splits "key: rest" at the first ": " (or trailing ':') outside quotes; null when not a mapping entry.
function splitKey(s) {
  let q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) { if (c === '\\' && q === '"') i++; else if (c === q) q = null; continue; }
    if ((c === '"' || c === "'") && i === 0) { q = c; continue; }
    if ((c === '[' || c === '{') && i === 0) return null;
    if (c === ':' && (i + 1 === s.length || s[i + 1] === ' ')) return [scalar(s.slice(0, i), ''), s.slice(i + 1).trim()];
  }
  return null;
}

function parse(text, name = 'yaml') {
  const lines = [];
  text.split('\n').forEach((raw, n) => {
    if (/^\s*---\s*$/.test(raw) && n === 0) return;
    if (raw.includes('\t') && /^\s*\t/.test(raw)) throw new Error(`${name}:${n + 1}: tab indentation`);
    const l = stripComment(raw).replace(/\s+$/, '');
    if (l.trim() === '') return;
    lines.push({ ind: l.length - l.trimStart().length, text: l.trim(), n: n + 1 });
  });
  let pos = 0;
  const val = (s, where) => (s[0] === '[' || s[0] === '{' ? flow(s, where) : scalar(s, where));

  function block(ind) {
    const first = lines[pos];
    if (first.text.startsWith('- ') || first.text === '-') return seq(ind);
    return map(ind);
  }
  function map(ind, obj = {}) {
    while (pos < lines.length && lines[pos].ind === ind && !lines[pos].text.startsWith('- ')) {
      const { text: t, n } = lines[pos];
      const kv = splitKey(t);
      if (!kv) throw new Error(`${name}:${n}: expected "key: value"`);
      const [k, rest] = kv;
      if (Object.prototype.hasOwnProperty.call(obj, k)) throw new Error(`${name}:${n}: duplicate key ${k}`);
      pos++;
      if (rest !== '') obj[k] = val(rest, `${name}:${n}`);
      else if (pos < lines.length && lines[pos].ind > ind) obj[k] = block(lines[pos].ind);
      else if (pos < lines.length && lines[pos].ind === ind && lines[pos].text.startsWith('- ')) obj[k] = seq(ind);
      else obj[k] = null;
    }
    if (pos < lines.length && lines[pos].ind > ind) throw new Error(`${name}:${lines[pos].n}: bad indentation`);
    return obj;
  }
  function seq(ind) {
    const a = [];
    while (pos < lines.length && lines[pos].ind === ind && (lines[pos].text.startsWith('- ') || lines[pos].text === '-')) {
      const { text: t, n } = lines[pos];
      const rest = t === '-' ? '' : t.slice(2).trim();
      if (rest === '') { pos++; a.push(pos < lines.length && lines[pos].ind > ind ? block(lines[pos].ind) : null); continue; }
      const kv = splitKey(rest);
      if (kv) {
        // "- key: value" starts a mapping whose other keys sit at ind + 2
        const inner = ind + (t.length - rest.length);
        lines[pos] = { ind: inner, text: rest, n };
        a.push(map(inner));
      } else {
        pos++;
        a.push(val(rest, `${name}:${n}`));
      }
    }
    return a;
  }
  if (!lines.length) return null;
  const doc = block(lines[0].ind);
  if (pos !== lines.length) throw new Error(`${name}:${lines[pos].n}: unexpected content`);
  return doc;
}

module.exports = { parse };
