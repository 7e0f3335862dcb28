/**
 * validate.pattern / anyPattern outcomes and messages, worded as Kyverno's `validate_resource.go`.
 */
import { compilePattern, type CompiledPattern } from '../pattern/index.js';
import type { PatternSlot } from '../api/compiled-policy.js';
import { capRendered, MAX_MESSAGE_LENGTH, type Template } from '../variables/index.js';
import type { JsonContext } from './context.js';
import { errorMessage, type Outcome } from './result.js';

const dynamicCache = new Map<string, CompiledPattern>();

/** The compiled pattern of a slot; a templated pattern is rendered against ctx, then compiled (cached). */
export function resolvePattern(slot: PatternSlot, ctx: JsonContext): CompiledPattern {
  if (slot.kind === 'static') return slot.pattern;
  const rendered = slot.template.render(ctx);
  const key = JSON.stringify(rendered);
  let p = dynamicCache.get(key);
  if (!p) {
    p = compilePattern(rendered, { references: false });
    if (dynamicCache.size > 500) dynamicCache.clear();
    dynamicCache.set(key, p);
  }
  return p;
}

/** The rule's message with variables substituted and a trailing period, or undefined. */
function userMessage(message: Template | undefined, ctx: JsonContext): string | undefined {
  if (!message) return undefined;
  let text: string;
  try {
    const r = message.render(ctx);
    text = capRendered(typeof r === 'string' ? r : JSON.stringify(r), MAX_MESSAGE_LENGTH, 'message');
  } catch (e) {
    return `failed to substitute variables in message: ${errorMessage(e)}`;
  }
  return text.endsWith('.') ? text : `${text}.`;
}

export function validatePattern(
  rule: string,
  slot: PatternSlot,
  resource: unknown,
  ctx: JsonContext,
  message: Template | undefined,
): Outcome {
  let pattern: CompiledPattern;
  try {
    pattern = resolvePattern(slot, ctx);
  } catch (e) {
    return { status: 'error', message: `variable substitution failed for rule ${rule}: ${errorMessage(e)}` };
  }
  const r = pattern.match(resource);
  switch (r.status) {
    case 'pass':
      return { status: 'pass', message: `validation rule '${rule}' passed.` };
    case 'skip':
      return { status: 'skip', message: r.reason };
    case 'fail': {
      const msg = userMessage(message, ctx);
      return {
        status: 'fail',
        message: msg
          ? `validation error: ${msg} rule ${rule} failed at path ${r.path}`
          : `validation error: rule ${rule} failed at path ${r.path}`,
      };
    }
    case 'error': {
      const msg = userMessage(message, ctx);
      return {
        status: 'error',
        message: msg
          ? `validation error: ${msg} rule ${rule} execution error: ${r.reason}`
          : `validation error: rule ${rule} execution error: ${r.reason}`,
      };
    }
  }
}

export function validateAnyPattern(
  rule: string,
  slots: readonly PatternSlot[],
  resource: unknown,
  ctx: JsonContext,
  message: Template | undefined,
): Outcome {
  const failed: string[] = [];
  const skipped: string[] = [];
  for (const [i, slot] of slots.entries()) {
    let pattern: CompiledPattern;
    try {
      pattern = resolvePattern(slot, ctx);
    } catch (e) {
      return {
        status: 'error',
        message: `variable substitution failed for rule ${rule}: ${errorMessage(e)}`,
      };
    }
    const r = pattern.match(resource);
    switch (r.status) {
      case 'pass':
        return { status: 'pass', message: `validation rule '${rule}' anyPattern[${i}] passed.` };
      case 'skip':
        skipped.push(`rule ${rule}[${i}] skipped: ${r.reason}`);
        break;
      case 'fail':
        failed.push(`rule ${rule}[${i}] failed at path ${r.path}`);
        break;
      case 'error':
        failed.push(`rule ${rule}[${i}] failed: ${r.reason}`);
        break;
    }
  }
  if (failed.length > 0) {
    const msg = userMessage(message, ctx);
    const errs = failed.join(' ');
    return {
      status: 'fail',
      message: msg ? `validation error: ${msg} ${errs}` : `validation error: ${errs}`,
    };
  }
  if (skipped.length > 0) return { status: 'skip', message: skipped.join(' ') };
  // An empty anyPattern list: nothing matched and nothing failed.
  return { status: 'fail', message: `validation error: rule ${rule} has an empty anyPattern` };
}
