/** One pending action per form: its busy state, and the error it ended with, shown as an alert. */
import { useState } from 'react';

export function messageOf(failure: unknown): string {
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * `run` marks the form busy, clears the last error and runs the action; a failure becomes `error`.
 * Forms that go away when their action succeeds (dialogs, sign-in) keep `busy` until they unmount,
 * so their submit button cannot be pressed twice on the way out.
 */
export function useAction(options: { readonly initialError?: string; readonly busyAfterSuccess?: boolean } = {}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(options.initialError);
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      if (options.busyAfterSuccess !== true) setBusy(false);
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function ErrorAlert({ error }: { readonly error: string | undefined }) {
  return error === undefined ? null : (
    <p className="error" role="alert">
      {error}
    </p>
  );
}
