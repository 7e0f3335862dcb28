/**
 * Every line of the Tracee samples (both Tracee shapes) → its behavior and key fields,
 * or its skip reason. Expected values were read from the samples.
 */
import { describeSampleFile, type Expectation } from './sample-expectations.js';

const PACKET: Expectation = { skip: 'no-behavior' };

describeSampleFile('tracee/legacy-trace-event.jsonl', [
  // signature (metadata present): alert named by the signature, pod from the flat fields
  {
    behavior: 'alert',
    pod: 'default/app-75ff449bcd-hfwnz',
    node: null, // hostName is the pod's UTS name inside a container, not the node
    containerId: 'ae95a93ce0c2f1b824ac4b205e4d1a3c8f724d663626c1ad23576efec64318de',
    containerName: 'app',
    image: 'docker.io/library/ubuntu:latest',
    binary: 'dpkg',
    pid: 4741,
    uid: 0,
    rule: 'New executable dropped',
    file: { path: '/usr/bin/strace.dpkg-new' },
  },
  PACKET, // net_packet_tcp ×4
  PACKET,
  PACKET,
  PACKET,
  PACKET, // net_packet_dns ×4
  PACKET,
  PACKET,
  PACKET,
  { behavior: 'alert', pod: null, node: 'hb', binary: 'zsh', rule: 'My Own Signature', tags: ['Mine-0.1.0'] },
  {
    behavior: 'file-write',
    pod: null,
    node: 'fujitsu',
    binary: 'bash',
    pid: 2578238,
    uid: 1000,
    file: { path: '/tmp/testing.txt', operation: 'create' },
    sourceEvent: 'security_file_open',
  },
  {
    behavior: 'file-write',
    binary: 'bash',
    file: { path: '/tmp/testing.txt', operation: 'create' },
    sourceEvent: 'openat',
  },
  // vfs_read with an empty pathname: a read, path unknown
  { behavior: 'file-read', binary: 'cat', pid: 184128, file: { operation: 'read' } },
  { behavior: 'file-read', binary: 'cat', file: { operation: 'read' } },
  { skip: 'no-behavior' }, // clone
  { skip: 'no-behavior' }, // close
  {
    behavior: 'file-read',
    node: 'josedonizetti-x',
    binary: 'systemd-oomd',
    file: { path: '/proc/meminfo', operation: 'read' },
  },
  { behavior: 'process-exec', node: 'minikube', binary: '/opt/cni/bin/bridge', args: [], pid: 3242201 },
  // derived detection (eventId 6023 ≥ 6000) without metadata
  {
    behavior: 'alert',
    pod: 'tracee-system/tracee-wk8wh',
    containerName: 'tracee',
    image: 'docker.io/aquasec/tracee:latest',
    rule: 'fileless_execution',
    pid: 6136,
  },
  {
    behavior: 'alert',
    node: 'ubuntu-jammy',
    binary: 'strace',
    rule: 'Anti-Debugging detected',
    priority: '1',
    tags: ['TRC-102', 'defense-evasion', 'Debugger Evasion', 'T1622'],
  },
]);

describeSampleFile('tracee/v1beta1-and-detector-examples.jsonl', [
  // {seconds,nanos} timestamp, {value} wrappers, data[] with typed values
  {
    behavior: 'process-exec',
    time: '2024-11-24T13:20:00.123456789Z',
    pid: 12345,
    uid: 1000,
    binary: '/usr/bin/ls',
    args: ['-la', '/tmp'],
    sourceEvent: 'sched_process_exec',
  },
  // detector output (threat present): alert; data as an object
  {
    behavior: 'alert',
    time: '2025-12-16T10:30:45.123Z',
    binary: '/bin/cat',
    pid: 67890,
    parentBinary: '/bin/bash',
    rule: 'Sensitive File Access',
    priority: 'MEDIUM',
    file: { path: '/etc/shadow' },
  },
]);
