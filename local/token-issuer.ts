import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JSONWebKeySet, SignJWT } from 'jose';
import type { JwtSettings } from '#shared/auth/jwt';
import { BadRequestError } from '#shared/errors';

/** Stands in for the Cognito app client id, which Cognito ID tokens carry as `aud`. */
export const localTokenAudience = 'parley-local-client';
export const jwksPath = '/.well-known/jwks.json';

const tokenLifetimeSeconds = 12 * 60 * 60;
const usernamePattern = /^[a-z0-9_.-]{1,32}$/;
/** UUIDv5 namespace of local users: the same username maps to the same user id on every run. */
const localUserNamespace = 'b1a59777-2f60-41bd-95cd-763b4e8eb159';

export interface IssuedToken {
  readonly token: string;
  readonly userId: string;
}

export interface LocalTokenIssuer {
  /** What the HTTP API's JWT check and the handlers' verifier are configured with. */
  readonly settings: JwtSettings;
  readonly jwks: JSONWebKeySet;
  issue(username: unknown): Promise<IssuedToken>;
}

/** Lowercases and validates a username; undefined when it is not 1-32 of [a-z0-9_.-]. */
export function normalizeUsername(input: unknown): string | undefined {
  if (typeof input !== 'string') return undefined;
  const username = input.toLowerCase();
  return usernamePattern.test(username) ? username : undefined;
}

/** A name-based (v5) UUID, so restarting the stack with persisted data keeps everyone's id. */
export function userIdForUsername(username: string): string {
  const namespace = Buffer.from(localUserNamespace.replaceAll('-', ''), 'hex');
  const bytes = createHash('sha1').update(namespace).update(username, 'utf8').digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An RS256 issuer of Cognito-shaped ID tokens; its key pair lives only as long as the process. */
export async function createLocalTokenIssuer(issuerUrl: string): Promise<LocalTokenIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks: JSONWebKeySet = { keys: [{ ...publicJwk, kid, alg: 'RS256', use: 'sig' }] };
  const settings: JwtSettings = { issuer: issuerUrl, audience: localTokenAudience, jwksUri: `${issuerUrl}${jwksPath}` };

  return {
    settings,
    jwks,
    async issue(input) {
      const username = normalizeUsername(input);
      if (username === undefined) {
        throw new BadRequestError('username must be 1-32 characters of a-z, 0-9, "_", "." or "-"');
      }
      const userId = userIdForUsername(username);
      const now = Math.floor(Date.now() / 1000);
      const token = await new SignJWT({ 'cognito:username': username, token_use: 'id', auth_time: now })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(settings.issuer)
        .setAudience(settings.audience)
        .setSubject(userId)
        .setJti(randomUUID())
        .setIssuedAt(now)
        .setExpirationTime(now + tokenLifetimeSeconds)
        .sign(privateKey);
      return { token, userId };
    },
  };
}
