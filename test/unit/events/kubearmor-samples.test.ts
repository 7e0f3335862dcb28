/**
 * Every line of the KubeArmor sample (alerts and logs from its docs) → its behavior and key fields, or
 * its skip reason. Six documentation examples carry no Timestamp/UpdatedTime: skipped with
 * "missing-time" unless the reader supplies a receive time (checked both ways).
 */
import { describeSampleFile, type Expectation } from './sample-expectations.js';

const RECEIVED = '2026-11-26T12:00:00Z';
const NGINX_DNS = (domain: string): Expectation => ({
  behavior: 'network-connect',
  pod: 'default/nginx-779797d5bd-wlrsn',
  node: 'archlinux',
  binary: '/usr/bin/curl',
  workload: 'nginx',
  network: { protocol: 'udp', family: 'ipv4', daddr: '10.43.0.10', dport: 53, domain },
  rule: null,
  enforced: false,
});
const blockedExec = (pod: string | null, binary: string, rule: string, args: string[] = []): Expectation => ({
  behavior: 'process-exec',
  pod,
  binary,
  args,
  rule,
  enforced: true,
});
const WP = 'wordpress-mysql/wordpress-fb448db97-wj7n7';
const MYSQL = 'wordpress-mysql/mysql-74775b4bf4-65nqf';
const NGINX = 'default/nginx-77b4fdf86c-x7sdm';
const UBUNTU = 'default/ubuntu-1-6779f689b5-jjcvh';

function table(receivedTime: boolean): Expectation[] {
  const timed = (e: Expectation): Expectation => (receivedTime ? e : { skip: 'missing-time' });
  return [
    // host alert: no pod, binary from Resource when ProcessName is absent
    {
      ...blockedExec(null, '/usr/bin/sleep', 'hsp-kubearmor-dev-proc-path-block'),
      node: 'pandora',
      pid: 3390423,
      uid: 1000,
      priority: '1',
    },
    {
      ...blockedExec('default/nginx-8f458dc5b-fl42t', '/usr/bin/apt', 'block-pkg-mgmt-tools-exec', [
        'update',
      ]),
      time: '2023-06-11T09:19:43.451704Z',
      containerId: '8762eafc25a35ab90089f79703b86659989e8e547c2c029fb60f55d884355000',
      containerName: 'nginx',
      labels: { app: 'nginx' },
      parentBinary: '/bin/dash',
      pid: 3341928,
    },
    {
      behavior: 'file-read',
      pod: 'default/nginx-8f458dc5b-fl42t',
      binary: '/bin/cat',
      file: { path: '/etc/nginx/conf.d/default.conf', operation: 'read' },
      rule: 'audit-etc-nginx-access',
      enforced: false,
    },
    NGINX_DNS('google.com.default.svc.cluster.local'),
    NGINX_DNS('google.com.default.svc.cluster.local'),
    NGINX_DNS('google.com.svc.cluster.local'),
    NGINX_DNS('google.com.svc.cluster.local'),
    NGINX_DNS('google.com.cluster.local'),
    NGINX_DNS('google.com.cluster.local'),
    NGINX_DNS('google.com'),
    NGINX_DNS('google.com'),
    {
      behavior: 'file-write',
      pod: null,
      node: 'vagrant',
      binary: '/usr/bin/unlink',
      file: { path: '/home/vagrant/secret.txt', operation: 'delete' },
      rule: 'audit-all-unlink',
      priority: '3',
      enforced: false,
    },
    {
      behavior: 'file-write',
      pod: null,
      binary: '/usr/bin/rmdir',
      file: { path: '/home/jane-doe', operation: 'delete' },
      rule: 'audit-home-rmdir',
    },
    timed({
      behavior: 'process-exec',
      pod: 'default/vault-0',
      binary: '/bin/sh',
      args: ['-ec', 'vault', 'status', '-tls-skip-verify'],
      uid: 100,
      rule: null,
      time: RECEIVED,
    }),
    timed({
      behavior: 'file-read',
      pod: 'accuknox-agents/discovery-engine-6f5c4df7b4-q8zbc',
      binary: '/knoxAutoPolicy',
      file: { path: '/var/run/secrets/kubernetes.io/serviceaccount/token', operation: 'read' },
    }),
    timed({
      behavior: 'network-connect',
      pod: 'accuknox-agents/policy-enforcement-agent-7946b64dfb-f4lgv',
      binary: '/home/pea/main',
      network: { family: 'ipv4', daddr: '10.0.0.10', dport: 53 },
    }),
    timed(
      blockedExec(
        'wordpress-mysql/wordpress-787f45786f-2q9wf',
        '/usr/bin/apt',
        'harden-wordpress-pkg-mngr-exec',
      ),
    ),
    timed({
      behavior: 'file-write',
      pod: 'wordpress-mysql/wordpress-787f45786f-2q9wf',
      binary: '/bin/rm',
      file: { path: '/sbin/raw', operation: 'delete' },
      enforced: true,
    }),
    // socket(AF_UNIX) matched by a policy: no connect/listen, so an alert named by the policy
    timed({
      behavior: 'alert',
      pod: 'default/vault-0',
      binary: '/bin/vault',
      rule: 'ksp-vault-network',
      priority: '8',
      enforced: false,
    }),
    {
      ...blockedExec(null, '/bin/sleep', 'sleep-deny', ['10']),
      node: 'gke-my-first-cluster-1-default-pool-9144db50-81gb',
    },
    {
      behavior: 'privilege-escalation',
      pod: null,
      binary: '/usr/sbin/sshd',
      privilege: { fromUid: 204, toGid: 0 },
      rule: 'DefaultPosture',
      enforced: true,
    },
    {
      behavior: 'privilege-escalation',
      pod: null,
      binary: '/usr/sbin/sshd',
      privilege: { fromUid: 204, toUid: 0 },
      rule: 'DefaultPosture',
      enforced: true,
    },
    {
      behavior: 'network-connect',
      pod: 'multiubuntu/ubuntu-1-deployment-748575cfcc-5bdpq',
      binary: '/usr/bin/curl',
      network: { domain: 'google.com.multiubuntu.svc.cluster.local' },
      rule: 'block-dns-query-to-google-subdomains',
      priority: '10',
      enforced: true,
    },
    blockedExec('wordpress-mysql/wordpress-787f45786f-mm2bm', '/usr/bin/apt', 'ksp-wordpress-block-process', [
      'update',
    ]),
    { skip: 'no-behavior' }, // host log of socket(AF_UNIX): telemetry without a behavior
    {
      ...blockedExec(null, '/usr/bin/sleep', 'hsp-kubearmor-dev-proc-path-block'),
      sourceEvent: 'Process:SECURITY_BPRM_CHECK',
    },
    // inbound SSH seen by the host firewall: an accepted connection; local = the host's :22, remote = client
    {
      behavior: 'network-accept',
      pod: null,
      node: 'ubuntu',
      network: {
        protocol: 'tcp',
        family: 'ipv4',
        saddr: '192.168.29.76',
        sport: 22,
        daddr: '192.168.29.42',
        dport: 53262,
      },
      rule: 'nsp-ingress-audit-ssh',
      enforced: false,
    },
    blockedExec(
      'multiubuntu/ubuntu-1-deployment-8dc5d8d48-5s8pf',
      '/usr/bin/python3.6',
      'ksp-ubuntu-1-allow-proc-args',
      ['-m', 'pydoc'],
    ),
    blockedExec('default/my-daemonset-xhrr9', '/bin/sleep', 'new'),
    blockedExec('explorer/knoxautopolicy-f69c455-9824f', '/usr/bin/chmod', 'autopol-system-4153385364'),
    {
      behavior: 'file-write',
      pod: UBUNTU,
      binary: '/bin/rmdir',
      file: { path: '/home/jane-doe', operation: 'delete' },
      labels: { container: 'ubuntu-1' },
    },
    {
      behavior: 'file-write',
      pod: UBUNTU,
      binary: '/usr/bin/unlink',
      file: { path: '/home/secret.txt', operation: 'delete' },
    },
    {
      behavior: 'file-write',
      pod: UBUNTU,
      binary: '/bin/rmdir',
      file: { path: '/home/jane-doe', operation: 'delete' },
      priority: '1',
    },
    {
      behavior: 'file-read',
      pod: 'wordpress-mysql/wordpress-7c966b5d85-42jwx',
      binary: '/bin/ls',
      file: { path: '/run/secrets/kubernetes.io/serviceaccount', operation: 'read' },
      enforced: true,
    },
    {
      behavior: 'file-write',
      pod: MYSQL,
      binary: '/bin/touch',
      file: { path: '/sbin/file', operation: 'create' },
      rule: 'harden-mysql-file-integrity-monitoring',
    },
    blockedExec(MYSQL, '/usr/bin/apt', 'harden-mysql-pkg-mngr-exec'),
    {
      behavior: 'file-write',
      pod: MYSQL,
      binary: '/bin/rmdir',
      file: { path: '/etc/ssl/certs', operation: 'delete' },
      enforced: true,
    },
    {
      behavior: 'file-read',
      pod: MYSQL,
      binary: '/bin/cat',
      file: { path: '/var/lib/mysql/ib_logfile1', operation: 'read' },
      rule: 'ksp-block-mysql-dir',
    },
    {
      behavior: 'file-read',
      pod: WP,
      binary: '/bin/cat',
      file: { path: '/etc/ca-certificates.conf', operation: 'read' },
      uid: 1000,
    },
    blockedExec(WP, '/usr/bin/scp', 'harden-wordpress-remote-file-copy', [
      '/etc/ca-certificates.conf',
      '104.192.3.74:/mine/',
    ]),
    { behavior: 'alert', pod: NGINX, binary: '/usr/bin/curl', rule: 'DefaultPosture', enforced: true },
    {
      behavior: 'file-write',
      pod: WP,
      binary: '/bin/bash',
      file: { path: '/tmp/sh-thd-2512146865', operation: 'create' },
      rule: 'ksp-block-exec-inside-tmp',
    },
    blockedExec('default/dvwa-web-566855bc5b-4j4vl', '/usr/bin/kubectl', 'DefaultPosture'),
    blockedExec(
      'default/dvwa-web-566855bc5b-npjn8',
      '/bin/netstat',
      'harden-dvwa-web-network-service-scanning',
    ),
    {
      behavior: 'file-write',
      pod: NGINX,
      binary: '/usr/bin/rm',
      file: { path: '/root/.bash_history', operation: 'delete' },
    },
    { behavior: 'alert', pod: NGINX, binary: '/usr/sbin/hping3', rule: 'DefaultPosture' },
    // labels printed space-separated in this doc example
    {
      behavior: 'alert',
      pod: 'multiubuntu/ubuntu-1-deployment-f987bd4d6-xzcb8',
      binary: '/usr/sbin/tcpdump',
      labels: { container: 'ubuntu-1', group: 'group-1' },
      rule: 'ksp-ubuntu-1-cap-net-raw-block',
    },
    {
      behavior: 'process-exec',
      pod: 'default/nginx-8f458dc5b-fl42t',
      binary: '/bin/sh',
      args: ['-c', 'cat', '/run/secrets/kubernetes.io/serviceaccount/token'],
      rule: null,
    },
    {
      behavior: 'process-exec',
      pod: 'default/nginx-8f458dc5b-fl42t',
      binary: '/bin/cat',
      args: ['/run/secrets/kubernetes.io/serviceaccount/token'],
      parentBinary: '/bin/dash',
    },
  ];
}

describeSampleFile('kubearmor/docs-alerts-logs.jsonl', table(false));
describeSampleFile('kubearmor/docs-alerts-logs.jsonl', table(true), 'kubearmor', { fallbackTime: RECEIVED });
