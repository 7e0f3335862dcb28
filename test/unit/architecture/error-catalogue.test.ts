/**
 * The error catalogue holds: every error class of src/ extends KyvernoRuntimeError with a code from the
 * one table, every code is raised by some class (no dead codes), and docs/errors.md documents each
 * code. Read from the source text, so a new error class cannot slip past by not being imported here.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, KyvernoRuntimeError } from '../../../src/contracts/errors.js';
import { JmesPathNotFoundError } from '../../../src/engine/jmespath/errors.js';
import { ListenPolicyError } from '../../../src/net/access.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'web' ? [] : sources(p); // the browser bundle has its own
    return p.endsWith('.ts') ? [p] : [];
  });
}

interface ErrorClass {
  file: string;
  name: string;
  base: string;
  body: string;
}

const CLASS = /^(?:export )?class (\w+) extends (\w+) \{\n([\s\S]*?)\n\}$/gm;
const classes: ErrorClass[] = sources(join(repo, 'src')).flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(CLASS)].map((m) => ({
    file: relative(repo, file),
    name: m[1]!,
    base: m[2]!,
    body: m[3]!,
  })),
);
const names = new Set(classes.map((c) => c.name));
/** The base itself, and private control flow that never leaves its module (a watch that ended). */
const INTERNAL = new Set(['WatchEnded', 'KyvernoRuntimeError']);

function isErrorClass(c: ErrorClass): boolean {
  if (c.base === 'Error' || c.base === 'KyvernoRuntimeError') return true;
  const parent = classes.find((p) => p.name === c.base);
  return parent !== undefined && isErrorClass(parent);
}

test('the scan finds the error classes (a broken scan would pass every check)', () => {
  assert.ok(names.has('ListenPolicyError') && names.has('JmesPathNotFoundError') && names.has('CursorError'));
});

test('every error class of src/ is a KyvernoRuntimeError', () => {
  const plain = classes
    .filter((c) => c.base === 'Error' && !INTERNAL.has(c.name))
    .map((c) => `${c.file}: ${c.name} extends Error`);
  assert.deepEqual(plain, [], 'extend KyvernoRuntimeError (src/contracts/errors.ts) and add a code');
});

test('every code is raised by a class and documented in docs/errors.md', () => {
  const text = classes
    .filter(isErrorClass)
    .map((c) => c.body)
    .join('\n');
  const doc = readFileSync(join(repo, 'docs', 'errors.md'), 'utf8');
  for (const code of Object.keys(ERROR_CODES)) {
    assert.ok(text.includes(`'${code}'`), `${code} is raised by no error class (remove it or raise it)`);
    assert.ok(doc.includes(`| \`${code}\` |`), `${code} is missing from docs/errors.md`);
  }
});

test('an error keeps its code and its own class name through the hierarchy', () => {
  const e = new JmesPathNotFoundError('spec');
  assert.ok(e instanceof KyvernoRuntimeError && e instanceof Error);
  assert.equal(e.code, 'E_JMESPATH_NOT_FOUND');
  assert.equal(e.name, 'JmesPathNotFoundError');
  const l = new ListenPolicyError('0.0.0.0');
  assert.equal(l.code, 'E_UNAUTHENTICATED_LISTEN');
  assert.match(l.message, /--source-token-file/);
});
