// The verifier's page glue: on a draw's page it re-computes the published
// record and then the draw's replacements in order (button); on a
// replacement's page, that replacement; and on any portal page with
// #verify-file it checks a record file the citizen picks — a draw or a
// replacement, told apart by its type — against itself, leaving its
// commitment to compare with the one published. The verdict is 已验证 or
// the first mismatch, in the portal's words (portal/zh-CN.json); a record
// that could not be read is neither.
import strings from './zh-CN.json' with { type: 'json' };
import { verifyRecord, verifyReplacement, verifyReplacements } from '../shared/verify/verify.js';

const t = (key) => strings[key] ?? key;
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
  return resp.json();
}

// verifyAny re-computes a record of either kind (SPEC §11 records say
// "type": "replacement"; draw records are the rest).
const verifyAny = (record) => (record?.type === 'replacement' ? verifyReplacement(record) : verifyRecord(record));

// check runs one verification: run resolves to {ok, path, message} and,
// when ok, to the detail to show.
async function check(run) {
  show('busy', t('verify.running'));
  try {
    const result = await run();
    if (result.ok) {
      show('ok', `${t('verify.ok')}：${result.detail ?? t('verify.okDetail')}`);
    } else {
      show('bad', `${t('verify.fail')}：${result.path ? `${result.path} — ` : ''}${result.message}`);
    }
  } catch (err) {
    if (err instanceof FetchFailed) show('busy', t('verify.fetchFailed').replace('{message}', err.message));
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

// A draw's page verifies the draw, then each of its replacements on the
// group then in force (verifyReplacements).
async function verifyDrawPage(recordURL, replacementsURL) {
  const record = await fetchJSON(recordURL);
  const result = await verifyRecord(record);
  if (!result.ok || !replacementsURL) return result;
  const list = await replacementRecords(replacementsURL);
  if (list.length === 0) return result;
  const all = await verifyReplacements(record, list);
  return all.ok ? { ok: true, detail: t('verify.okWithReplacements').replace('{n}', list.length) } : all;
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
          return v.ok ? { ok: true, detail: t('verify.okFile').replace('{commitment}', record.seed_commitment ?? '') } : v;
        });
      }
    });
  }
}
