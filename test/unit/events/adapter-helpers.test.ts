/**
 * The small parsers every adapter relies on: argv splitting, host:port tuples, times, label lists,
 * open flags, syscall symbol normalisation and stable ids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  fileOperationFromFlagNames,
  firstWord,
  isRfc3339,
  fileOperationFromOpenFlags,
  normaliseSyscallSymbol,
  parseHostPort,
  splitCommandLine,
  splitOnSpaces,
  stableId,
  timeFromUnix,
  timeFromUnixNanos,
} from '../../../src/events/adapters/common.js';
import { parseLabelList, stringMap } from '../../../src/events/adapters/read.js';

describe('splitCommandLine', () => {
  const cases: [string, string[]][] = [
    [
      '-c "curl https://ebpf.io/applications/#tetragon"',
      ['-c', 'curl https://ebpf.io/applications/#tetragon'],
    ],
    ["-g 'daemon off;'", ['-g', 'daemon off;']],
    ['a  b\tc', ['a', 'b', 'c']],
    ['say "a \\"quoted\\" word"', ['say', 'a "quoted" word']],
    ['x\\ y z', ['x y', 'z']],
    ['""', ['']],
    ['unterminated "quote here', ['unterminated', 'quote here']],
    ['', []],
    ['$(rm -rf /) `id`', ['$(rm', '-rf', '/)', '`id`']],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => assert.deepEqual(splitCommandLine(input), expected));
  }
});

describe('parseHostPort', () => {
  it('reads IPv4, bracketed and bare IPv6, and addresses without a port', () => {
    assert.deepEqual(parseHostPort('10.0.0.1:443'), { addr: '10.0.0.1', port: 443 });
    assert.deepEqual(parseHostPort('[2001:db8::1]:8443'), { addr: '2001:db8::1', port: 8443 });
    assert.deepEqual(parseHostPort('2001:db8::1:443'), { addr: '2001:db8::1', port: 443 });
    assert.deepEqual(parseHostPort('10.0.0.1'), { addr: '10.0.0.1' });
    assert.deepEqual(parseHostPort('10.0.0.1:99999'), { addr: '10.0.0.1' });
    assert.equal(parseHostPort('  '), undefined);
  });
});

describe('times', () => {
  it('keeps nanoseconds from seconds+nanos and from decimal nanosecond strings', () => {
    assert.equal(timeFromUnix(1570094449, 620298462), '2019-10-03T09:20:49.620298462Z');
    assert.equal(timeFromUnix(1639803960), '2021-12-18T05:06:00Z');
    assert.equal(timeFromUnixNanos('1677676197900822209'), '2023-03-01T13:09:57.900822209Z');
    assert.equal(timeFromUnix(-1), undefined);
    assert.equal(timeFromUnix(1, 1e9), undefined);
    assert.equal(timeFromUnixNanos('abc'), undefined);
    assert.equal(timeFromUnixNanos(-5), undefined);
  });
});

describe('labels, flags, symbols, ids', () => {
  it('parses comma- and space-separated label lists', () => {
    assert.deepEqual(parseLabelList('app=nginx,tier=web', '='), { app: 'nginx', tier: 'web' });
    // A "__proto__" label is data, as in stringMap.
    const hostile = parseLabelList('__proto__=x,app=web', '=');
    assert.deepEqual(Object.keys(hostile ?? {}), ['__proto__', 'app']);
    assert.equal(Object.getPrototypeOf(hostile), Object.prototype);
    assert.deepEqual(parseLabelList('container=ubuntu-1 group=group-1', '='), {
      container: 'ubuntu-1',
      group: 'group-1',
    });
    assert.deepEqual(parseLabelList('app:faas,pod-template-hash:7dc9', ':'), {
      app: 'faas',
      'pod-template-hash': '7dc9',
    });
    assert.equal(parseLabelList('novalue,,=x', '='), undefined);
  });

  it('classifies open flags', () => {
    assert.equal(fileOperationFromOpenFlags(0), 'read');
    assert.equal(fileOperationFromOpenFlags(0o1), 'write');
    assert.equal(fileOperationFromOpenFlags(0o101), 'create');
    assert.equal(fileOperationFromFlagNames('O_RDONLY|O_CLOEXEC'), 'read');
    assert.equal(fileOperationFromFlagNames('O_WRONLY|O_TRUNC'), 'write');
    assert.equal(fileOperationFromFlagNames('O_WRONLY|O_CREAT|O_EXCL'), 'create');
  });

  it('normalises arch-specific syscall symbols', () => {
    assert.equal(normaliseSyscallSymbol('__x64_sys_mount'), 'sys_mount');
    assert.equal(normaliseSyscallSymbol('__arm64_sys_setns'), 'sys_setns');
    assert.equal(normaliseSyscallSymbol('__ia32_compat_sys_mount'), 'sys_mount');
    assert.equal(normaliseSyscallSymbol('__sys_setuid'), 'sys_setuid');
    assert.equal(normaliseSyscallSymbol('ksys_unshare'), 'sys_unshare');
    assert.equal(normaliseSyscallSymbol('tcp_connect'), 'tcp_connect');
  });

  it('builds stable ids that separate fields and see both ends of long values', () => {
    assert.equal(stableId('x', ['ab', 'c']), stableId('x', ['ab', 'c']));
    assert.notEqual(stableId('x', ['ab', 'c']), stableId('x', ['a', 'bc']));
    assert.notEqual(stableId('x', [undefined]), stableId('x', ['']));
    const long = 'a'.repeat(1000);
    assert.notEqual(stableId('x', [long + 'b']), stableId('x', [long + 'c']));
    assert.notEqual(stableId('x', ['b' + long]), stableId('x', ['c' + long]));
    assert.match(stableId('falco', ['t']), /^falco-[0-9a-f]{16}$/);
  });
});

/** The regex isRfc3339 replaced, kept here as the reference it must agree with. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

describe('fast paths agree with their reference definitions', () => {
  it('isRfc3339 accepts exactly what the RFC 3339 regex accepts', () => {
    for (const value of [
      '2026-11-26T12:00:00Z',
      '2026-11-26T12:00:00.000000000Z',
      '2026-11-26T12:00:00.1+02:00',
      '2026-11-26T12:00:00.0000000000Z',
      '2026-11-26T12:00:00.Z',
      '2026-11-26 12:00:00Z',
      '2026-11-26T12:00:00+0200',
      '2026-11-26T12:00:00z',
      '2026-11-26T12:00:00.123-05:30x',
      '٢٠٢٦-11-26T12:00:00Z',
      '',
    ])
      assert.equal(isRfc3339(value), RFC3339.test(value), value);
    // Mutations of valid times: one character replaced, inserted or removed anywhere.
    const valid = fc.constantFrom('2026-11-26T12:00:00Z', '2026-11-26T12:00:00.123456789+01:00');
    const alphabet = fc.constantFrom(...'0123456789-:.TZz+ x'.split(''));
    fc.assert(
      fc.property(
        valid,
        fc.nat(40),
        alphabet,
        fc.constantFrom('replace', 'insert', 'delete'),
        (v, at, c, op) => {
          const i = at % (v.length + 1);
          const mutated =
            op === 'replace'
              ? v.slice(0, i) + c + v.slice(i + 1)
              : op === 'insert'
                ? v.slice(0, i) + c + v.slice(i)
                : v.slice(0, i) + v.slice(i + 1);
          assert.equal(isRfc3339(mutated), RFC3339.test(mutated), mutated);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('splitCommandLine without quotes or backslashes is a split on blanks', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z \t\n=/-]{0,30}$/), (line) => {
        assert.deepEqual(
          splitCommandLine(line),
          line.split(/[ \t\n]+/).filter((w) => w !== ''),
        );
      }),
    );
  });

  it('splitOnSpaces and firstWord split on spaces only, dropping the first words when asked', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z \t-]{0,30}$/), fc.nat(3), (line, skip) => {
        const words = line.split(' ').filter((w) => w !== '');
        assert.deepEqual(splitOnSpaces(line), words);
        assert.deepEqual(splitOnSpaces(line, skip), words.slice(skip));
        assert.equal(firstWord(line), words[0]);
      }),
    );
  });

  it('stringMap returns string-only maps as they are and copies the others without non-strings', () => {
    const labels = JSON.parse('{"app":"web","tier":"front"}') as Record<string, unknown>;
    assert.equal(stringMap(labels), labels);
    assert.deepEqual(stringMap({ app: 'web', replicas: 3, on: true }), { app: 'web' });
    assert.equal(stringMap({}), undefined);
    assert.equal(stringMap({ n: 1 }), undefined);
    assert.equal(stringMap(['a']), undefined);
    // A "__proto__" label is data: kept as an own key, never turned into a prototype.
    const hostile = stringMap(JSON.parse('{"__proto__":"x","n":1,"a":"b"}'));
    assert.deepEqual(Object.keys(hostile ?? {}), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(hostile), Object.prototype);
  });
});
