/**
 * Exempted verdicts in the dashboard, in real headless Chromium: real sample events through the
 * runtime engine with a real PolicyException, into the store and the live stream. A verdict the
 * exception exempted is shown as skipped (its own state, naming the exception, filterable), and is
 * not counted as a violation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { createRuntimeEngine } from '../../../src/engine/runtime/index.js';
import { ExceptionSet } from '../../../src/engine/exceptions/index.js';
import type { RuntimeEvent } from '../../../src/events/types.js';
import { loadPolicyText } from '../../../src/policy/index.js';
import { createPipeline, type Pipeline } from '../../../src/pipeline/index.js';
import { createStoreSink, openStore, type ReportStore } from '../../../src/reports/store/index.js';
import { createLocalServer, type LocalServer } from '../../../src/server/index.js';
import {
  EXEMPTION_EXCEPTION as EXCEPTION,
  EXEMPTION_POLICY as POLICY,
  tetragonExecEvents,
} from '../../integration/store/fixtures.js';
import { waitFor } from '../../support/wait.js';
import { openDashboardBrowser, PAGE_WAIT_MS } from './browser.js';
import { dashboardAssets } from './dashboard-built.js';

const SHOTS = resolve('test-artifacts/screenshots');

let dir: string;
let store: ReportStore;
let server: LocalServer;
let pipeline: Pipeline;
let context: BrowserContext;
let page: Page;
let base: RuntimeEvent;
let assets: Awaited<ReturnType<typeof dashboardAssets>> | undefined;

function inPod(name: string, id: string): RuntimeEvent {
  return { ...base, id, pod: { ...base.pod, namespace: 'team', name } };
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), 'kr-e2e-skip-'));
  assets = await dashboardAssets();
  store = openStore(join(dir, 'store.db'));
  const policy = loadPolicyText(POLICY, 'policy.yaml');
  const exception = loadPolicyText(EXCEPTION, 'exception.yaml');
  assert.deepEqual([...policy.errors, ...exception.errors], []);
  const engine = createRuntimeEngine(policy.policies, {
    exceptions: new ExceptionSet(exception.exceptions ?? [], { clusterWideNamespaces: ['*'] }),
  });
  server = await createLocalServer({
    store,
    uiDir: assets.dir,
    listen: { host: '127.0.0.1', port: 0 },
    ready: () => true,
    policies: () => ({ policies: engine.policies, errors: [] }),
    sources: () => [],
  });
  pipeline = createPipeline({ engine, sinks: [createStoreSink(store), server.sink] });
  const sample = tetragonExecEvents().find((e) => e.pod?.name !== undefined && e.process?.binary);
  assert.ok(sample, 'a real sample exec event in a pod');
  base = sample;
  for (const e of [inPod('debug-7', 'ev-1'), inPod('debug-7', 'ev-2'), inPod('web-1', 'ev-3')])
    await pipeline.submit(e, { source: 'replay', canWait: true });
  await pipeline.drain();

  ({ context, page } = await openDashboardBrowser(join(dir, 'profile')));
});

after(async () => {
  await context?.close();
  await pipeline?.stop();
  await server?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
  assets?.dispose();
});

test('an exempted verdict is listed as skipped with its exception, and is not counted as a violation', async () => {
  await page.goto(server.url);
  const skipped = page.locator('table.violations tbody tr[data-result="skip"]');
  await skipped.first().waitFor();
  assert.equal(await skipped.count(), 1);
  const text = (await skipped.textContent()) ?? '';
  assert.match(text, /debug-7/);
  assert.match(text, /skipped/);
  assert.match(text, /ops\/debug-pods/);
  const failing = page.locator('table.violations tbody tr[data-result="fail"]');
  assert.equal(await failing.count(), 1);
  assert.match((await failing.textContent()) ?? '', /web-1/);
  await page.getByTestId('kpi-skipped').filter({ hasText: '1' }).waitFor();
  assert.equal(await page.getByTestId('kpi-violations').textContent(), '1');
  // The mode tiles count what each mode did: the exempted row is in neither.
  const modes = await Promise.all(
    ['Enforce', 'Audit'].map(async (m) => Number(await page.getByTestId(`kpi-mode-${m}`).textContent())),
  );
  assert.equal(modes[0]! + modes[1]!, 1);
  await page.screenshot({ path: join(SHOTS, '08-exempted-skipped.png'), fullPage: true });
});

test('the result filter shows only skipped (or only violations) and lives in the URL', async () => {
  await page.goto(server.url);
  await page.locator('table.violations tbody tr').first().waitFor();
  await page.locator('select[name="result"]').selectOption('skip');
  await page.waitForURL(/result=skip/);
  const rows = page.locator('table.violations tbody tr');
  // Polled through locators: a string predicate would be eval'd in the page, which its CSP forbids.
  await waitFor(
    async () => (await rows.count()) === 1 && (await rows.first().getAttribute('data-result')) === 'skip',
    PAGE_WAIT_MS,
    'only the skipped row',
  );
  await page.reload();
  assert.equal(await page.locator('select[name="result"]').inputValue(), 'skip');
  await page.locator('select[name="result"]').selectOption('fail');
  await waitFor(
    async () =>
      (await rows.count()) === 1 &&
      (await rows.first().getAttribute('data-result')) === 'fail' &&
      ((await rows.first().textContent()) ?? '').includes('web-1'),
    PAGE_WAIT_MS,
    'only the web-1 violation',
  );
});

test('the details of an exempted verdict say skipped by the exception, with no actions run', async () => {
  await page.goto(server.url);
  const row = page.locator('table.violations tbody tr[data-result="skip"]').first();
  await row.waitFor();
  await row.click();
  await page.waitForURL(/\/violations\/\d+$/);
  const note = page.getByTestId('exempted');
  await note.waitFor();
  assert.match((await note.textContent()) ?? '', /exempted by PolicyException\s*ops\/debug-pods/);
  const actions = (await page.locator('section[aria-label="Actions"]').textContent()) ?? '';
  assert.match(actions, /Exempted by a PolicyException: no actions run/);
  assert.equal(await page.locator('h2 .badge[data-result="skip"]').textContent(), 'skipped');
});

test('a live exempted verdict is shown as skipped in the live feed', async () => {
  await page.goto(server.url);
  await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor();
  await pipeline.submit(inPod('debug-9', 'ev-live'), { source: 'replay', canWait: true });
  await pipeline.drain();
  const live = page.locator('.live-item', { hasText: 'debug-9' }).first();
  await live.waitFor();
  assert.equal(await live.locator('.badge[data-result="skip"]').count(), 1);
  assert.equal(await live.locator('.mode-enforce').count(), 0, 'not shown as an Enforce violation');
});
