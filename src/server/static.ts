/**
 * Serves the dashboard's built assets from memory. Hand-written rather than @fastify/static: the set
 * is a handful of files known at start-up, so a map lookup cannot be tricked into path traversal and
 * needs no extra dependency. Hashed assets are cached for a year; index.html never is.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { extname, join, relative, sep } from 'node:path';
import { packagePath } from '../package-root.js';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

/** dist/ui of this package (built by `npm run build`). */
export function defaultUiDir(): string {
  return packagePath('dist', 'ui');
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** URL path ("/assets/x.js") → asset. Empty when the directory does not exist (dashboard not built). */
export function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const file of walk(dir)) {
    const body = readFileSync(file);
    const url = '/' + relative(dir, file).split(sep).join('/');
    assets.set(url, {
      body,
      type: TYPES[extname(file)] ?? 'application/octet-stream',
      etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
      immutable: url.startsWith('/assets/'),
    });
  }
  return assets;
}
