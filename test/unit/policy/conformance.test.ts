/**
 * Kyverno's own policy tests as a regression gate (strict scoring: the expected result must be produced).
 * Thresholds from the issue: ≥95% in tier-a and tier-b, ≥85% in tier-c and cel-clusterpolicy (and, ours,
 * ≥85% in validatingpolicy).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { runConformance } from '../../../src/cli/commands/conformance.js';

const corpus = fileURLToPath(new URL('../../../../shared/conformance/kyverno-policies', import.meta.url));
const THRESHOLDS: Record<string, number> = {
  'tier-a': 95,
  'tier-b': 95,
  'tier-c': 85,
  'cel-clusterpolicy': 85,
};

describe('conformance (kyverno/policies, strict)', () => {
  it('meets the per-class thresholds', async () => {
    const scores = await runConformance(corpus, Object.keys(THRESHOLDS), true);
    assert.equal(scores.length, Object.keys(THRESHOLDS).length, 'every class folder is present');
    for (const s of scores) {
      const failures = s.reports
        .flatMap((r) =>
          r.cases
            .filter((c) => !c.ok)
            .map((c) => `${r.name}: ${c.policy}/${c.rule} ${c.resource}: ${c.reason ?? ''}`),
        )
        .slice(0, 10);
      assert.ok(s.passed + s.failed > 0, `${s.class} has expectations`);
      assert.ok(
        s.percent >= THRESHOLDS[s.class]!,
        `${s.class}: ${s.passed} passed, ${s.failed} failed (${s.percent.toFixed(1)}%) < ${THRESHOLDS[s.class]}%\n${failures.join('\n')}`,
      );
    }
  });
});
