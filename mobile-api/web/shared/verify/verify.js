// A third, independent implementation of the draw (beside the Go package
// backend/draw and backend/draw/verify_draw.py), written from the
// algorithm's specification, with WebCrypto. verifyRecord(record) resolves
// to {ok: true} or {ok: false, mismatch: "<the first difference>"}.
//
// Until the specification of suiji-draw/2 is published this checks only
// what needs no algorithm: the seed against its commitment.
export async function verifyRecord(record) {
  const commitment = await sha256Hex(record.seed ?? '');
  if (commitment !== record.seed_commitment) {
    return { ok: false, mismatch: `seed_commitment: 种子的 SHA-256 为 ${commitment}，记录中为 ${record.seed_commitment}` };
  }
  return { ok: false, mismatch: '浏览器验证器尚未实现此算法版本：' + (record.algorithm_version ?? '') };
}

const encoder = new TextEncoder();

export async function sha256Hex(text) {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
