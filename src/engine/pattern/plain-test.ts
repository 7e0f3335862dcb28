/**
 * A pass/not-pass test for patterns written with plain keys and scalar leaves only, the usual shape
 * of a runtime rule (`event: { process: { binary: "*\/sh" } }`). It gives the same answer as the
 * general walk (validate.ts) without what only anchors, arrays and metadata wildcards need: no
 * path strings, no match state, no error objects. Anything else compiles to undefined and keeps the
 * general walk; test/unit/engine/pattern-plain-test.test.ts checks the two agree.
 */
import type { PatternNode } from './compile.js';
import { isPlainObject } from './go-values.js';

export type PlainTest = (value: unknown) => boolean;

/** A closure tree for a plain pattern, or undefined when the pattern needs the general walk. */
export function compilePlainTest(node: PatternNode): PlainTest | undefined {
  switch (node.kind) {
    case 'leaf': {
      const matcher = node.matcher;
      // As validateElement: a scalar pattern applies to each element of a list value.
      return (value) => {
        if (!Array.isArray(value)) return matcher.test(value);
        for (const element of value) if (!matcher.test(element)) return false;
        return true;
      };
    }
    case 'map': {
      if (node.metadataExpansion !== undefined || node.tracked.length > 0) return undefined;
      const keys: string[] = [];
      const tests: PlainTest[] = [];
      for (const entry of node.entries) {
        // `+(key)` is mutate-only: validate reads its raw key as a plain key, as handleEntry does.
        if (entry.anchor !== undefined && entry.anchor.type !== 'addIfNotPresent') return undefined;
        const test = entry.value === '*' ? isPresent : compilePlainTest(entry.node);
        if (test === undefined) return undefined;
        keys.push(entry.rawKey);
        tests.push(test);
      }
      return (value) => {
        if (!isPlainObject(value)) return false;
        for (let i = 0; i < keys.length; i++) {
          const key = keys[i]!;
          if (!tests[i]!(Object.hasOwn(value, key) ? value[key] : undefined)) return false;
        }
        return true;
      };
    }
    case 'array':
    case 'unknown':
      return undefined;
  }
}

/** A `"*"` value: the key must hold something other than null. */
function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null;
}
