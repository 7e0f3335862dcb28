import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { truncateUtf8 } from '../../../src/util/utf8-truncate.js';

describe('truncateUtf8', () => {
  it('leaves a value within the byte budget unchanged', () => {
    assert.equal(truncateUtf8('abc', 3), 'abc');
    assert.equal(truncateUtf8('€', 3), '€');
  });
  it('counts the ellipsis in the budget', () => {
    const out = truncateUtf8('a'.repeat(2000), 1024);
    assert.equal(Buffer.byteLength(out), 1024);
    assert.ok(out.endsWith('…'));
  });
  it('never cuts a multi-byte character or a surrogate pair in half', () => {
    for (const ch of ['é', '€', '😀']) {
      for (let max = 3; max < 20; max++) {
        const out = truncateUtf8(ch.repeat(20), max);
        assert.ok(Buffer.byteLength(out) <= max, `${ch} ${max}`);
        assert.ok(!out.includes('\ufffd'), `${ch} ${max}: no replacement character`);
        assert.equal(out.replace(/…$/, ''), ch.repeat(out.replace(/…$/, '').length / ch.length));
      }
    }
  });
});
