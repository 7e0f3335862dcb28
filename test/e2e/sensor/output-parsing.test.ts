/**
 * Parsing of bpftrace 0.17 `-f json` output. The lines are as bpftrace printed them on this machine
 * (captured while developing the sensor), including its broken escaping of bytes ≥ 0x80.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecordKind } from '../../../src/events/adapters/bpftrace.js';
import {
  decodeArgv,
  packedLeaf,
  RecordParser,
  repairBpftraceJson,
  type ParserSignal,
} from '../../../src/sources/sensor/records.js';

function parse(lines: string[]): ParserSignal[] {
  const out: ParserSignal[] = [];
  const p = new RecordParser((s) => out.push(s));
  for (const l of lines) p.line(l);
  p.flush();
  return out;
}

// The executable the kernel loaded, deepest component first, then the head (2 components, walk complete).
const EXEC_COMPONENTS = [
  '{"type": "value", "data": [90,20755,"dash"]}',
  '{"type": "value", "data": [90,20755,"bin"]}',
  '{"type": "value", "data": [90,20755,"usr"]}',
];
const EXEC_HEAD =
  '{"type": "value", "data": [1,20755,20755,20639,0,4760928856006,1,4760928445925,3,"sh",20755,3,0,0,0,0,0]}';
const EXEC_PATH = '{"type": "value", "data": [0,20755,"/bin/sh"]}';
const EXEC_ARGS =
  '{"type": "printf", "data": "A 20755 \\\\x2f\\\\x62\\\\x69\\\\x6e\\\\x2f\\\\x73\\\\x68\\\\x00\\\\x2d\\\\x63\\\\x00\\\\x65\\\\x63\\\\x68\\\\x6f\\\\x20\\\\x68\\\\x69\\\\x00\\\\x78\\\\x0a\\\\x79\\\\x00\\n"}';

test('an exec head, its path and its argv bytes become one record', () => {
  const signals = parse([
    '{"type": "attached_probes", "data": {"probes": 3}}',
    '{"type": "printf", "data": "R\\n"}',
    ...EXEC_COMPONENTS,
    EXEC_HEAD,
    EXEC_PATH,
    EXEC_ARGS,
  ]);
  assert.deepEqual(signals[0], { type: 'ready' });
  const rec = signals.find((s) => s.type === 'record');
  assert.ok(rec && rec.type === 'record');
  assert.equal(rec.record.pid, 20755);
  assert.equal(rec.record.ppid, 20639);
  assert.equal(rec.record.comm, 'sh');
  assert.equal(rec.record.startBootNs, 4760928445925);
  assert.equal(rec.record.execId, 3);
  // The name given to execve is kept; the executable is the path the kernel resolved.
  assert.deepEqual(rec.record.strings, ['/bin/sh']);
  assert.deepEqual(rec.record.resolved, { path: '/usr/bin/dash', complete: true, outsideRoot: false });
  assert.deepEqual(rec.record.argv, ['/bin/sh', '-c', 'echo hi', 'x\ny']);
});

test('records of different threads interleaved between head and continuation are joined by tid', () => {
  const signals = parse([
    EXEC_COMPONENTS[0]!,
    '{"type": "value", "data": [90,777,"x"]}',
    EXEC_COMPONENTS[1]!,
    '{"type": "value", "data": [90,777,"etc"]}',
    EXEC_COMPONENTS[2]!,
    EXEC_HEAD,
    '{"type": "value", "data": [20,777,777,1,0,5,1,3,1,"cat",577,3,2,0,32768]}',
    '{"type": "value", "data": [22,778,778,1,0,5,1,3,1,"rm",4294967196,0]}',
    EXEC_PATH,
    '{"type": "value", "data": [0,778,"/etc/y"]}',
    EXEC_ARGS,
  ]);
  const records = signals.flatMap((s) => (s.type === 'record' ? [s.record] : []));
  assert.equal(records.length, 3);
  assert.equal(records[0]?.kind, 20);
  assert.equal(records[0]?.resolved?.path, '/etc/x');
  assert.deepEqual(records[1]?.strings, ['/etc/y']);
  assert.equal(records[2]?.resolved?.path, '/usr/bin/dash');
  assert.deepEqual(records[2]?.argv?.[0], '/bin/sh');
});

test('bytes >= 0x80 escaped as \\uffffffXX are repaired into the original UTF-8', () => {
  // "/tmp/é\x01" as bpftrace 0.17 prints it.
  const line = '{"type": "value", "data": [0,9,"/tmp/\\uffffffc3\\uffffffa9\\u0001"]}';
  assert.equal(repairBpftraceJson(line).repaired, true);
  const signals = parse(['{"type": "value", "data": [22,9,9,1,0,5,1,3,1,"rm",4294967196,0]}', line]);
  const rec = signals.find((s) => s.type === 'record');
  assert.ok(rec && rec.type === 'record');
  assert.equal(rec.record.strings[0], '/tmp/é\u0001');
  // An escaped backslash followed by the text "uffffffc3" is data, not an escape.
  assert.equal(repairBpftraceJson('"a\\\\uffffffc3"').repaired, false);
});

test('argv is hex; a literal "\\x00" typed in an argument is not a separator', () => {
  // "\x00" typed as 4 characters: bytes 5c 78 30 30.
  assert.deepEqual(decodeArgv('\\x61\\x00\\x5c\\x78\\x30\\x30\\x00'), ['a', '\\x00']);
  assert.equal(decodeArgv('not hex'), undefined);
  assert.deepEqual(decodeArgv(''), []);
});

test('lost events, garbage, orphans and truncated records are reported with a reason', () => {
  const signals = parse([
    '{"type": "lost_events", "data": {"events": 17}}',
    'ERROR: something on stdout',
    '{"type": "value", "data": [1,2',
    '{"type": "value", "data": [0,31337,"/orphan"]}',
    '{"type": "value", "data": [99,1,1,1,0,5,1,3,1,"x"]}',
    '{"type": "value", "data": [2,5,5,1,0,5,1,3,1,"mount",0]}', // mount head, then nothing
    '{"type": "map", "data": {"@bpftrace_pid": 1}}',
  ]);
  assert.deepEqual(signals[0], { type: 'lost', events: 17 });
  const reasons = signals.flatMap((s) => (s.type === 'malformed' ? [s.reason] : []));
  assert.deepEqual(reasons, [
    'sensor-malformed',
    'sensor-malformed',
    'sensor-orphan',
    'sensor-malformed',
    'sensor-incomplete',
  ]);
  // The incomplete mount is still delivered (with what it has).
  assert.ok(signals.some((s) => s.type === 'record' && s.record.kind === 2));
});

test('a new head from the same thread completes the previous one as incomplete', () => {
  const signals = parse([
    '{"type": "value", "data": [21,5,5,1,0,5,1,3,1,"a",1,1]}',
    '{"type": "value", "data": [21,5,5,1,0,6,1,3,1,"a",1,1]}',
    '{"type": "value", "data": [0,5,"/p"]}',
    '{"type": "value", "data": [0,5,"/q"]}',
  ]);
  const kinds = signals.map((s) => (s.type === 'record' ? `record:${s.record.strings.join()}` : s.type));
  assert.deepEqual(kinds, ['malformed', 'record:', 'record:/p,/q']);
});

test('a mount head is never taken for a path component: every record kind has its own code', () => {
  const codes = Object.values(RecordKind);
  assert.equal(new Set(codes).size, codes.length);
  const signals = parse([
    '{"type": "value", "data": [2,5,5,1,0,5,1,3,1,"mount",0]}',
    '{"type": "value", "data": [0,5,"/mnt"]}',
    '{"type": "value", "data": [0,5,"none"]}',
    '{"type": "value", "data": [0,5,"tmpfs"]}',
  ]);
  const rec = signals.find((s) => s.type === 'record');
  assert.ok(rec && rec.type === 'record');
  assert.equal(rec.record.kind, RecordKind.mount);
  assert.deepEqual(rec.record.strings, ['/mnt', 'none', 'tmpfs']);
  assert.ok(!signals.some((s) => s.type === 'malformed'));
});

test('an open under a prefix the kernel matched gets the prefix directories back on top of its components', () => {
  const prefixDirs = [['etc'], ['var', 'lib', 'kubelet']];
  const out: ParserSignal[] = [];
  const p = new RecordParser((s) => out.push(s), prefixDirs);
  // 5 components in all; clause 2 in the status's second byte; only the 2 below /var/lib/kubelet sent.
  p.line('{"type": "value", "data": [90,777,"config.yaml"]}');
  p.line('{"type": "value", "data": [90,777,"pki"]}');
  p.line(`{"type": "value", "data": [20,777,777,1,0,5,1,3,1,"vi",577,3,5,${(2 << 8) | 0},32768]}`);
  // Clause 1, status truncated bits clear: a file directly under /etc.
  p.line('{"type": "value", "data": [90,778,"shadow"]}');
  p.line(`{"type": "value", "data": [20,778,778,1,0,6,1,3,1,"sh",577,3,2,${1 << 8},32768]}`);
  // A clause the program does not have: the record is refused, never given a made-up path.
  p.line('{"type": "value", "data": [90,779,"x"]}');
  p.line(`{"type": "value", "data": [20,779,779,1,0,7,1,3,1,"sh",577,3,2,${7 << 8},32768]}`);
  const records = out.flatMap((s) => (s.type === 'record' ? [s.record] : []));
  assert.deepEqual(
    records.map((r) => r.resolved),
    [
      { path: '/var/lib/kubelet/pki/config.yaml', complete: true, outsideRoot: false },
      { path: '/etc/shadow', complete: true, outsideRoot: false },
    ],
  );
  assert.deepEqual(
    out.flatMap((s) => (s.type === 'malformed' ? [s.detail] : [])),
    ['unknown prefix 7'],
  );
});

test('an identity sent ahead of a killed record is its own record and leaves the kill mark to that record', () => {
  const signals = parse([
    // The in-kernel kill's mark, then (no process-exec policy) the process's identity, then the open.
    '{"type": "printf", "data": "K 20755 0\\n"}',
    ...EXEC_COMPONENTS,
    `{"type": "value", "data": [${RecordKind.identity},20755,20755,20639,0,4760928856006,1,4760928445925,3,"sh",20755,3,0,0,0,0,0]}`,
    '{"type": "value", "data": [0,20755,""]}',
    EXEC_ARGS,
    '{"type": "value", "data": [90,20755,"shadow"]}',
    '{"type": "value", "data": [90,20755,"etc"]}',
    '{"type": "value", "data": [20,20755,20755,20639,0,4760928856100,1,4760928445925,3,"sh",577,3,2,0,32768]}',
  ]);
  const records = signals.flatMap((s) => (s.type === 'record' ? [s] : []));
  assert.deepEqual(
    records.map((s) => [s.record.kind, s.record.resolved?.path, s.kernelKill]),
    [
      [RecordKind.identity, '/usr/bin/dash', undefined],
      [RecordKind.open, '/etc/shadow', 0],
    ],
  );
  assert.deepEqual(records[0]?.record.argv, ['/bin/sh', '-c', 'echo hi', 'x\ny']);
});

/** A name as the open head carries it: its length, then its bytes six per number, little-endian. */
function pack(name: string): number[] {
  const bytes = Buffer.alloc(24);
  const n = Buffer.from(name).copy(bytes);
  return [n, ...[0, 6, 12, 18].map((at) => bytes.readUIntLE(at, 6))];
}

test('a short file name carried in the open head is its deepest component, byte for byte', () => {
  for (const name of ['a', 'passwd', 'kr-ev-24-bytes-name-xxxx', 'é日本.conf', '"q"\\']) {
    assert.equal(packedLeaf(pack(name), 0), name);
  }
  const signals = parse([
    '{"type": "value", "data": [90,31,"etc"]}',
    `{"type": "value", "data": [20,31,31,1,0,5,1,3,1,"sh",577,3,2,0,32768,${pack('shadow').join(',')}]}`,
    // Length 0: the name came as a component, as a longer one does.
    '{"type": "value", "data": [90,32,"a-name-longer-than-twenty-four-bytes"]}',
    '{"type": "value", "data": [90,32,"etc"]}',
    '{"type": "value", "data": [20,32,32,1,0,6,1,3,1,"sh",577,3,2,0,32768,0,0,0,0,0]}',
  ]);
  assert.deepEqual(
    signals.flatMap((s) => (s.type === 'record' ? [s.record.resolved?.path] : [])),
    ['/etc/shadow', '/etc/a-name-longer-than-twenty-four-bytes'],
  );
});

test('packed name fields that no dentry can produce are refused, never turned into a path', () => {
  const good = pack('shadow');
  assert.equal(packedLeaf([25, ...good.slice(1)], 0), null, 'longer than the head carries');
  assert.equal(packedLeaf([6, 2 ** 48, 0, 0, 0], 0), null, 'more than six bytes in a number');
  assert.equal(packedLeaf([6, -1, 0, 0, 0], 0), null);
  assert.equal(packedLeaf([6, 'x', 0, 0, 0], 0), null);
  assert.equal(packedLeaf(pack('a/b'), 0), null, 'a slash');
  assert.equal(packedLeaf([3, 0x610061, 0, 0, 0], 0), null, 'a NUL');
  assert.equal(packedLeaf(pack('..'), 0), null);
  const signals = parse([
    `{"type": "value", "data": [20,33,33,1,0,5,1,3,1,"sh",577,3,2,0,32768,${pack('..').slice(0, 1).join(',')},${2 ** 48},0,0,0]}`,
  ]);
  assert.deepEqual(
    signals.map((s) => (s.type === 'malformed' ? s.detail : s.type)),
    ['bad packed file name'],
  );
});
