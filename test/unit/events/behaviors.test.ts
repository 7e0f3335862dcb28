import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS, isBehavior } from '../../../src/events/types.js';

test('the behavior vocabulary has the v1 behaviors plus network-accept and rejects others', () => {
  assert.equal(BEHAVIORS.length, 13);
  assert.ok(isBehavior('volume-mount'));
  assert.ok(isBehavior('network-accept'));
  assert.ok(!isBehavior('volume_mount'));
});
