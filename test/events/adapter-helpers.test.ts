/**
 * The small parsers every adapter relies on: argv splitting, host:port tuples, times, label lists,
 * open flags, syscall symbol normalisation and stable ids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  fileOperationFromFlagNames,
  fileOperationFromOpenFlags,
  normaliseSyscallSymbol,
  parseHostPort,
  splitCommandLine,
  stableId,
  timeFromUnix,
  timeFromUnixNanos,
} from '../../src/events/adapters/common.js';
import { parseLabelList } from '../../src/events/adapters/read.js';

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
