/**
 * Empty plain objects for records built field by field on the event hot path.
 *
 * Why not `{}`: every `{}` starts from the one root hidden class (map) V8 keeps per process, and a
 * map can hold only ~1,500 property transitions. Code that uses plain objects as dictionaries uses
 * them up — ajv's code generator does on the first policy load, Kubernetes labels and annotations
 * would in a cluster. From then on V8 cannot record a new first key: each `{}` that gets one receives
 * a map of its own, so every later store and load on such objects misses its inline cache and goes
 * through the runtime, until a full GC frees the dead dictionaries' transitions (while live ones,
 * such as a cache of parsed pods, keep them). In that state this costs a large share of an adapter's
 * time (docs/performance.md has the measurement); with free room in the root map both ways cost the same.
 *
 * Objects made here start from the root map of a private constructor, which only our own field
 * names extend (a few dozen). Their prototype is Object.prototype, so to every reader — JSON,
 * spread, deepStrictEqual, `Object.getPrototypeOf` — they are ordinary plain objects. Dictionaries
 * keyed by data (labels) must not use this: they would fill this root map the same way.
 */

// A function, not a class: a class's `prototype` cannot be replaced, and its instances would not
// have Object.prototype as their prototype.
function BlankRecord(): void {
  // Fields are added by the caller.
}
BlankRecord.prototype = Object.prototype;

const BlankRecordConstructor = BlankRecord as unknown as new () => Record<string, never>;

/** A new empty plain object whose hidden classes are shared only by the hot path's records. */
export function blankRecord(): Record<string, never> {
  return new BlankRecordConstructor();
}
