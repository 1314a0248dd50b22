#!/usr/bin/env node
// standalone.test.js — the repository stands alone: no tracked file names a path outside it.
//   node tests/repo/standalone.test.js [REPO_ROOT]     exit 0 when clean, 1 listing every offence
// Looks for (1) a relative path that climbs above the repository root from the file it is written
// in ("../../x" in tests/http/a.js), (2) the repository root followed by ".." in scripts and CMake
// (IBB_ROOT/.., CMAKE_SOURCE_DIR/..), (3) the sibling folder this project once read its vectors and
// notes from, and (4) absolute paths of the machines it was written on. Reads `git ls-files`: run
// it in a git checkout (ctest does); anything else is a failure, never a skip.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(process.argv[2] || path.join(__dirname, '../..'));
let files;
try {
  files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
} catch (e) {
  console.error(`repo.standalone: git ls-files failed in ${root}: ${e.message}`);
  process.exit(1);
}
if (files.length < 10) {
  console.error(`repo.standalone: only ${files.length} tracked files in ${root}: not the repository?`);
  process.exit(1);
}
// Spelled in pieces so this file does not name them itself.
const UP = '..' + '/';
const fixed = [
  new RegExp('\\.\\./' + 'shared\\b'),
  new RegExp('(IBB_ROOT|CMAKE_SOURCE_DIR\\}|CMAKE_CURRENT_SOURCE_DIR\\}|__dirname)["\']?/\\.\\.(?=["\'/\\s]|$)'),
  new RegExp('/' + 'work/(shared|main|i[0-9]+)\\b'),
  new RegExp('/' + 'home/[a-z]'),
];
const climb = /(?:\.\.\/)+/g;
const offences = [];
for (const f of files) {
  let text;
  try { text = fs.readFileSync(path.join(root, f)); } catch { continue; }   // deleted in the work tree
  if (text.includes(0)) continue;                                           // binary
  const depth = f.split('/').length - 1;
  text.toString('utf8').split('\n').forEach((line, i) => {
    for (const re of fixed) if (re.test(line)) offences.push(`${f}:${i + 1}: ${line.trim().slice(0, 160)}`);
    for (const m of line.matchAll(climb)) {
      if (m[0].length / UP.length > depth)
        offences.push(`${f}:${i + 1}: climbs ${m[0].length / UP.length} levels from depth ${depth}: ${line.trim().slice(0, 160)}`);
    }
  });
}
if (offences.length) {
  console.error(`repo.standalone: ${offences.length} reference(s) to paths outside the repository:`);
  for (const o of [...new Set(offences)]) console.error('  ' + o);
  process.exit(1);
}
console.log(`repo.standalone: ${files.length} tracked files, none names a path outside the repository`);
