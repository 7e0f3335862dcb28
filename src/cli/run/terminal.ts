/**
 * The terminal output of `kyverno-runtime run`: one readable line per verdict, one indented line per
 * action outcome. Colors only when stdout is a TTY (node:util styleText; no dependency).
 */
import { styleText } from 'node:util';
import type { ActionOutcome } from '../../contracts/actions.js';
import type { RuntimeEvent } from '../../events/types.js';
import type { Verdict } from '../../contracts/verdict.js';
import { printable } from '../../util/terminal-text.js';

export { printable } from '../../util/terminal-text.js';

type Style = Parameters<typeof styleText>[0];

export interface TerminalSinkOptions {
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Force colors on/off; default: when `out` is a TTY and NO_COLOR is unset. */
  color?: boolean;
}

export class TerminalSink {
  readonly name = 'terminal';
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly color: boolean;

  constructor(opts: TerminalSinkOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.color = opts.color ?? (this.out.isTTY === true && !process.env.NO_COLOR);
  }

  private paint(style: Style, text: string): string {
    return this.color ? styleText(style, text) : text;
  }

  write(verdicts: Verdict[], _event: RuntimeEvent): void {
    for (const v of verdicts) this.out.write(`${this.format(v)}\n`);
  }

  format(v: Verdict): string {
    // HH:MM:SS(.mmm) of the event time as the tool gave it.
    const time = /T(\d\d:\d\d:\d\d(?:\.\d{1,3})?)/.exec(v.time)?.[1] ?? printable(v.time);
    const mode = v.exception
      ? this.paint('gray', 'SKIP   ')
      : v.mode === 'Enforce'
        ? this.paint(['bold', 'red'], 'ENFORCE')
        : this.paint('yellow', 'AUDIT  ');
    const res = v.resource.namespace
      ? `${v.resource.kind}/${v.resource.namespace}/${v.resource.name}`
      : `${v.resource.kind}/${v.resource.name}`;
    const pid = v.event.process?.pid !== undefined ? ` pid=${v.event.process.pid}` : '';
    return [
      this.paint('gray', time),
      mode,
      this.paint('bold', printable(`${v.policy}/${v.rule}`)),
      this.paint('cyan', printable(res) + (v.container ? `[${printable(v.container)}]` : '')),
      `${printable(v.behavior)}${pid}:`,
      printable(v.message),
    ].join(' ');
  }

  /** Called by the local action runner for each outcome. */
  outcome(v: Verdict, o: ActionOutcome): void {
    const style: Style = o.outcome === 'succeeded' ? 'green' : o.outcome === 'failed' ? 'red' : 'gray';
    this.out.write(
      `    ↳ ${o.action} ${this.paint(style, o.outcome)}${o.detail ? `: ${printable(o.detail)}` : ''} (${printable(`${v.policy}/${v.rule}`)})\n`,
    );
  }
}
