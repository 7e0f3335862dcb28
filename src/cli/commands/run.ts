import type { Command } from '@commander-js/extra-typings';

export function register(_program: Command): void {
  // placeholder: the `run` command is filled in by its owner.
}
