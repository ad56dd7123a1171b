// Runs the browser's draw verifier (shared/verify/verify.js) over every
// test vector of backend/draw/testdata/vectors/manifest.json — the same
// files the Go and Python verifiers check — and requires each vector's
// verdict: ok, or a mismatch at exactly the path the manifest names.
//
//   node test/vectors.mjs PATH/TO/manifest.json
//
// Then the cases of its own below the manifest's, made from those files:
// the history check (SPEC §6.3) given a year with no other draws, on a
// failed attempt, and with times that differ within one second.
//
// The last line is "N passed, N failed"; the exit status is 1 on any
// failure.
import { createHash } from 'node:crypto';
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
function expect(name, got, v) {
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
for (const v of vectors) {
  const name = v.file ?? v.files.join('+');
  let got;
  // A vector without history is checked without one: its draw_ids name
  // draws whose records it does not come with.
  if (v.type === 'draw') got = await verifyRecord(load(v.file), v.history ? { history: v.history.map(load) } : {});
  else if (v.type === 'replacement') got = await verifyReplacement(load(v.file));
  else if (v.type === 'replacements') got = await verifyReplacements(load(v.draw), v.files.map(load));
  else got = { ok: false, path: '', message: `unknown vector type ${v.type}` };
  expect(name, got, v);
}

// --- cases of this file's own, made from the vectors -----------------------

// poolSha256 is SPEC §4's hash of the candidates, written here apart from
// verify.js: a tampered copy made consistent in itself.
const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const field = (f) => {
  if (Array.isArray(f)) return `${f.length}:${[...f].sort(byteOrder).map(field).join('')}`;
  return typeof f === 'string' ? `${Buffer.byteLength(f)}:${f}` : String(f);
};
const poolSha256 = (candidates) => createHash('sha256').update(candidates.map((c) => `${[c.uscc, c.town, c.industry, c.status,
  c.categories, c.flags, c.non_cooperation, c.random_draws, c.draw_ids, c.covered_this_year, c.excluded].map(field).join(',')}\n`).join('')).digest('hex');

// fabricate names a draw that never was in candidate i's history, its count
// and covered flag to match and the pool hash re-computed: the record holds
// together, and only the year's other records can show the lie.
function fabricate(record, i) {
  const r = structuredClone(record);
  const c = r.candidates[i];
  c.draw_ids = [...c.draw_ids, 'plan-fabricated-1'];
  c.random_draws = c.draw_ids.length;
  c.covered_this_year = true;
  r.pool_sha256 = poolSha256(r.candidates);
  return r;
}
// timed is history-b committed at `committed`, with history-a (which drew
// three of its candidates, so b names plan-a-1 for them) drawn at `drawn`.
function timed(drawn, committed) {
  return [{ ...load('history-b.json'), committed_at: committed }, [{ ...load('history-a.json'), drawn_at: drawn }]];
}
const own = [
  // The fabricated draw passes a check without history (so what catches
  // it below is the history)...
  ['history-a.json + a fabricated draw id, no history', () => verifyRecord(fabricate(load('history-a.json'), 1)), { expect: 'ok' }],
  // ...but not one given the year's records, even when there are none
  // (before, an empty history was taken for none given).
  ['history-a.json + a fabricated draw id, history: none', () => verifyRecord(fabricate(load('history-a.json'), 1), { history: [] }),
    { expect: 'mismatch', path: 'candidates[1].draw_ids' }],
  ['history-b.json, history: none (it names plan-a-1)', () => verifyRecord(load('history-b.json'), { history: [] }),
    { expect: 'mismatch', path: 'candidates[0].draw_ids' }],
  // A failed attempt states its candidates' history too (as the Go and
  // Python verifiers check).
  ['failed.json + a fabricated draw id, history: none', () => verifyRecord(fabricate(load('failed.json'), 2), { history: [] }),
    { expect: 'mismatch', path: 'candidates[2].draw_ids' }],
  // Times within one second, as Go writes them (trailing zeros trimmed):
  // compared as strings, ".12Z" < ".1Z" and ".1Z" > ".12Z".
  ['history-b.json committed at .12 s, history-a.json drawn at .1 s: in force',
    () => { const [b, h] = timed('2026-02-20T08:00:00.1Z', '2026-02-20T08:00:00.12Z'); return verifyRecord(b, { history: h }); },
    { expect: 'ok' }],
  ['history-b.json committed at .1 s, history-a.json drawn at .12 s: not yet',
    () => { const [b, h] = timed('2026-02-20T08:00:00.12Z', '2026-02-20T08:00:00.1Z'); return verifyRecord(b, { history: h }); },
    { expect: 'mismatch', path: 'candidates[0].draw_ids' }],
  // Within one millisecond (Date.parse makes these equal).
  ['history-b.json committed at 120 ns, history-a.json drawn at 100 ns: in force',
    () => { const [b, h] = timed('2026-02-20T08:00:00.0000001Z', '2026-02-20T08:00:00.00000012Z'); return verifyRecord(b, { history: h }); },
    { expect: 'ok' }],
  // The same instant written with an offset: drawn at the commitment is
  // not before it.
  ['history-b.json committed at 09:00+08:00, history-a.json drawn at 01:00Z: not before',
    () => { const [b, h] = timed('2026-02-20T01:00:00Z', '2026-02-20T09:00:00+08:00'); return verifyRecord(b, { history: h }); },
    { expect: 'mismatch', path: 'candidates[0].draw_ids' }],
];
for (const [name, run, v] of own) expect(name, await run(), v);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
