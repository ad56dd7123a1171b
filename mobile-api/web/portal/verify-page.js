// The verifier's page glue: on a draw's page it re-computes the published
// record (button), and on any portal page with #verify-file it checks a
// record file the citizen picks. The verdict is 已验证 or the first
// mismatch, in the portal's words (portal/zh-CN.json).
import strings from './zh-CN.json' with { type: 'json' };
import { verifyRecord } from '../shared/verify/verify.js';

const t = (key) => strings[key] ?? key;
const section = document.getElementById('verifier');
const verdict = document.getElementById('verdict');
const runButton = document.getElementById('verify-run');
const fileInput = document.getElementById('verify-file');

function show(kind, text) {
  verdict.className = `verdict ${kind}`;
  verdict.textContent = text;
}

async function check(loadRecord) {
  show('busy', t('verify.running'));
  try {
    const record = await loadRecord();
    const result = await verifyRecord(record);
    if (result.ok) {
      show('ok', `${t('verify.ok')}：${t('verify.okDetail')}`);
    } else {
      show('bad', `${t('verify.fail')}：${result.path ? `${result.path} — ` : ''}${result.message}`);
    }
  } catch (err) {
    show('bad', `${t('verify.fail')}：${err.message}`);
  }
}

if (!globalThis.crypto?.subtle) {
  show('bad', t('verify.noCrypto'));
} else {
  const url = section?.dataset.recordUrl;
  if (url && runButton) {
    runButton.hidden = false;
    runButton.addEventListener('click', () => check(async () => {
      const resp = await fetch(url, { headers: { Accept: 'application/json' } });
      if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
      return resp.json();
    }));
  }
  if (fileInput) {
    fileInput.hidden = false;
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      if (file) check(async () => JSON.parse(await file.text()));
    });
  }
}
