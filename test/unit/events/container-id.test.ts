import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { adaptRecord } from '../../../src/events/adapters/index.js';
import { eventContainerId, normalizeContainerId } from '../../../src/events/container-id.js';

const ID = '12fc4de5ccc3aaaabbbbccccddddeeeeffff0000111122223333444455556666';

describe('container IDs: one normal form', () => {
  it('reduces every runtime spelling to bare lower-case hex', () => {
    for (const raw of [
      `containerd://${ID}`,
      `cri-o://${ID}`,
      `docker://${ID.toUpperCase()}`,
      ID,
      `/kubepods.slice/kubepods-pod1.slice/cri-containerd-${ID}.scope`,
      `crio-${ID}.scope`,
      ` ${ID}\n`,
    ])
      assert.equal(normalizeContainerId(raw), ID, raw);
    assert.equal(normalizeContainerId('docker://12fc4de5ccc3'), '12fc4de5ccc3');
  });

  it('finds no ID in a hex run longer than 64 (its tail is another container)', () => {
    assert.equal(normalizeContainerId(`abcd${ID}`), undefined);
    assert.equal(normalizeContainerId(`crio-conmon-${ID}.scope`), undefined);
    assert.equal(normalizeContainerId('host'), undefined);
  });

  it('the event spelling is the normal form, else the word without its runtime prefix, for any text', () => {
    // The spec eventContainerId's scan and memo must agree with, whatever the spelling.
    const expected = (raw: string): string => {
      const at = raw.indexOf('://');
      return normalizeContainerId(raw) ?? (at >= 0 ? raw.slice(at + 3) : raw);
    };
    const hex = fc.stringMatching(/^[0-9a-fA-F]{10,66}$/);
    const spelling = fc.oneof(
      hex,
      fc
        .tuple(fc.constantFrom('containerd', 'cri-o', 'docker', 'Docker', '', 'x y', 'a-b'), hex)
        .map(([p, h]) => `${p}://${h}`),
      fc.tuple(fc.constantFrom('cri-containerd-', 'crio-', ''), hex).map(([p, h]) => `/k/${p}${h}.scope`),
      // Words of the scan's alphabet, bare or prefixed: hex or not, of any length.
      fc
        .tuple(
          fc.constantFrom('', 'containerd://', 'cri-o://', 'Docker://'),
          fc.stringMatching(/^[0-9a-z]{0,70}$/),
          fc.constantFrom('', '.scope', '/', ' '),
        )
        .map(([p, w, s]) => `${p}${w}${s}`),
      fc.string({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(spelling, (raw) => {
        // Twice: the second call may be answered by the memo.
        assert.equal(eventContainerId(raw), expected(raw));
        assert.equal(eventContainerId(raw), expected(raw));
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps a tool's own non-ID word for the event, without its runtime prefix", () => {
    assert.equal(eventContainerId('host'), 'host');
    assert.equal(eventContainerId(`containerd://abcd${ID}`), `abcd${ID}`);
    assert.equal(eventContainerId(`containerd://${ID.toUpperCase()}`), ID);
  });

  it('every adapter writes the normal form the pod cache looks up', () => {
    const tetragon = adaptRecord(
      {
        process_exec: {
          process: {
            exec_id: 'x',
            pid: 1,
            binary: '/bin/sh',
            pod: { namespace: 'ns', name: 'p', container: { id: `containerd://${ID.toUpperCase()}` } },
          },
        },
        node_name: 'n',
        time: '2026-01-01T00:00:00Z',
      },
      'tetragon',
    );
    assert.equal(tetragon.kind, 'events');
    if (tetragon.kind === 'events') assert.equal(tetragon.events[0]?.container?.id, ID);
    const kubearmor = adaptRecord(
      {
        Timestamp: 1700000000,
        UpdatedTime: '2026-01-01T00:00:00.000000Z',
        HostName: 'n',
        NamespaceName: 'ns',
        PodName: 'p',
        ContainerID: ID.toUpperCase(),
        HostPID: 5,
        PID: 5,
        UID: 0,
        Type: 'ContainerLog',
        Operation: 'Process',
        Resource: '/bin/sh -c id',
        Data: 'syscall=SYS_EXECVE',
        Result: 'Passed',
      },
      'kubearmor',
    );
    assert.equal(kubearmor.kind, 'events', JSON.stringify(kubearmor));
    if (kubearmor.kind === 'events') assert.equal(kubearmor.events[0]?.container?.id, ID);
  });
});
