import type { Command } from '@commander-js/extra-typings';

export function register(_program: Command): void {
  // placeholder: the `release` command is filled in by its owner.
}
