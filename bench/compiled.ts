/**
 * Where a benchmark loads the engine from. By default the compiled dist/src/ that `npm start` runs,
 * rebuilt with tsc first when a src/ file is newer than its compiled output (so a bench never
 * measures stale code). BENCH_SOURCE=1 loads the TypeScript source through tsx instead.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface HotPath {
  /** The URL to import for a module path under src/ written with its .js extension. */
  module(path: string): string;
  /** For the bench's header line. */
  description: string;
}

export function compiledHotPath(): HotPath {
  if (process.env.BENCH_SOURCE === '1') {
    return {
      module: (path) => pathToFileURL(join(ROOT, 'src', path)).href,
      description: 'TypeScript source under tsx (BENCH_SOURCE=1)',
    };
  }
  const stale = staleSources();
  if (stale > 0) {
    console.log(`building dist/ with tsc: ${stale} src/ file(s) newer than their compiled output`);
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (built.status !== 0) throw new Error('tsc -p tsconfig.build.json failed');
  }
  return {
    module: (path) => pathToFileURL(join(ROOT, 'dist', 'src', path)).href,
    description: 'compiled dist/ (as npm start runs it)',
  };
}

/** src/**\/*.ts files (the UI's browser code aside) whose dist/src/**\/*.js is missing or older. */
function staleSources(dir = 'src'): number {
  let stale = 0;
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (path !== 'src/ui/web') stale += staleSources(path);
      continue;
    }
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const compiled = join(ROOT, 'dist', path.replace(/\.ts$/, '.js'));
    let compiledAt: number;
    try {
      compiledAt = statSync(compiled).mtimeMs;
    } catch {
      stale++;
      continue;
    }
    if (statSync(join(ROOT, path)).mtimeMs > compiledAt) stale++;
  }
  return stale;
}
