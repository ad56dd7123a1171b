// The SHA-256 of an evidence file, computed in a worker so the page stays
// responsive: the file is read in 4 MiB slices and fed to hash-wasm's
// streaming hasher, so a 2 GB video never sits in memory whole. Messages:
// in {id, blob}; out {id, done, size} while reading, then {id, sha256} or
// {id, error}.
/* global hashwasm */
importScripts('/vendor/sha256.umd.min.js');

const SLICE = 4 << 20;

self.onmessage = async ({ data: { id, blob } }) => {
  try {
    const hasher = await hashwasm.createSHA256();
    hasher.init();
    for (let off = 0; off < blob.size; off += SLICE) {
      hasher.update(new Uint8Array(await blob.slice(off, off + SLICE).arrayBuffer()));
      self.postMessage({ id, done: Math.min(off + SLICE, blob.size), size: blob.size });
    }
    self.postMessage({ id, sha256: hasher.digest('hex') });
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};
