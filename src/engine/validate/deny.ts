/** validate.deny: conditions true → fail, false → pass (Kyverno's `validateDeny`). */
import type { CompiledConditions } from '../conditions/index.js';
import { capRendered, MAX_MESSAGE_LENGTH, type Template } from '../variables/index.js';
import type { JsonContext } from './context.js';
import { errorMessage, type Outcome } from './result.js';

export function validateDeny(
  rule: string,
  deny: CompiledConditions,
  ctx: JsonContext,
  message: Template | undefined,
): Outcome {
  let outcome;
  try {
    outcome = deny.evaluate(ctx);
  } catch (e) {
    return { status: 'error', message: `failed to check deny conditions: ${errorMessage(e)}` };
  }
  if (!outcome.result) return { status: 'pass', message: `validation rule '${rule}' passed.` };
  if (!message && !outcome.message)
    return { status: 'fail', message: `validation error: rule ${rule} failed` };
  // Kyverno joins the rule message and the deciding condition's message with "; ".
  let text = outcome.message ?? '';
  if (message) {
    try {
      const r = message.render(ctx);
      text = [typeof r === 'string' ? r : JSON.stringify(r), outcome.message ?? '']
        .filter((s) => s !== '')
        .join('; ');
    } catch {
      // Kyverno falls back to the condition message when the rule message cannot be substituted.
    }
  }
  return { status: 'fail', message: capRendered(text, MAX_MESSAGE_LENGTH, 'message') };
}
