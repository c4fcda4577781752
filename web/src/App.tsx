/** Sign-in, first-time profile, then the chat. */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { WebConfig } from '../../shared/config/web';
import { type Authenticator, createAuthenticator, type Session } from './auth';
import { ChatApp } from './ChatApp';
import { OnlineAwareWebSocket } from './online-socket';
import { ProfileSetup } from './ProfileSetup';
import { SignIn } from './SignIn';
import { type KeyValueStore, ParleyApiError, ParleyClient, type UserView } from './sdk';
import { ChatStore } from './store';

export function App({ config }: { readonly config: WebConfig }) {
  const auth = useMemo(() => createAuthenticator(config), [config]);
  // undefined: still finding out; null: signed out.
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    auth.restore().then(
      (restored) => setSession(restored ?? null),
      (failure: unknown) => {
        setError(failure instanceof Error ? failure.message : String(failure));
        setSession(null);
      },
    );
  }, [auth]);

  const signOut = useCallback(async () => {
    setSession(null);
    await auth.signOut();
  }, [auth]);

  if (session === undefined) return <p className="splash">Loading…</p>;
  if (session === null) return <SignIn auth={auth} error={error} onSignedIn={setSession} />;
  return <SignedIn key={session.userId} config={config} auth={auth} session={session} onSignOut={signOut} />;
}

/** Keeps the SDK's device id per user, so two people sharing a browser are two devices. */
function deviceStorage(userId: string): KeyValueStore {
  return {
    getItem: (key) => localStorage.getItem(`${key}.${userId}`),
    setItem: (key, value) => localStorage.setItem(`${key}.${userId}`, value),
  };
}

function SignedIn(props: {
  readonly config: WebConfig;
  readonly auth: Authenticator;
  readonly session: Session;
  readonly onSignOut: () => void;
}) {
  const { config, session } = props;
  const [store, setStore] = useState<ChatStore | undefined>(undefined);
  // undefined: loading; null: no profile yet.
  const [profile, setProfile] = useState<UserView | null | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    const client = new ParleyClient({
      httpUrl: config.httpUrl,
      wsUrl: config.wsUrl,
      tokenProvider: () => session.tokenProvider(),
      storage: deviceStorage(session.userId),
      WebSocket: OnlineAwareWebSocket,
      // Reconnect attempts at most 5 s apart: someone is looking at this screen waiting for it.
      backoff: { initialMs: 500, maxMs: 5000 },
    });
    const created = new ChatStore(client, session.userId);
    setStore(created);
    let cancelled = false;
    client.api.getUser(session.userId).then(
      (view) => {
        if (!cancelled) setProfile(view);
      },
      (failure: unknown) => {
        if (cancelled) return;
        if (failure instanceof ParleyApiError && failure.status === 404) setProfile(null);
        else setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
    return () => {
      cancelled = true;
      created.stop();
    };
  }, [config, session]);

  if (error !== undefined)
    return (
      <main className="splash" role="alert">
        <p>Could not load your profile: {error}</p>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </main>
    );
  if (store === undefined || profile === undefined) return <p className="splash">Loading your profile…</p>;
  if (profile === null)
    return (
      <ProfileSetup
        client={store.client}
        suggestedName={session.suggestedName}
        suggestedUsername={session.suggestedUsername}
        onCreated={setProfile}
        onSignOut={props.onSignOut}
      />
    );
  return <ChatApp store={store} profile={profile} onSignOut={props.onSignOut} />;
}
