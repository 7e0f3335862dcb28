/**
 * The one way tests wait: poll a condition until it holds, never sleep a fixed time.
 *
 * WAIT_MS is generous on purpose: a wait that succeeds early costs nothing, while a short one fails
 * CI on a loaded machine (load 10+ on 2 cores stretches every step). A deadline that IS the
 * behaviour under test belongs in the test, not here.
 */
export const WAIT_MS = 20_000;

/**
 * Polls `cond` (sync or async) until it holds, or fails after `timeoutMs` naming `what` it waited
 * for (a function is called only then, to describe the state the test gave up in).
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = WAIT_MS,
  what: string | (() => string) = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
