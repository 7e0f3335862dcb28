/**
 * The dashboard assets for the e2e tests: dist/ui when it is newer than every source file under
 * src/ui/web (so a fresh `npm run build` is reused), else a build into a temporary directory.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDashboard, WEB_ROOT } from '../../../src/ui/build.js';
import { defaultUiDir } from '../../../src/server/static.js';

function newestMtime(dir: string): number {
  return readdirSync(dir).reduce((max, name) => {
    const p = join(dir, name);
    const s = statSync(p);
    return Math.max(max, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }, 0);
}

/** `dispose` removes a temporary build (and leaves dist/ui alone). */
export async function dashboardAssets(): Promise<{ dir: string; dispose: () => void }> {
  const dist = defaultUiDir();
  const index = join(dist, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(WEB_ROOT)) {
    return { dir: dist, dispose: () => undefined };
  }
  const out = mkdtempSync(join(tmpdir(), 'kr-ui-dist-'));
  await buildDashboard(out, { quiet: true });
  return { dir: out, dispose: () => rmSync(out, { recursive: true, force: true }) };
}
