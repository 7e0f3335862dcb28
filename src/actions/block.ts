/**
 * `block` is decided in the kernel (the cgroup connect program denies the connect before user space
 * hears of it); this is what the action pipeline records for a verdict that names it. A denial the
 * program reported is `succeeded`; any other verdict of the rule (the sensor's view of a connect, a
 * verdict from another input) did not come from the kernel's decision and is `skipped`.
 */
import type { Verdict } from '../contracts/verdict.js';
import type { EventOrigin } from '../sources/types.js';
import { KERNEL_BLOCK_SOURCE_NAME } from '../sources/kernel-block/blocker.js';
import type { HandlerResult } from './context.js';

export function blockOutcome(verdict: Verdict, origin: EventOrigin): HandlerResult {
  if (origin.source === KERNEL_BLOCK_SOURCE_NAME && verdict.event.enforced === true)
    return { outcome: 'succeeded', detail: 'connect denied in the kernel (EPERM)' };
  return { outcome: 'skipped', detail: 'decided in the kernel: a denial is reported as its own event' };
}
