/**
 * Accepted connections map to `network-accept` in every adapter, with one orientation (saddr/sport
 * local, daddr/dport the remote peer), and the per-tool mapping fixes: KubeArmor ptrace, lower-case
 * kprobes, mount Data, unmounts, BPF-LSM protocol and write hooks; Tracee's Euid key; Falco's inbound
 * tuple. Fixtures are built from the tools' published record shapes (a real sample line where one
 * exists, with what was changed said beside it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { adaptRecord, type AdaptOutcome } from '../../../src/events/adapters/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { SAMPLES_DIR } from './sample-expectations.js';

type Json = Record<string, any>;

function only(outcome: AdaptOutcome): RuntimeEvent {
  assert.equal(
    outcome.kind,
    'events',
    outcome.kind === 'skipped' ? `${outcome.reason}: ${outcome.detail}` : '',
  );
  assert.ok(outcome.kind === 'events');
  assert.equal(outcome.events.length, 1);
  return outcome.events[0]!;
}

function sample(relative: string, line: number): Json {
  return JSON.parse(readFileSync(SAMPLES_DIR + relative, 'utf8').split('\n')[line - 1]!) as Json;
}

/** A KubeArmor container log (no policy): only the fields the adapter reads vary. */
function kubearmorLog(fields: Json): Json {
  return {
    Timestamp: 1733400000,
    UpdatedTime: '2026-12-05T10:00:00.000000Z',
    HostName: 'worker-1',
    NamespaceName: 'prod',
    PodName: 'web-0',
    ContainerID: 'ae95a93ce0c2f1b824ac4b205e4d1a3c8f724d663626c1ad23576efec64318de',
    HostPID: 4242,
    PID: 42,
    UID: 0,
    ProcessName: '/usr/bin/strace',
    Type: 'ContainerLog',
    Result: 'Passed',
    ...fields,
  };
}

describe('KubeArmor', () => {
  it('a ptrace log (Operation Process, syscall=SYS_PTRACE) is ptrace by the tracer, not an exec', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'Process',
          Resource: '/usr/bin/sleep',
          Data: 'syscall=SYS_PTRACE request=PTRACE_ATTACH pid=77 process=/usr/bin/sleep',
        }),
        'kubearmor',
      ),
    );
    assert.equal(e.behavior, 'ptrace');
    assert.equal(e.process?.binary, '/usr/bin/strace');
  });

  it('kprobe=tcp_connect (lower case) is a connect to remoteip:port', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'Network',
          Resource: 'remoteip=10.0.0.5 port=443 protocol=TCP',
          Data: 'kprobe=tcp_connect domain=AF_INET',
        }),
        'kubearmor',
      ),
    );
    assert.equal(e.behavior, 'network-connect');
    assert.deepEqual(e.network, { protocol: 'tcp', family: 'ipv4', daddr: '10.0.0.5', dport: 443 });
  });

  it('kprobe=tcp_accept is an accepted connection from remoteip:port', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'Network',
          Resource: 'remoteip=fd00::9 port=51234 protocol=TCP',
          Data: 'kprobe=tcp_accept domain=AF_INET6',
        }),
        'kubearmor',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(e.network, { protocol: 'tcp', family: 'ipv6', daddr: 'fd00::9', dport: 51234 });
  });

  it('SYS_ACCEPT is an accept with the peer sockaddr as the remote end, not a listen', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'Network',
          Resource: 'sa_family=AF_INET sin_port=40000 sin_addr=10.1.2.3',
          Data: 'syscall=SYS_ACCEPT4 fd=3',
        }),
        'kubearmor',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(e.network, { family: 'ipv4', daddr: '10.1.2.3', dport: 40000 });
  });

  it('mount(2) takes source, target, filesystem and the kind of mount from Data', () => {
    const log = (flags: number): Json =>
      kubearmorLog({
        Operation: 'Syscall',
        Resource: '',
        Data: `syscall=SYS_MOUNT source=/dev/sdb1 target=/host/mnt filesystem=ext4 mountflag=${flags} data=`,
      });
    const plain = only(adaptRecord(log(0), 'kubearmor'));
    assert.equal(plain.behavior, 'volume-mount');
    assert.deepEqual(plain.mount, {
      source: '/dev/sdb1',
      target: '/host/mnt',
      fstype: 'ext4',
      kind: 'filesystem',
    });
    assert.equal(only(adaptRecord(log(4096), 'kubearmor')).mount?.kind, 'bind');
  });

  it('an unmount log is not a volume-mount (it attaches nothing)', () => {
    const outcome = adaptRecord(
      kubearmorLog({ Operation: 'Syscall', Resource: '', Data: 'syscall=SYS_UMOUNT2 target=/mnt flag=0' }),
      'kubearmor',
    );
    assert.equal(outcome.kind, 'skipped');
    assert.equal(outcome.kind === 'skipped' ? outcome.reason : '', 'no-behavior');
  });

  it('a BPF-LSM blocked connect says protocol tcp, never domain "TCP"', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'Network',
          Resource: 'TCP',
          Data: 'lsm=SOCKET_CONNECT TCP',
          Action: 'Block',
          Enforcer: 'BPFLSM',
          PolicyName: 'block-egress',
          Type: 'MatchedPolicy',
          Result: 'Permission denied',
        }),
        'kubearmor',
      ),
    );
    assert.equal(e.behavior, 'network-connect');
    assert.equal(e.enforced, true);
    assert.equal(e.network?.protocol, 'tcp');
    assert.equal(e.network?.domain, undefined);
  });

  it('the sample BPF-LSM DNS sendmsg keeps its domain', () => {
    // docs-alerts-logs line 23: lsm=SOCKET_SENDMSG domain=google.com.multiubuntu.svc.cluster.local
    const e = only(adaptRecord(sample('kubearmor/docs-alerts-logs.jsonl', 23), 'kubearmor'));
    assert.equal(e.behavior, 'network-connect');
    assert.equal(e.network?.domain, 'google.com.multiubuntu.svc.cluster.local');
  });

  for (const hook of ['SECURITY_FILE_PERMISSION', 'FILE_PERMISSION']) {
    it(`a BPF-LSM write block (lsm=${hook}) is a file-write, not a read`, () => {
      const e = only(
        adaptRecord(
          kubearmorLog({
            Operation: 'File',
            Resource: '/etc/passwd',
            Data: `lsm=${hook}`,
            Action: 'Block',
            Enforcer: 'BPFLSM',
            PolicyName: 'etc-read-only',
            Type: 'MatchedPolicy',
          }),
          'kubearmor',
        ),
      );
      assert.equal(e.behavior, 'file-write');
      assert.deepEqual(e.file, { path: '/etc/passwd', operation: 'write' });
    });
  }

  it('a BPF-LSM unlink block is a delete', () => {
    const e = only(
      adaptRecord(
        kubearmorLog({
          Operation: 'File',
          Resource: '/etc/hosts',
          Data: 'lsm=SECURITY_PATH_UNLINK',
          PolicyName: 'p',
        }),
        'kubearmor',
      ),
    );
    assert.deepEqual(e.file, { path: '/etc/hosts', operation: 'delete' });
  });
});

/** A legacy Tracee trace.Event with the given name and args. */
function traceeEvent(eventName: string, args: { name: string; type: string; value: unknown }[]): Json {
  return {
    timestamp: 1733400000000000000,
    processId: 7,
    hostProcessId: 4242,
    threadId: 7,
    hostThreadId: 4242,
    userId: 1000,
    processName: 'exploit',
    hostName: 'worker-1',
    containerId: '',
    eventId: '1',
    eventName,
    argsNum: args.length,
    returnValue: 0,
    args,
  };
}

describe('Tracee', () => {
  it('commit_creds reads Euid (Tracee SlimCred key): a setuid-root escalation is 1000 → 0', () => {
    const cred = (euid: number): Json => ({
      Uid: 1000,
      Gid: 1000,
      Euid: euid,
      Egid: euid,
      Suid: euid,
      Fsuid: euid,
    });
    const e = only(
      adaptRecord(
        traceeEvent('commit_creds', [
          { name: 'old_cred', type: 'slim_cred_t', value: cred(1000) },
          { name: 'new_cred', type: 'slim_cred_t', value: cred(0) },
        ]),
        'tracee',
      ),
    );
    assert.equal(e.behavior, 'privilege-escalation');
    assert.equal(e.privilege?.fromUid, 1000);
    assert.equal(e.privilege?.toUid, 0);
  });

  it('accept4 is an accepted connection with the peer as the remote end', () => {
    const e = only(
      adaptRecord(
        traceeEvent('accept4', [
          { name: 'sockfd', type: 'int', value: 3 },
          {
            name: 'addr',
            type: 'struct sockaddr*',
            value: { sa_family: 'AF_INET', sin_port: '51234', sin_addr: '10.0.0.9' },
          },
        ]),
        'tracee',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(e.network, { family: 'ipv4', daddr: '10.0.0.9', dport: 51234 });
  });

  it('security_socket_accept is kept (not dropped) with the listening address as the local end', () => {
    const e = only(
      adaptRecord(
        traceeEvent('security_socket_accept', [
          { name: 'sockfd', type: 'int', value: 3 },
          {
            name: 'local_addr',
            type: 'struct sockaddr*',
            value: { sa_family: 'AF_INET', sin_port: '8080', sin_addr: '0.0.0.0' },
          },
        ]),
        'tracee',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(e.network, { family: 'ipv4', saddr: '0.0.0.0', sport: 8080 });
  });

  it('bind keeps its own address as the local end', () => {
    const e = only(
      adaptRecord(
        traceeEvent('bind', [
          { name: 'sockfd', type: 'int', value: 3 },
          {
            name: 'addr',
            type: 'struct sockaddr*',
            value: { sa_family: 'AF_INET', sin_port: '8080', sin_addr: '0.0.0.0' },
          },
        ]),
        'tracee',
      ),
    );
    assert.equal(e.behavior, 'network-listen');
    assert.deepEqual(e.network, { family: 'ipv4', saddr: '0.0.0.0', sport: 8080 });
  });
});

/** A Falco alert with the given rule and output fields. */
function falcoAlert(rule: string, fields: Json): Json {
  return {
    hostname: 'worker-1',
    output: `${rule} (…)`,
    priority: 'Notice',
    rule,
    source: 'syscall',
    tags: [],
    time: '2026-12-05T10:00:00.000000000Z',
    output_fields: { 'proc.exepath': '/usr/bin/python3', 'proc.pid': 4242, ...fields },
  };
}

describe('Falco', () => {
  it('an inbound accept puts the client in daddr:dport and the server in saddr:sport', () => {
    const e = only(
      adaptRecord(
        falcoAlert('Interpreted procs inbound network activity', {
          'evt.type': 'accept4',
          'fd.name': '10.0.0.9:51234->10.0.0.2:8080',
        }),
        'falco',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(
      { saddr: e.network?.saddr, sport: e.network?.sport, daddr: e.network?.daddr, dport: e.network?.dport },
      { saddr: '10.0.0.2', sport: 8080, daddr: '10.0.0.9', dport: 51234 },
    );
  });

  it('explicit fd.cip/fd.sip fields follow the same orientation for an inbound connection', () => {
    const e = only(
      adaptRecord(
        falcoAlert('Unexpected inbound connection source', {
          'evt.type': 'accept',
          'fd.cip': '192.0.2.7',
          'fd.cport': 40000,
          'fd.sip': '10.0.0.2',
          'fd.sport': 22,
          'fd.l4proto': 'tcp',
        }),
        'falco',
      ),
    );
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(e.network, {
      saddr: '10.0.0.2',
      sport: 22,
      daddr: '192.0.2.7',
      dport: 40000,
      protocol: 'tcp',
      family: 'ipv4',
    });
  });

  it('an outbound connect keeps the client local and the server remote', () => {
    const e = only(
      adaptRecord(
        falcoAlert('Unexpected outbound connection destination', {
          'evt.type': 'connect',
          'fd.name': '10.0.0.2:51234->93.184.216.34:443',
        }),
        'falco',
      ),
    );
    assert.equal(e.behavior, 'network-connect');
    assert.equal(e.network?.saddr, '10.0.0.2');
    assert.equal(e.network?.daddr, '93.184.216.34');
    assert.equal(e.network?.dport, 443);
  });

  it('an inbound rule firing on listen(2) is a network-listen', () => {
    const e = only(
      adaptRecord(
        falcoAlert('Interpreted procs inbound network activity', { 'evt.type': 'listen' }),
        'falco',
      ),
    );
    assert.equal(e.behavior, 'network-listen');
  });
});

describe('Tetragon', () => {
  // runtime-radar-captures line 8: tcp_connect by curl; hook and args changed per case.
  const connect = (): Json => sample('tetragon/runtime-radar-captures.jsonl', 8);
  const sock = (state: string): Json => ({
    family: 'AF_INET',
    type: 'SOCK_STREAM',
    protocol: 'IPPROTO_TCP',
    saddr: '10.244.0.97',
    daddr: '10.244.0.12',
    sport: 8080,
    dport: 51234,
    state,
  });

  it('inet_csk_accept (kretprobe: the new sock in "return") is an accepted connection', () => {
    const record = connect();
    record.process_kprobe.function_name = 'inet_csk_accept';
    record.process_kprobe.args = [];
    record.process_kprobe.return = { sock_arg: sock('TCP_ESTABLISHED') };
    const e = only(adaptRecord(record, 'tetragon'));
    assert.equal(e.behavior, 'network-accept');
    assert.deepEqual(
      { saddr: e.network?.saddr, sport: e.network?.sport, daddr: e.network?.daddr, dport: e.network?.dport },
      { saddr: '10.244.0.97', sport: 8080, daddr: '10.244.0.12', dport: 51234 },
    );
  });

  const transitions: [string, number, string][] = [
    ['TCP_CLOSE', 10, 'network-listen'],
    ['TCP_CLOSE', 2, 'network-connect'],
    ['TCP_SYN_RECV', 1, 'network-accept'],
    ['TCP_ESTABLISHED', 7, 'alert'],
  ];
  for (const [from, to, behavior] of transitions) {
    it(`tcp_set_state ${from} → ${to} is ${behavior}`, () => {
      const record = connect();
      record.process_kprobe.function_name = 'tcp_set_state';
      record.process_kprobe.args = [{ sock_arg: sock(from) }, { int_arg: to }];
      assert.equal(only(adaptRecord(record, 'tetragon')).behavior, behavior);
    });
  }
});
