// Validates real ib-bridge-http responses against schemas/openapi.yaml (read with the npm `yaml` package), whose
// 200 and error schemas are relative $refs to the bus JSON Schemas in schemas/ (loaded here by their $id).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const YAML = require('yaml');

const DIR = path.join(__dirname, '../../schemas');
const doc = YAML.parse(fs.readFileSync(path.join(DIR, 'openapi.yaml'), 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
for (const f of fs.readdirSync(DIR).filter((n) => n.endsWith('.json'))) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8')));
ajv.addSchema(doc, 'openapi.json');
const cache = new Map();

const ptr = (segs) => segs.map((s) => encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

// Checks `json` against the documented response of (route template, method, status). Throws with the
// ajv errors when it does not match or when the API does not document that response.
function check(route, method, status, json, headers) {
  const op = doc.paths[route] && doc.paths[route][method.toLowerCase()];
  if (!op) throw new Error(`openapi: ${method} ${route} is not documented`);
  let key = String(status);
  let resp = op.responses[key];
  if (!resp) { key = 'default'; resp = op.responses.default; }
  if (!resp) throw new Error(`openapi: ${method} ${route} does not document status ${status}`);
  let segs = ['paths', route, method.toLowerCase(), 'responses', key];
  if (resp.$ref) { segs = resp.$ref.slice(2).split('/'); resp = segs.reduce((o, s) => o[s], doc); }
  const id = `openapi.json#/${ptr([...segs, 'content', 'application/json', 'schema'])}`;
  if (!resp.content || !resp.content['application/json']) throw new Error(`openapi: no JSON schema for ${method} ${route} ${status}`);
  let v = cache.get(id);
  if (!v) { v = ajv.compile({ $ref: id }); cache.set(id, v); }
  if (!v(json)) throw new Error(`openapi: ${method} ${route} ${status}: ${ajv.errorsText(v.errors.slice(0, 5))}\n${JSON.stringify(json).slice(0, 2000)}`);
  for (const [name, h] of Object.entries(resp.headers || {})) {   // documented headers must be there
    if (!headers) break;
    const val = headers[name.toLowerCase()];
    if (val === undefined) throw new Error(`openapi: ${method} ${route} ${status}: header ${name} missing`);
    if (h.schema && h.schema.type === 'integer' && !/^\d+$/.test(val)) throw new Error(`openapi: header ${name}: ${val} is not an integer`);
  }
  return true;
}

module.exports = { check, doc };
