/**
 * V8 flags from KYVERNO_RUNTIME_V8_FLAGS, applied before the commands' modules load. Node refuses
 * some V8 flags in NODE_OPTIONS and then exits at once (`--optimize-for-size is not allowed in
 * NODE_OPTIONS`), yet a container image's entrypoint leaves only the environment to a Helm chart.
 * Only the memory-sizing flags below are accepted: the variable is configuration, not a way to pass
 * arbitrary engine switches to a process that runs as root.
 */
import { setFlagsFromString } from 'node:v8';

export const V8_FLAGS_ENV = 'KYVERNO_RUNTIME_V8_FLAGS';

const ALLOWED = [
  /^--(no-)?optimize-for-size$/,
  /^--max-semi-space-size=\d{1,4}$/,
  /^--max-old-space-size=\d{1,6}$/,
];

/** The flags of the variable's value; throws on any flag outside the allowed set. */
export function parseV8Flags(value: string): string[] {
  const flags = value.split(/\s+/).filter((f) => f !== '');
  for (const f of flags) {
    if (!ALLOWED.some((re) => re.test(f)))
      throw new Error(
        `${V8_FLAGS_ENV}: ${JSON.stringify(f.slice(0, 100))} is not accepted (allowed: --optimize-for-size, --max-semi-space-size=<MiB>, --max-old-space-size=<MiB>)`,
      );
  }
  return flags;
}

const value = process.env[V8_FLAGS_ENV];
if (value !== undefined && value !== '') {
  try {
    for (const f of parseV8Flags(value)) setFlagsFromString(f);
  } catch (err) {
    process.stderr.write(`kyverno-runtime: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
