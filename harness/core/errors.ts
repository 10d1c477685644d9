// Errors that mean "the user asked for something we cannot do": the CLI prints them as one line
// `faultline: <what is wrong>; <what to do>` and exits 2, before anything was changed.
export class UserError extends Error {
  constructor(
    readonly what: string,
    readonly todo: string,
  ) {
    super(`${what}; ${todo}`);
    this.name = 'UserError';
  }
}

/** Thrown when the run was aborted by a signal; carries the signal name so exit codes can follow it. */
export class AbortedError extends Error {
  constructor(readonly reason: string) {
    super(`aborted (${reason})`);
    this.name = 'AbortedError';
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Throws AbortedError if the signal has fired; stages call it between steps. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError(String(signal.reason ?? 'aborted'));
}
