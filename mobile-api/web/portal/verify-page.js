// The verifier's page glue: on a draw's page it re-computes the published
// record and then the draw's replacements in order (button); on a
// replacement's page, that replacement; and on any portal page with
// #verify-file it checks a record file the citizen picks — a draw or a
// replacement, told apart by its type — against itself, leaving its
// commitment to compare with the one published. A draw record (of
// suiji-draw/2, from the page or a file) is also checked against the
// year's other draw records this site publishes (SPEC §6.3: each
// candidate's draw_ids, which decide the drawn-twice-this-year
// exclusions), as `suiji verify-draw --history` does. The verdict is 已验证
// or the first mismatch, in the portal's words (portal/zh-CN.json); a
// record that could not be read is neither, and one whose year's history
// could not be read says that this part was not checked.
import strings from './zh-CN.json' with { type: 'json' };
import { verifyRecord, verifyReplacement, verifyReplacements } from '../shared/verify/verify.js';

// t is the portal's text of key with {name} filled from values.
const t = (key, values = {}) => Object.entries(values).reduce((s, [k, v]) => s.replaceAll(`{${k}}`, String(v)), strings[key] ?? key);
const section = document.getElementById('verifier');
const verdict = document.getElementById('verdict');
const runButton = document.getElementById('verify-run');
const fileInput = document.getElementById('verify-file');

function show(kind, text) {
  verdict.className = `verdict ${kind}`;
  verdict.textContent = text;
}

// FetchFailed is a record that could not be read (the network, the
// portal's rate limit): nothing was verified, which is not a mismatch.
class FetchFailed extends Error {}

async function fetchJSON(url) {
  let resp;
  try {
    resp = await fetch(url, { headers: { Accept: 'application/json' } });
  } catch (err) {
    throw new FetchFailed(err.message);
  }
  if (!resp.ok) throw new FetchFailed(`HTTP ${resp.status}`);
  try {
    return await resp.json();
  } catch (err) {
    throw new FetchFailed(err.message); // cut off on the way: not read
  }
}

// --- the year's history (SPEC §6.3) ----------------------------------------

// The public API this page reads the year's records from.
const API = new URL('/public/v1/', location.href);
// Bounds of what one check reads: the year's plans (one list of attempts
// each) and the other plans' drawn attempts (one record each), fetched a
// few at a time. Beyond them the history is not checked, and the page says
// so (the command-line verifiers have no such bound).
const MAX_PLANS = 200;
const MAX_HISTORY = 100;
const PARALLEL = 4;

// HistoryUnchecked is a year whose other records could not all be read
// here: the record is verified, its history facts are not.
class HistoryUnchecked extends Error {}

// eachLimited runs fn over items, at most PARALLEL at a time, in order of
// the results.
async function eachLimited(items, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return out;
}

// yearHistory reads every drawn attempt of the record's year that another
// plan made: the year's published plans, each plan's attempts, each drawn
// attempt's record. Failed attempts select nothing and are not read. A
// suiji-draw/1 record is given the year and time published beside it.
async function yearHistory(record) {
  const year = record.year;
  show('busy', t('verify.historyFetching', { year }));
  const plansURL = new URL('plans', API);
  plansURL.searchParams.set('year', String(year));
  const plans = ((await fetchJSON(plansURL)).plans ?? []).filter((p) => p.id !== record.plan_id);
  if (plans.length > MAX_PLANS) throw new HistoryUnchecked(t('verify.historyTooManyPlans', { year, max: MAX_PLANS }));
  const attempts = (await eachLimited(plans, async (p) => {
    const list = (await fetchJSON(new URL(`plans/${encodeURIComponent(p.id)}/draws`, API))).draws ?? [];
    return list.filter((d) => d.outcome !== 'failed').map((d) => ({ ...d, year: p.year }));
  })).flat();
  if (attempts.length > MAX_HISTORY) throw new HistoryUnchecked(t('verify.historyTooMany', { year, max: MAX_HISTORY }));
  return eachLimited(attempts, async (d) => {
    const h = await fetchJSON(new URL(`draws/${encodeURIComponent(d.id)}`, API));
    return h.algorithm_version === 'suiji-draw/1' ? { year: d.year, created_at: d.created_at, ...h } : h;
  });
}

// verifyDraw re-computes a draw record and, for one of suiji-draw/2, checks
// its history against the year's other records, each re-computed first
// (as the Go verifier does). Resolves to a verdict; when ok, history says
// what became of the history: {n} records checked, or why it was not.
async function verifyDraw(record) {
  if (record?.algorithm_version !== 'suiji-draw/2' || !Array.isArray(record.candidates)) return verifyRecord(record);
  const year = record.year;
  let history;
  try {
    history = await yearHistory(record);
  } catch (err) {
    if (err instanceof FetchFailed) err = new HistoryUnchecked(t('verify.historyUnchecked', { year, message: err.message }));
    if (!(err instanceof HistoryUnchecked)) throw err;
    show('busy', t('verify.running'));
    const v = await verifyRecord(record);
    return v.ok ? { ...v, history: { checked: false, why: err.message } } : v;
  }
  for (const [i, h] of history.entries()) {
    show('busy', t('verify.historyVerifying', { year, i: i + 1, n: history.length }));
    const v = await verifyRecord(h);
    if (!v.ok) {
      // The year's records do not hold together: say so, unless the
      // record itself is wrong already.
      show('busy', t('verify.running'));
      const own = await verifyRecord(record);
      if (!own.ok) return own;
      return { ok: false, path: '', message: t('verify.historyRecordBad', { year, id: h.id, path: v.path ? `${v.path}：` : '', message: v.message }) };
    }
  }
  show('busy', t('verify.running'));
  const v = await verifyRecord(record, { history });
  return v.ok ? { ...v, history: { checked: true, n: history.length } } : v;
}

// historyNote is what the verdict says of the history.
function historyNote(record, history) {
  if (!history) return '';
  if (!history.checked) return history.why;
  return t(history.n ? 'verify.historyOk' : 'verify.historyNone', { year: record.year, n: history.n });
}

// verifyAny re-computes a record of either kind (SPEC §11 records say
// "type": "replacement"; draw records are the rest).
const verifyAny = (record) => (record?.type === 'replacement' ? verifyReplacement(record) : verifyDraw(record));

// check runs one verification: run resolves to {ok, path, message} and,
// when ok, to the detail to show and what became of the history (note): a
// history not checked leaves the verdict short of 已验证.
async function check(run) {
  show('busy', t('verify.running'));
  try {
    const result = await run();
    if (result.ok && result.unchecked) {
      show('partial', `${t('verify.partial')}：${result.detail ?? t('verify.okDetail')}${result.note}`);
    } else if (result.ok) {
      show('ok', `${t('verify.ok')}：${result.detail ?? t('verify.okDetail')}${result.note ?? ''}`);
    } else {
      show('bad', `${t('verify.fail')}：${result.path ? `${result.path} — ` : ''}${result.message}`);
    }
  } catch (err) {
    if (err instanceof FetchFailed) show('busy', t('verify.fetchFailed', { message: err.message }));
    else show('bad', `${t('verify.fail')}：${err.message}`);
  }
}

// replacementRecords reads every page of a draw's replacement records
// (the API gives a few at a time: each carries its roster), in order.
async function replacementRecords(listURL) {
  const list = [];
  for (let after = 0, pages = 0; pages < 200; pages++) {
    const url = new URL(listURL, location.href);
    url.searchParams.set('limit', '50');
    url.searchParams.set('after_seq', String(after));
    const page = await fetchJSON(url);
    list.push(...(page.replacements ?? []));
    after = page.next_after_seq ?? 0;
    if (!after) break;
  }
  return list;
}

// withHistory gives an ok verdict of a draw what check shows of its
// history.
const withHistory = (record, result, detail) => ({
  ok: true, detail, note: historyNote(record, result.history), unchecked: result.history?.checked === false,
});

// A draw's page verifies the draw with its history, then each of its
// replacements on the group then in force (verifyReplacements).
async function verifyDrawPage(recordURL, replacementsURL) {
  const record = await fetchJSON(recordURL);
  const result = await verifyDraw(record);
  if (!result.ok) return result;
  const list = replacementsURL ? await replacementRecords(replacementsURL) : [];
  if (list.length === 0) return withHistory(record, result);
  const all = await verifyReplacements(record, list);
  return all.ok ? withHistory(record, result, t('verify.okWithReplacements', { n: list.length })) : all;
}

if (!globalThis.crypto?.subtle) {
  show('bad', t('verify.noCrypto'));
} else {
  const url = section?.dataset.recordUrl;
  if (url && runButton) {
    runButton.hidden = false;
    runButton.addEventListener('click', () => check(() => (section.dataset.kind === 'replacement'
      ? fetchJSON(url).then(verifyReplacement).then((v) => (v.ok ? { ok: true, detail: t('verify.okReplacement') } : v))
      : verifyDrawPage(url, section.dataset.replacementsUrl))));
  }
  if (fileInput) {
    fileInput.hidden = false;
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      // A file is checked against itself: whether it is the record
      // published here is its commitment's to say, which the citizen
      // compares with the one this site published before the draw.
      if (file) {
        check(async () => {
          const record = JSON.parse(await file.text());
          const v = await verifyAny(record);
          return v.ok ? withHistory(record, v, t('verify.okFile', { commitment: record.seed_commitment ?? '' })) : v;
        });
      }
    });
  }
}
