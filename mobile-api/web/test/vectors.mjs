// Runs the browser's draw verifier (shared/verify/verify.js) over every
// test vector of backend/draw/testdata/vectors/manifest.json — the same
// files the Go and Python verifiers check — and requires each vector's
// verdict: ok, or a mismatch at exactly the path the manifest names.
//
//   node test/vectors.mjs PATH/TO/manifest.json
//
// The last line is "N passed, N failed"; the exit status is 1 on any
// failure.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { verifyRecord, verifyReplacement, verifyReplacements } from '../shared/verify/verify.js';

const manifest = process.argv[2];
if (!manifest) {
  console.error('usage: node test/vectors.mjs backend/draw/testdata/vectors/manifest.json');
  process.exit(2);
}
const dir = dirname(manifest);
const load = (f) => JSON.parse(readFileSync(join(dir, f), 'utf8'));
const { vectors } = JSON.parse(readFileSync(manifest, 'utf8'));
let passed = 0;
let failed = 0;
for (const v of vectors) {
  const name = v.file ?? v.files.join('+');
  let got;
  if (v.type === 'draw') got = await verifyRecord(load(v.file), { history: (v.history ?? []).map(load) });
  else if (v.type === 'replacement') got = await verifyReplacement(load(v.file));
  else if (v.type === 'replacements') got = await verifyReplacements(load(v.draw), v.files.map(load));
  else got = { ok: false, path: '', message: `unknown vector type ${v.type}` };
  const want = v.expect === 'ok' ? 'ok' : `mismatch at ${v.path}`;
  const have = got.ok ? 'ok' : `mismatch at ${got.path}`;
  if (want === have) {
    passed++;
    console.log(`ok    ${name}: ${have}`);
  } else {
    failed++;
    console.log(`FAIL  ${name}: expected ${want}, got ${have}${got.ok ? '' : ` (${got.message})`}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
