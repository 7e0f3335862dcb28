/**
 * Every line of the Falco samples → its behavior and key fields, or its skip reason.
 * Expected values were read from the samples.
 */
import { describeSampleFile, type Expectation } from './sample-expectations.js';

const shell = (pod: string, containerId: string, args: string[], image?: string): Expectation => ({
  behavior: 'process-exec',
  pod,
  containerId,
  binary: 'sh',
  args,
  rule: 'Terminal shell in container',
  sourceEvent: 'Terminal shell in container',
  ...(image ? { image } : {}),
});
const alert = (rule: string, priority: string, pod: string | null = null): Expectation => ({
  behavior: 'alert',
  rule,
  priority,
  pod,
});

describeSampleFile('falco/falco-alerts.jsonl', [
  {
    ...shell(
      'default/kubecon',
      'ee97d9c4186f',
      ['-c', 'clear;', '(bash', '||', 'ash', '||', 'sh)'],
      'docker.io/library/alpine',
    ),
    node: 'falco-xczjd',
    time: '2023-05-25T13:44:05.478445995Z',
    priority: 'Critical',
    tags: ['container', 'mitre_execution', 'shell'],
    parentBinary: 'runc',
  },
  { ...shell('default/alpine', '5892b41bcf46', []), node: null, priority: 'Notice' },
  shell('falcoresponse/alpine', '6ac7d190134e', ['-c', 'uptime'], 'alpine'),
  shell('default/alpine-deployment-77789455d6-m7flp', '788861c3cf83', ['-c', 'uptime'], 'alpine'),
  {
    behavior: 'network-connect',
    pod: 'openfaas-fn/falco-pod-delete-7dc9f5fbb8-gbfk7',
    containerId: '12fc4de5ccc3',
    image: 'devopps/falco-pod-delete:latest',
    binary: 'handler',
    // parsed from fd.name "172.17.0.9:43812->10.96.0.1:443"
    network: { family: 'ipv4', saddr: '172.17.0.9', sport: 43812, daddr: '10.96.0.1', dport: 443 },
    rule: 'Contact K8S API Server From Container',
  },
  {
    behavior: 'network-connect',
    pod: 'fission-function/poolmgr-go-default-516098-5bdbf8c8f5-g8gvc',
    image: 'fission/fetcher:1.13.1',
    binary: 'fetcher',
    network: { family: 'ipv4', saddr: '192.168.43.223', sport: 39526, daddr: '10.100.0.1', dport: 443 },
  },
  // k8s.pod.name without k8s.ns.name; evt.arg.uid rendered as the user name "root"
  {
    behavior: 'privilege-escalation',
    pod: '/falco-event-generator-6fd89678f9-cdkvz',
    containerId: '1c76f49f40b4',
    binary: 'event_generator',
    parentBinary: 'event_generator',
    privilege: { fromUid: 2, toUid: 0 },
    rule: 'Non sudo setuid',
  },
  // host event: container.id "host" means no container
  {
    behavior: 'file-read',
    pod: null,
    node: 'x86',
    binary: '/usr/bin/cat',
    args: ['/etc/shadow'],
    uid: 0,
    file: { path: '/etc/shadow', operation: 'read' },
    rule: 'Read sensitive file untrusted',
    sourceEvent: 'openat',
  },
  {
    behavior: 'file-write',
    node: 'localhost',
    binary: 'touch',
    args: ['/bin/hack'],
    file: { path: '/bin/hack', operation: 'write' },
    rule: 'Write below binary dir',
    priority: 'Error',
  },
  alert('Disallowed K8s User', 'Warning'),
  // k8s_audit about a pod: the audit target is the pod
  alert('Attach/Exec Pod', 'Notice', 'hello-app/nginx-676b6c5bbc-4xc6t'),
  alert('K8s Serviceaccount Created', 'Informational'),
  alert('Attach/Exec Pod', 'Notice', 'default/kubecon'),
  alert('GCP WAF rule modified or deleted', 'Notice'),
  { ...alert('GCP Bucket configured to be public', 'Critical'), tags: ['GCP', 'buckets', 'compliance'] },
  alert('GCP IAM serviceAccount deleted', 'Notice'),
  { skip: 'tool-internal' }, // Falco internal: metrics snapshot
  { skip: 'tool-internal' }, // Falco internal: syscall event drop
]);

describeSampleFile('falco/falco-grpc-legacy.jsonl', [
  // time {seconds,nanos}, numeric priority 4 = Warning, evt.type unlink → delete
  {
    behavior: 'file-write',
    time: '2019-10-03T09:20:49.620298462Z',
    priority: 'Warning',
    binary: 'zsh',
    file: { path: '/home/vagrant/.zsh_history.LOCK', operation: 'delete' },
    rule: 'Delete or rename shell history',
    pod: null,
  },
  // lower-case priority; RFC 3339 time with an offset is kept as sent
  {
    behavior: 'file-write',
    time: '2020-03-03T17:50:03.391768+00:00',
    priority: 'Warning',
    node: 'localhost.localdomain',
    file: { path: '/home/matt/.zsh_history.LOCK', operation: 'delete' },
  },
]);

describeSampleFile('falco/synthetic-test-payloads.jsonl', [
  {
    behavior: 'alert',
    rule: 'Test rule',
    priority: 'Debug',
    node: 'test-host',
    binary: 'falcosidekick',
    tags: ['test', 'example'],
  },
  { behavior: 'alert', rule: 'Test rule', priority: 'Debug', node: 'test-host', binary: 'falcosidekick' },
  { skip: 'invalid-event' }, // "2021-04-13T20:58:00.746609046Z+2" is not RFC 3339
  // capitalised "Rule" key (Go decoders are case-insensitive)
  alert('Test Terminate', 'Critical', 'default/test'),
  alert('Test Label', 'Warning', 'default/test'),
  {
    ...alert('Test NetworkPolicy', 'Critical', 'default/static-web'),
    network: { daddr: '8.8.8.8', dport: 8888, family: 'ipv4' },
  },
  alert('Test Exec', 'Warning', 'default/static-web'),
  alert('Test Script', 'Warning', 'default/alpine'),
  alert('Test invoke lambda', 'Warning'),
]);

const TEXT: Expectation = { skip: 'text-format' };
describeSampleFile('falco/falco-text-alerts.txt', [TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT]);
describeSampleFile('falco/falco-text-alerts.txt', [TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT], 'falco');
