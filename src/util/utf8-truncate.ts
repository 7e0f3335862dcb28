/**
 * Truncation to a byte budget: the API server measures Event notes (and other fields) in UTF-8 bytes,
 * not characters. Hand-written because it is a few lines over Buffer and no vetted library cuts on a
 * code point boundary with the ellipsis counted in the budget.
 */

const ELLIPSIS = '…';
const ELLIPSIS_BYTES = Buffer.byteLength(ELLIPSIS);

/**
 * `value` unchanged when it fits in `maxBytes` UTF-8 bytes; else its longest prefix that, followed by
 * "…", fits, cut on a code point boundary (never half a surrogate pair or multi-byte sequence).
 */
export function truncateUtf8(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  if (maxBytes < ELLIPSIS_BYTES) return '';
  const buf = Buffer.from(value, 'utf8');
  let end = maxBytes - ELLIPSIS_BYTES;
  // Back up over continuation bytes (10xxxxxx) so the cut falls before a code point's first byte.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return `${buf.subarray(0, end).toString('utf8')}${ELLIPSIS}`;
}
