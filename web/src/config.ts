/** Loads the runtime configuration (`/config.json`, shared/config/web.ts) the app is served with. */
import { type WebAuthConfig, type WebConfig, webConfigPath } from '../../shared/config/web';

export async function loadConfig(): Promise<WebConfig> {
  const response = await fetch(webConfigPath, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${webConfigPath} answered ${response.status}`);
  return parseConfig(await response.json());
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') throw new Error(`${webConfigPath}: "${key}" must be a string`);
  return value;
}

export function parseConfig(value: unknown): WebConfig {
  if (!isRecord(value) || !isRecord(value.auth)) throw new Error(`${webConfigPath} is not a configuration object`);
  const auth = value.auth;
  let parsedAuth: WebAuthConfig;
  if (auth.kind === 'local') {
    parsedAuth = { kind: 'local' };
  } else if (auth.kind === 'cognito') {
    const scopes = auth.scopes;
    if (!Array.isArray(scopes) || !scopes.every((scope): scope is string => typeof scope === 'string'))
      throw new Error(`${webConfigPath}: "scopes" must be a list of strings`);
    parsedAuth = {
      kind: 'cognito',
      domain: requireString(auth, 'domain').replace(/\/+$/, ''),
      clientId: requireString(auth, 'clientId'),
      scopes,
    };
  } else {
    throw new Error(`${webConfigPath}: unknown auth kind`);
  }
  return {
    httpUrl: requireString(value, 'httpUrl').replace(/\/+$/, ''),
    wsUrl: requireString(value, 'wsUrl'),
    auth: parsedAuth,
  };
}
