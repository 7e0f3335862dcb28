import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BEHAVIORS, isBehavior } from '../../../src/events/types.js';

test('the behavior vocabulary has the twelve v1 behaviors and rejects others', () => {
  assert.equal(BEHAVIORS.length, 12);
  assert.ok(isBehavior('volume-mount'));
  assert.ok(!isBehavior('volume_mount'));
});
