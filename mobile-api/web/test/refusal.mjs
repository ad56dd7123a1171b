// The refusals as the console and the phone app show them
// (shared/refusal.js), checked in Node against each app's own strings:
// Chinese first — the kind of refusal, the fields the input got wrong by
// their labels — and the server's English words after, in brackets.
// Run by TestRefusalsReadInChinese (backend/cmd/suiji).
import assert from 'node:assert/strict';
import { ApiError } from '../shared/api.js';
import { describeRefusal, refusalHead } from '../shared/refusal.js';
import { t as consoleT } from '../console/strings.js';
import { t as appT } from '../app/strings.js';

const api = (status, error, retryAfter) => new ApiError(status, error === undefined ? null : { error }, retryAfter);

let passed = 0;
let failed = 0;
const cases = [
  ['a bad input names its fields by their labels, once each',
    consoleT, api(400, { code: 'EINVALID', message: 'invalid replacement', fields: { reason: 'required', 'location.lat': 'x', 'location.lng': 'y' } }),
    '输入有误，请检查：原因、位置（invalid replacement；reason: required；location.lat: x；location.lng: y）'],
  ['a view names a field otherwise where the console label would mislead',
    consoleT, api(400, { code: 'EINVALID', message: 'invalid feedback', fields: { method: 'direct or postal' } }),
    '输入有误，请检查：送达方式（invalid feedback；method: direct or postal）', { method: '送达方式' }],
  ['a field the app has no label for is named as the API names it',
    consoleT, api(400, { code: 'EINVALID', message: 'bad', fields: { zzz: 'unknown' } }), '输入有误，请检查：zzz（bad；zzz: unknown）'],
  ['a record changed meanwhile says so, without asking to check a field',
    appT, api(409, { code: 'ECONFLICT', message: 'stale version', fields: { version: 'stale' } }),
    '记录已被他人修改，请刷新后重试（stale version；version: stale）'],
  ['a conflict names no fields to check',
    consoleT, api(409, { code: 'ECONFLICT', message: 'a replacement is pending', fields: { idempotency_key: 'in_progress' } }),
    '与当前数据冲突，未执行（a replacement is pending；idempotency_key: in_progress）'],
  ['an answer without the API\'s body takes its kind from the status',
    consoleT, api(502), '服务暂时不可用，请稍后再试（HTTP 502）'],
  ['the rate limit', appT, api(429), '操作过于频繁，请稍后再试（HTTP 429）'],
  ['a refusal the phone kept in its outbox (a plain object)',
    appT, { status: 404, code: 'ENOTFOUND', message: 'task not found', fields: {} }, '对象不存在，或您无权查看（task not found）'],
  ['object storage (the phone\'s uploads)', appT, api(403, { code: 'ESTORAGE', message: 'object storage answered 403: ' }),
    '证据文件未被存储服务器接受，请重新提交（object storage answered 403: ）'],
  ['the network', consoleT, new TypeError('Failed to fetch'), '无法连接服务器，请检查网络（Failed to fetch）'],
  ['anything else', consoleT, new Error('file unreadable'), '操作未完成（file unreadable）'],
  ['a fault of the page is not the network', consoleT, new TypeError('Cannot read properties of undefined (reading \'id\')'),
    '操作未完成（Cannot read properties of undefined (reading \'id\')）'],
];

for (const [name, t, err, want, labels] of cases) {
  try {
    assert.equal(describeRefusal(err, t, labels), want);
    passed++;
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}
// A badge has room for the headline alone.
for (const [err, want] of [
  [{ status: 409, code: 'ECONFLICT', message: 'the task is cancelled', fields: {} }, '与当前数据冲突，未执行'],
  [{ status: 409, code: 'ECONFLICT', message: 'stale', fields: { version: 'stale' } }, '记录已被他人修改，请刷新后重试'],
  [{ status: 400, code: 'ENOPE', message: 'x', fields: {} }, '操作未完成'],
]) {
  try {
    assert.equal(refusalHead(err, appT), want);
    passed++;
  } catch (e) {
    failed++;
    console.log(`FAIL headline: ${e.message}`);
  }
}
// Every code the API answers with has its headline in both apps.
for (const code of process.argv.slice(2)) {
  for (const [app, t] of [['console', consoleT], ['app', appT]]) {
    if (refusalHead({ status: 400, code, fields: {} }, t) === refusalHead({ status: 400, code: 'ENOSUCHCODE', fields: {} }, t)) {
      failed++;
      console.log(`FAIL ${app} has no refusal.${code}`);
    } else passed++;
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
