// npm.js — the npm packages of the shared node package (tests/node/package.json, installed by
// scripts/lib/deps.sh with `npm ci` here) for the tests that live in their area folder.
// Node resolves a bare require('ws') by walking up from the requiring file, and tests/<area>/x.test.js
// never passes tests/node/node_modules; the `require` of this module starts here, so it always finds
// them — under ctest, from scripts/* and by hand alike, with no NODE_PATH to set.
//   const npm = require('../node/npm');
//   const WebSocket = npm('ws');
//   const { Decoder } = npm('@stoqey/ib/dist/core/io/decoder');
'use strict';
module.exports = (name) => require(name);
