/**
 * Builds the dashboard (src/ui/web) into static assets with Vite: hashed files under assets/, no
 * CDN, so the engine serves everything itself and the page works offline. Called by
 * scripts/build-ui.mjs during `npm run build` (and so `npm ci`), and by the e2e tests.
 *
 * Preact + Vite rather than plain TS + esbuild: components with hooks keep four pages with live
 * data readable, Preact is small, and Vite's production build (Rollup, CSS extraction,
 * hashed names) is exactly the packaging we would otherwise script by hand.
 */
import { packagePath } from '../package-root.js';
import { build } from 'vite';

export const WEB_ROOT = packagePath('src', 'ui', 'web');

export interface BuildResult {
  outDir: string;
  files: { file: string; bytes: number }[];
}

export async function buildDashboard(
  outDir: string,
  options: { quiet?: boolean } = {},
): Promise<BuildResult> {
  const output = await build({
    root: WEB_ROOT,
    base: '/',
    configFile: false,
    logLevel: options.quiet ? 'warn' : 'info',
    esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: false,
      reportCompressedSize: false,
      chunkSizeWarningLimit: 200,
    },
  });
  const results = Array.isArray(output) ? output : [output];
  const files = results.flatMap((r) =>
    'output' in r
      ? r.output.map((o) => ({
          file: o.fileName,
          bytes: o.type === 'chunk' ? o.code.length : o.source.length,
        }))
      : [],
  );
  return { outDir, files };
}
