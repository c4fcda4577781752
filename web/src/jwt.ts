/** Reads (never verifies: the API does) the claims of a JWT the app holds, for expiry and sign-in hints. */
export interface TokenClaims {
  readonly sub?: string;
  readonly exp?: number;
  readonly email?: string;
  readonly name?: string;
  readonly username?: string;
}

export function readClaims(token: string): TokenClaims {
  const payload = token.split('.')[1];
  if (payload === undefined) return {};
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== 'object' || claims === null) return {};
    const record = claims as Record<string, unknown>;
    const text = (key: string): string | undefined => (typeof record[key] === 'string' ? record[key] : undefined);
    const exp = typeof record.exp === 'number' ? record.exp : undefined;
    const sub = text('sub');
    const email = text('email');
    const name = text('name');
    const username = text('cognito:username');
    return {
      ...(sub === undefined ? {} : { sub }),
      ...(exp === undefined ? {} : { exp }),
      ...(email === undefined ? {} : { email }),
      ...(name === undefined ? {} : { name }),
      ...(username === undefined ? {} : { username }),
    };
  } catch {
    return {};
  }
}

/** True when the token expires within `marginSeconds` (or carries no expiry). */
export function expiresSoon(token: string, marginSeconds = 60): boolean {
  const exp = readClaims(token).exp;
  return exp === undefined || exp - marginSeconds <= Date.now() / 1000;
}
