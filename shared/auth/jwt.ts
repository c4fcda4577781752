import { JwtRsaVerifier } from 'aws-jwt-verify';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { envVars, requireEnv } from '../config/env';
import { UnauthorizedError } from '../errors';

export interface JwtSettings {
  readonly issuer: string;
  /** Cognito ID tokens carry the app client id as `aud`. */
  readonly audience: string;
  readonly jwksUri: string;
}

export interface VerifiedIdentity {
  readonly userId: string;
  readonly username?: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedIdentity>;
}

/** aws-jwt-verify's own fetcher speaks HTTPS only; global fetch also reaches the local issuer's http JWKS. */
const globalFetcher: Fetcher = {
  async fetch(uri) {
    const response = await fetch(uri, { signal: AbortSignal.timeout(3000) });
    if (!response.ok) throw new Error(`JWKS fetch failed with HTTP ${response.status}`);
    return response.arrayBuffer();
  },
};

export function jwtSettingsFromEnv(): JwtSettings {
  return {
    issuer: requireEnv(envVars.jwtIssuer),
    audience: requireEnv(envVars.jwtAudience),
    jwksUri: requireEnv(envVars.jwksUri),
  };
}

/** Build once per container: the verifier caches the JWKS between invocations. */
export function createTokenVerifier(settings: JwtSettings): TokenVerifier {
  const verifier = JwtRsaVerifier.create(
    { issuer: settings.issuer, audience: settings.audience, jwksUri: settings.jwksUri },
    { jwksCache: new SimpleJwksCache({ fetcher: globalFetcher }) },
  );
  return {
    async verify(token) {
      try {
        const payload = await verifier.verify(token);
        if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('token has no sub');
        const username = payload['cognito:username'];
        return {
          userId: payload.sub,
          ...(typeof username === 'string' ? { username } : {}),
          claims: payload,
        };
      } catch {
        // The reason stays server-side: telling a caller why a token failed helps forgers.
        throw new UnauthorizedError('Invalid or expired token');
      }
    },
  };
}
