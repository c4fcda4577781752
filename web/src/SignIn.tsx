/** Sign in: a username locally, Cognito's hosted login on AWS. */
import { type FormEvent, useState } from 'react';
import { ErrorAlert, useAction } from './action';
import type { Authenticator, Session } from './auth';

export function SignIn(props: {
  readonly auth: Authenticator;
  readonly error: string | undefined;
  readonly onSignedIn: (session: Session) => void;
}) {
  const { auth } = props;
  const [username, setUsername] = useState('');
  const { busy, error, run } = useAction({
    busyAfterSuccess: true,
    ...(props.error === undefined ? {} : { initialError: props.error }),
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await run(async () => {
      if (auth.kind === 'local') props.onSignedIn(await auth.signIn(username));
      else await auth.signIn();
    });
  };

  return (
    <main className="auth-page">
      <form className="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Parley</h1>
        {auth.kind === 'local' ? (
          <>
            <p className="hint">Local stack: any username signs in (a–z, 0–9, “_”, “.”, “-”).</p>
            <label htmlFor="sign-in-username">Username</label>
            <input
              id="sign-in-username"
              name="username"
              autoComplete="username"
              required
              maxLength={32}
              pattern="[A-Za-z0-9_.\-]+"
              value={username}
              onChange={(event) => setUsername(event.target.value)}
              // biome-ignore lint/a11y/noAutofocus: the only field on the page
              autoFocus
            />
          </>
        ) : (
          <p className="hint">You will sign in on the Parley sign-in page and come straight back.</p>
        )}
        <ErrorAlert error={error} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
