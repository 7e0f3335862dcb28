/**
 * Files that ship beside the code (package.json, policies/, proto/, dist/ui, src/ui/web) are found
 * from the package root, the nearest folder above this module with a package.json. The same code
 * runs from src/ (tsx, tests) and from dist/src/ (npm start, the installed bin), so fixed `../..`
 * paths would be right in one and wrong in the other.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`kyverno-runtime: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return (cached = dir);
}

/** A path inside the package root. */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
