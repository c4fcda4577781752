/** First sign-in: creates the profile (`POST /users`) others see. */
import { type FormEvent, useState } from 'react';
import { ErrorAlert, useAction } from './action';
import { ParleyApiError, type ParleyClient, type UserView } from './sdk';

export function ProfileSetup(props: {
  readonly client: ParleyClient;
  readonly suggestedName: string;
  readonly suggestedUsername: string;
  readonly onCreated: (profile: UserView) => void;
  readonly onSignOut: () => void;
}) {
  const [name, setName] = useState(props.suggestedName);
  const [username, setUsername] = useState(props.suggestedUsername);
  const { busy, error, run } = useAction({ busyAfterSuccess: true });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    await run(async () => {
      try {
        props.onCreated(await props.client.api.createUser({ name: name.trim(), username }));
      } catch (failure) {
        // A conflict is either a taken username or a profile created meanwhile (another tab): use the latter.
        const me = props.client.userId;
        const existing =
          failure instanceof ParleyApiError && failure.status === 409 && me !== undefined
            ? await props.client.api.getUser(me).catch(() => undefined)
            : undefined;
        if (existing === undefined) throw failure;
        props.onCreated(existing);
      }
    });
  };

  return (
    <main className="auth-page">
      <form className="card" onSubmit={submit} aria-labelledby="profile-title">
        <h1 id="profile-title">Create your profile</h1>
        <p className="hint">This is how others see you in Parley.</p>
        <label htmlFor="profile-name">Display name</label>
        <input
          id="profile-name"
          required
          maxLength={80}
          autoComplete="name"
          value={name}
          onChange={(event) => setName(event.target.value)}
          // biome-ignore lint/a11y/noAutofocus: the first field of a one-purpose page
          autoFocus
        />
        <label htmlFor="profile-username">Username</label>
        <input
          id="profile-username"
          required
          minLength={3}
          maxLength={32}
          pattern="[A-Za-z0-9_.]+"
          autoComplete="username"
          aria-describedby="profile-username-hint"
          value={username}
          onChange={(event) => setUsername(event.target.value)}
        />
        <p id="profile-username-hint" className="hint">
          3–32 letters, digits, “_” or “.”
        </p>
        <ErrorAlert error={error} />
        <div className="row">
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Creating…' : 'Continue'}
          </button>
        </div>
      </form>
    </main>
  );
}
