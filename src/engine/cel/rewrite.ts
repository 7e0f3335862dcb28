/**
 * Source rewrites for CEL forms that cel-js rejects but cel-go accepts. Applied only when the original fails to
 * compile, so valid expressions are never touched.
 *
 * `has(f(x).a.b)` — cel-js only allows `has()` over a selection on a plain operand; cel-go allows any operand.
 * For maps (Kubernetes objects are maps) `has(e.f)` is exactly `e.?f.hasValue()`, which cel-js accepts.
 */

/** Index of the `)` matching the `(` at `open`, skipping string literals; -1 when unbalanced. */
function matchingParen(src: string, open: number): number {
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      const quote = c;
      for (i++; i < src.length && src[i] !== quote; i++) if (src[i] === '\\') i++;
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

const HAS_CALL = /(^|[^A-Za-z0-9_.])has\(/g;
const LAST_SELECT = /^([\s\S]*)\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*$/;

/** Rewrites `has(<call>...<.field>)` to `(<call>...).?field.hasValue()`; returns the input when nothing applies. */
export function rewriteHasOverCalls(src: string): string {
  let out = '';
  let last = 0;
  HAS_CALL.lastIndex = 0;
  for (let m = HAS_CALL.exec(src); m !== null; m = HAS_CALL.exec(src)) {
    const open = m.index + m[1]!.length + 3;
    const close = matchingParen(src, open);
    if (close < 0) break;
    const inner = src.slice(open + 1, close);
    const sel = LAST_SELECT.exec(inner);
    // Only operands with a call need the rewrite; `has(a.b)` already compiles.
    if (sel === null || !sel[1]!.includes('(')) continue;
    out += `${src.slice(last, m.index + m[1]!.length)}(${rewriteHasOverCalls(sel[1]!)}).?${sel[2]!}.hasValue()`;
    last = close + 1;
    HAS_CALL.lastIndex = last;
  }
  return last === 0 ? src : out + src.slice(last);
}

/** Start index of the receiver expression that ends just before `end` (identifiers, dots, calls, indexes). */
function receiverStart(src: string, end: number): number {
  let i = end - 1;
  while (i >= 0) {
    const c = src[i]!;
    if (c === ')' || c === ']') {
      const open = c === ')' ? '(' : '[';
      let depth = 0;
      for (; i >= 0; i--) {
        if (src[i] === c) depth++;
        else if (src[i] === open && --depth === 0) break;
      }
      i--;
      continue;
    }
    if (/[A-Za-z0-9_.?]/.test(c)) {
      i--;
      continue;
    }
    break;
  }
  return i + 1;
}

/**
 * cel-go evaluates `x.orValue(d)` on a value that is not optional (e.g. `container.volumeMounts.orValue([])`,
 * used by Kyverno's own policies); cel-js rejects it at run time. Wraps such receivers — the ones with no
 * optional selection (`.?`, `[?`) — in `optional.of(…)`, which gives the same result for present values.
 */
export function rewriteOrValueOnPlainValues(src: string): string {
  let out = src;
  let from = out.length;
  for (;;) {
    const at = out.lastIndexOf('.orValue(', from - 1);
    if (at < 0) break;
    const start = receiverStart(out, at);
    const receiver = out.slice(start, at);
    from = start;
    if (
      receiver === '' ||
      receiver.includes('.?') ||
      receiver.includes('[?') ||
      receiver.startsWith('optional.')
    ) {
      continue;
    }
    out = `${out.slice(0, start)}optional.of(${receiver})${out.slice(at)}`;
  }
  return out;
}
