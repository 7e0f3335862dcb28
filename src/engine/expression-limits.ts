/**
 * Bounds on expression functions whose cost grows with their input: CEL `json.unmarshal`, `yaml.parse`,
 * `base64.decode`, `format`, and JMESPath `parse_json`-style decoding and `random`. Their inputs can be event
 * data (a command line, a file path, an environment value), so a workload could otherwise hand the agent a
 * document that is huge or nested deep enough to exhaust the stack. A call over a bound is an evaluation error
 * (the rule reports `error`), and each refusal is counted here; the Prometheus counter
 * `kyverno_runtime_expression_limit_total` reads these counts (the engine stays free of the metrics registry).
 */

/** Longest text a decoding function accepts (json.unmarshal, yaml.parse, base64.decode, x509_decode), in UTF-16 code units. */
export const MAX_DECODE_INPUT = 1024 * 1024;
/** Deepest nesting of lists and maps a decoded document may have. */
export const MAX_DECODE_DEPTH = 64;
/** Longest string `format` or JMESPath `random` may produce. */
export const MAX_GENERATED_LENGTH = 64 * 1024;

export type ExpressionLimit = 'input-size' | 'depth' | 'output-size';

const counts = new Map<string, number>();

/** Refusals so far, keyed `function|limit` (monotonic; read by the metrics registry). */
export function expressionLimitCounts(): ReadonlyMap<string, number> {
  return counts;
}

/** Counts a refusal and returns the error to throw. */
export function expressionLimitError(fn: string, limit: ExpressionLimit, detail: string): Error {
  const key = `${fn}|${limit}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  return new Error(`${fn}: ${detail}`);
}

/** Throws when `text` is longer than the decode bound. */
export function checkDecodeInput(fn: string, text: string): void {
  if (text.length > MAX_DECODE_INPUT)
    throw expressionLimitError(
      fn,
      'input-size',
      `input of ${text.length} characters is over the ${MAX_DECODE_INPUT}-character limit`,
    );
}

/**
 * Throws when brackets in JSON (or YAML flow) text nest deeper than the bound. A linear scan before parsing,
 * so a deeply nested document is refused before any recursive step sees it. With `jsonStrings`, brackets inside
 * JSON strings do not count; without it (YAML, whose quoting rules a scan cannot follow) every bracket counts,
 * which can only refuse early, never admit more.
 */
export function checkBracketDepth(
  fn: string,
  text: string,
  jsonStrings: boolean,
  max = MAX_DECODE_DEPTH,
): void {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== '') {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' && jsonStrings) quote = '"';
    else if (c === '[' || c === '{') {
      if (++depth > max)
        throw expressionLimitError(fn, 'depth', `nesting is deeper than the limit of ${max}`);
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
  }
}

/** Throws when a decoded value nests deeper than the bound. Iterative, so the check itself cannot overflow. */
export function checkValueDepth(fn: string, value: unknown, max = MAX_DECODE_DEPTH): void {
  const stack: [unknown, number][] = [[value, 0]];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (d + 1 > max) throw expressionLimitError(fn, 'depth', `nesting is deeper than the limit of ${max}`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
}
