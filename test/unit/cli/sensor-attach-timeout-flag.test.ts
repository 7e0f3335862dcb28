/** `run --sensor-attach-timeout`: a Go duration, refused with a clear reason otherwise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAttachTimeout } from '../../../src/cli/run/sensor-flags.js';

test('--sensor-attach-timeout takes a Go duration of at least 1ms', () => {
  assert.equal(parseAttachTimeout('90s'), 90_000);
  assert.equal(parseAttachTimeout(' 1m30s '), 90_000);
  assert.equal(parseAttachTimeout('2m'), 120_000);
  assert.equal(parseAttachTimeout('1ms'), 1);
  for (const bad of ['0', '0s', '500us', '-5s', '90', 'abc', '', '1y'])
    assert.throws(() => parseAttachTimeout(bad), /duration|at least 1ms/, bad);
  assert.throws(() => parseAttachTimeout('600h'), /under 24 days/);
});
