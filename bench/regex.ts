// Policy regexes: JavaScript's backtracking RegExp (what CEL `matches` and JMESPath `regex_*` ran on before)
// against the RE2 engine they run on now (src/engine/regexp.ts), ns per match, side by side.
// Run: npx tsx bench/regex.ts
// The evil pattern runs on the old engine with a short input only (its time doubles with each extra `a`);
// RE2 gets that input and a 64 KiB one.
import { compileGoRegexp } from '../src/engine/regexp.js';
import { printTable } from './support.js';

interface Case {
  name: string;
  pattern: string;
  input: string;
  /** Expected result, checked on both engines so the bench measures a real match or miss. */
  match: boolean;
  /** Skip the JS RegExp (exponential on this input). */
  jsUnsafe?: boolean;
}

const EMAIL = '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}';
const EVIL = '^/usr/bin/(a+)+$';

const cases: Case[] = [
  { name: 'prefix', pattern: '^/usr/bin/', input: '/usr/bin/curl', match: true },
  { name: 'prefix (miss)', pattern: '^/usr/bin/', input: '/opt/app/server', match: false },
  {
    name: 'alternation',
    pattern: '^/(usr/)?(s?bin)/(curl|wget|nc|ncat|socat)$',
    input: '/usr/bin/socat',
    match: true,
  },
  { name: 'email-like, 64 B arg', pattern: EMAIL, input: 'send report to bob@example.com now', match: true },
  { name: 'email-like, 2 KiB arg (miss)', pattern: EMAIL, input: 'a'.repeat(2048), match: false },
  { name: 'evil (a+)+, 26 chars', pattern: EVIL, input: `/usr/bin/${'a'.repeat(16)}!`, match: false },
  {
    name: 'evil (a+)+, 64 KiB',
    pattern: EVIL,
    input: `/usr/bin/${'a'.repeat(65536)}!`,
    match: false,
    jsUnsafe: true,
  },
];

/** ns per call, over at least `ms` of calls after a warm-up. */
function nsPerCall(fn: () => boolean, ms = 400): number {
  for (let i = 0; i < 200; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 20; i++) fn();
    n += 20;
    now = performance.now();
  }
  return ((now - start) * 1e6) / n;
}

function fmt(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(1)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${ns.toFixed(0)} ns`;
}

const rows: string[][] = [['pattern', 'input', 'JS RegExp', 'RE2 (re2js)', 'RE2 / JS']];
for (const c of cases) {
  const re2 = compileGoRegexp(c.pattern);
  if (re2.test(c.input) !== c.match) throw new Error(`${c.name}: RE2 gave the wrong answer`);
  const re2Ns = nsPerCall(() => re2.test(c.input));
  let jsCell = 'not run (exponential)';
  let ratio = '—';
  if (!c.jsUnsafe) {
    const js = new RegExp(c.pattern, 'u');
    if (js.test(c.input) !== c.match) throw new Error(`${c.name}: RegExp gave the wrong answer`);
    const jsNs = nsPerCall(() => js.test(c.input));
    jsCell = fmt(jsNs);
    ratio = `${(re2Ns / jsNs).toFixed(2)}×`;
  }
  rows.push([c.name, `${c.input.length} chars`, jsCell, fmt(re2Ns), ratio]);
}
printTable(rows);
