/**
 * Sign-in for both deployments: `local` asks the local stack's token endpoint for a username's token;
 * `cognito` runs Cognito's hosted login (authorization code flow with PKCE, oidc-client-ts) and uses
 * the ID token as the API's bearer token.
 */
import { UserManager, WebStorageStateStore } from 'oidc-client-ts';
import { type WebConfig, webAuthCallbackPath } from '../../shared/config/web';
import { expiresSoon, readClaims } from './jwt';

export interface Session {
  readonly userId: string;
  /** Profile suggestions for a first sign-in. */
  readonly suggestedName: string;
  readonly suggestedUsername: string;
  /** A valid bearer token, renewed when it is about to expire. */
  tokenProvider(): Promise<string>;
}

export interface LocalAuthenticator {
  readonly kind: 'local';
  restore(): Promise<Session | undefined>;
  signIn(username: string): Promise<Session>;
  signOut(): Promise<void>;
}

export interface CognitoAuthenticator {
  readonly kind: 'cognito';
  restore(): Promise<Session | undefined>;
  /** Leaves the page for the hosted login; the browser comes back to /callback. */
  signIn(): Promise<void>;
  signOut(): Promise<void>;
}

export type Authenticator = LocalAuthenticator | CognitoAuthenticator;

export function createAuthenticator(config: WebConfig): Authenticator {
  const auth = config.auth;
  return auth.kind === 'local'
    ? createLocalAuthenticator(config.httpUrl)
    : createCognitoAuthenticator(auth.domain, auth.clientId, auth.scopes);
}

/** Profile usernames allow 3–32 of [a-zA-Z0-9_.]. */
export function suggestUsername(raw: string): string {
  const cleaned = raw.replace(/[^a-zA-Z0-9_.]/g, '_').slice(0, 32);
  return cleaned.length >= 3 ? cleaned : `${cleaned}___`.slice(0, 3);
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// sessionStorage: each tab signs in on its own, so two local users can chat from one browser.
const localSessionKey = 'parley.localSession';

interface StoredLocalSession {
  readonly username: string;
  readonly token: string;
  readonly userId: string;
}

function createLocalAuthenticator(httpUrl: string): LocalAuthenticator {
  const issue = async (username: string): Promise<StoredLocalSession> => {
    const response = await fetch(`${httpUrl}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username }),
    });
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) throw new Error(errorMessageOf(body) ?? `Sign-in failed (${response.status})`);
    const { token, userId } = (body ?? {}) as { token?: unknown; userId?: unknown };
    if (typeof token !== 'string' || typeof userId !== 'string') throw new Error('Sign-in answered no token');
    const stored: StoredLocalSession = { username: username.toLowerCase(), token, userId };
    sessionStorage.setItem(localSessionKey, JSON.stringify(stored));
    return stored;
  };
  const toSession = (initial: StoredLocalSession): Session => {
    let current = initial;
    const renew = shared(async () => {
      current = await issue(current.username);
    });
    return {
      userId: current.userId,
      suggestedName: capitalize(current.username),
      suggestedUsername: suggestUsername(current.username),
      async tokenProvider() {
        if (expiresSoon(current.token)) await renew();
        return current.token;
      },
    };
  };
  return {
    kind: 'local',
    async restore() {
      const raw = sessionStorage.getItem(localSessionKey);
      if (raw === null) return undefined;
      try {
        const stored = JSON.parse(raw) as StoredLocalSession;
        if (typeof stored.username !== 'string' || typeof stored.userId !== 'string') return undefined;
        return toSession(stored);
      } catch {
        return undefined;
      }
    },
    async signIn(username) {
      return toSession(await issue(username.trim()));
    },
    async signOut() {
      sessionStorage.removeItem(localSessionKey);
    },
  };
}

/** Runs `task` once for all callers that ask while it runs (the SDK asks for a token per request). */
function shared<T>(task: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
}

function errorMessageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const error = (body as { error?: { message?: unknown } }).error;
  return typeof error?.message === 'string' ? error.message : undefined;
}

function createCognitoAuthenticator(domain: string, clientId: string, scopes: readonly string[]): CognitoAuthenticator {
  const origin = window.location.origin;
  // The hosted UI's endpoints are given outright: no discovery document lives on the Cognito domain.
  const manager = new UserManager({
    authority: domain,
    client_id: clientId,
    redirect_uri: `${origin}${webAuthCallbackPath}`,
    response_type: 'code',
    scope: scopes.join(' '),
    loadUserInfo: false,
    automaticSilentRenew: false,
    userStore: new WebStorageStateStore({ store: window.localStorage }),
    metadata: {
      issuer: domain,
      authorization_endpoint: `${domain}/oauth2/authorize`,
      token_endpoint: `${domain}/oauth2/token`,
      revocation_endpoint: `${domain}/oauth2/revoke`,
    },
  });

  const refresh = shared(async (): Promise<string> => {
    const user = await manager.getUser();
    // Without a refresh token the user has to sign in again.
    if (user?.refresh_token === undefined) {
      await manager.signinRedirect();
      throw new Error('Signing in again');
    }
    const renewed = await manager.signinSilent();
    if (renewed?.id_token === undefined) throw new Error('Token renewal answered no ID token');
    return renewed.id_token;
  });

  const sessionFor = (idToken: string): Session => {
    const claims = readClaims(idToken);
    if (claims.sub === undefined) throw new Error('The ID token has no subject');
    const emailName = claims.email?.split('@')[0];
    return {
      userId: claims.sub,
      suggestedName: claims.name ?? capitalize(emailName ?? ''),
      suggestedUsername: suggestUsername(emailName ?? claims.username ?? ''),
      async tokenProvider() {
        const user = await manager.getUser();
        if (user?.id_token !== undefined && !expiresSoon(user.id_token)) return user.id_token;
        return refresh();
      },
    };
  };

  return {
    kind: 'cognito',
    async restore() {
      if (window.location.pathname === webAuthCallbackPath) {
        const user = await manager.signinRedirectCallback();
        window.history.replaceState(null, '', '/');
        if (user.id_token === undefined) throw new Error('Sign-in answered no ID token');
        return sessionFor(user.id_token);
      }
      const user = await manager.getUser();
      if (user?.id_token === undefined) return undefined;
      if (expiresSoon(user.id_token) && user.refresh_token === undefined) return undefined;
      return sessionFor(user.id_token);
    },
    async signIn() {
      await manager.signinRedirect();
    },
    async signOut() {
      await manager.removeUser();
      // Cognito's logout endpoint takes client_id and logout_uri rather than OIDC's end-session parameters.
      const logout = new URL(`${domain}/logout`);
      logout.searchParams.set('client_id', clientId);
      logout.searchParams.set('logout_uri', `${origin}/`);
      window.location.assign(logout.toString());
    },
  };
}
