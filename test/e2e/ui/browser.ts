/**
 * The one way the dashboard tests open real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core), with a throwaway profile.
 */
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** How long a dashboard test waits for the page (the browser's own deadline, set below). */
export const PAGE_WAIT_MS = 90_000;

export async function openDashboardBrowser(
  profileDir: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 },
    colorScheme: 'light',
  });
  // Playwright's 30 s default is for a quiet machine; CI runs Chromium next to the other test files
  // at load 10+ on 2 cores. Waits return as soon as the page is ready, so a long deadline is free.
  context.setDefaultTimeout(PAGE_WAIT_MS);
  context.setDefaultNavigationTimeout(PAGE_WAIT_MS);
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}
