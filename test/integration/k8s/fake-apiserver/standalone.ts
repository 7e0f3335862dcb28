/**
 * The fake API server in its own process (for bench/actions.ts, so the API server's work is not
 * charged to the agent's event loop). Driven over IPC:
 *   parent → child: {seed: object} | {connections: true} | {close: true}
 *   child → parent: {url} once listening, {seeded: uid}, {connections: n} (TCP connections accepted
 *   so far), {arrival: {method, path, at}} per DELETE
 *   (`at` = process.hrtime.bigint() as a string: CLOCK_MONOTONIC, comparable across processes).
 */
import { FakeApiServer } from './server.js';

const server = await FakeApiServer.start({ bookmarkIntervalMs: 5000 });
server.recordRequests = false;
server.onRequest = (method, path, at) => {
  if (method === 'DELETE')
    process.send?.({ arrival: { method, path: path.split('?')[0], at: at.toString() } });
};
process.on('message', (msg: { seed?: Record<string, unknown>; connections?: boolean; close?: boolean }) => {
  if (msg.seed) {
    const o = server.seed(msg.seed);
    process.send?.({ seeded: o.metadata.uid });
  }
  if (msg.connections === true) process.send?.({ connections: server.connectionsOpened });
  if (msg.close === true) {
    void server.close().then(() => process.exit(0));
  }
});
process.send?.({ url: server.url });
