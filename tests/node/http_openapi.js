// Validates real ib-bridge-http responses against schemas/openapi.yaml (read with http_yaml.js).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');
const yaml = require('./http_yaml');

const doc = yaml.parse(fs.readFileSync(path.join(__dirname, '../../schemas/openapi.yaml'), 'utf8'), 'openapi.yaml');
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, 'openapi.json');
const cache = new Map();

const ptr = (segs) => segs.map((s) => encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

// Checks `json` against the documented response of (route template, method, status). Throws with the
// ajv errors when it does not match or when the API does not document that response.
function check(route, method, status, json) {
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
  if (!v(json)) throw new Error(`openapi: ${method} ${route} ${status}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(json)}`);
  return true;
}

module.exports = { check, doc };
