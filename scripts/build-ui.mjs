// Builds the dashboard's browser assets into dist/ui (run by `npm run build`, hence by `npm ci`).
// The build logic is TypeScript (src/ui/build.ts), compiled by the preceding `tsc -p tsconfig.build.json`.
import { fileURLToPath } from 'node:url';
import { buildDashboard } from '../dist/src/ui/build.js';

const outDir = fileURLToPath(new URL('../dist/ui/', import.meta.url));
const { files } = await buildDashboard(outDir, { quiet: true });
const total = files.reduce((n, f) => n + f.bytes, 0);
console.log(
  `build-ui: dashboard built into ${outDir} (${files.length} files, ${(total / 1024).toFixed(1)} KiB)`,
);
