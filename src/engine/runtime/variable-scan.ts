/**
 * A conservative static read of the `{{ }}` variables in a rule part (as JSON text), used to decide
 * what a part can depend on (event-only.ts, shared-work.ts). Anything the scan does not fully
 * understand (an unpaired `{{`, a `$( )` reference) counts as "may read anything".
 */
const ANY_VARIABLE = /\{\{[^}]*\}\}/g;

/** True when every `{{ }}` in `json` matches `allowed` and nothing else looks like a reference. */
export function everyVariableIs(json: string, allowed: RegExp): boolean {
  for (const m of json.matchAll(ANY_VARIABLE)) if (!allowed.test(m[0])) return false;
  const rest = json.replace(ANY_VARIABLE, '');
  return !rest.includes('{{') && !rest.includes('$(');
}
