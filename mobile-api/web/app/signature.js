// The signature pad: a canvas the inspector signs on with a finger (pointer
// events: touch, pen and mouse alike), turned into a PNG for the submit's
// signature evidence.
import { h } from '../shared/dom.js';

// signaturePad(label) returns {element, isEmpty(), clear(), toBlob()}.
export function signaturePad(label) {
  const canvas = h('canvas', { class: 'signature', role: 'img', 'aria-label': label });
  const ctx = canvas.getContext('2d');
  let strokes = 0;
  let last = null;

  // The bitmap follows the element's size on screen (and the pixel ratio),
  // so lines are sharp; sizing clears it, so it happens before signing.
  function fit() {
    const r = canvas.getBoundingClientRect();
    if (!r.width) return;
    const scale = window.devicePixelRatio || 1;
    canvas.width = Math.round(r.width * scale);
    canvas.height = Math.round(r.height * scale);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.lineWidth = 2.5;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.strokeStyle = '#111';
    strokes = 0;
  }
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  canvas.addEventListener('pointerdown', (e) => {
    if (canvas.width !== Math.round(canvas.getBoundingClientRect().width * (window.devicePixelRatio || 1))) fit();
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    ctx.beginPath();
    ctx.arc(last.x, last.y, 1, 0, Math.PI * 2);
    ctx.fill();
    strokes++;
    e.preventDefault();
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    ctx.beginPath();
    ctx.moveTo(last.x, last.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    last = p;
    e.preventDefault();
  });
  const end = () => { last = null; };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  return {
    element: canvas,
    isEmpty: () => strokes === 0,
    clear: fit,
    toBlob: () => new Promise((resolve) => canvas.toBlob((b) => resolve(new File([b], 'signature.png', { type: 'image/png' })), 'image/png')),
  };
}
