/** Device identity and token helpers that need nothing but standard web APIs. */
import type { KeyValueStore } from './types';

export const deviceIdStorageKey = 'parley.deviceId';
const deviceIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Keeps values for the life of the process: the fallback where no localStorage exists (Node). */
export class MemoryStore implements KeyValueStore {
  private readonly values = new Map<string, string>();

  getItem(key: string): string | null {
    return this.values.get(key) ?? null;
  }

  setItem(key: string, value: string): void {
    this.values.set(key, value);
  }
}

/** `globalThis.localStorage` when usable; some browsers throw on merely reading it (blocked storage). */
export function defaultStore(): KeyValueStore {
  try {
    const candidate: unknown = Reflect.get(globalThis, 'localStorage');
    if (
      typeof candidate === 'object' &&
      candidate !== null &&
      typeof Reflect.get(candidate, 'getItem') === 'function' &&
      typeof Reflect.get(candidate, 'setItem') === 'function'
    ) {
      return candidate as KeyValueStore;
    }
  } catch {
    // Fall through to memory.
  }
  return new MemoryStore();
}

export function isValidDeviceId(id: string): boolean {
  return deviceIdPattern.test(id);
}

/** The given id, else the stored one, else a new one that is stored for next time. */
export function resolveDeviceId(given: string | undefined, storage: KeyValueStore): string {
  if (given !== undefined) {
    if (!isValidDeviceId(given)) throw new TypeError('deviceId must be 1–64 characters of A–Z a–z 0–9 _ -');
    return given;
  }
  const stored = readSafely(storage);
  if (stored !== null && isValidDeviceId(stored)) return stored;
  const created = crypto.randomUUID();
  try {
    storage.setItem(deviceIdStorageKey, created);
  } catch {
    // Storage full or blocked: the id lives as long as this client.
  }
  return created;
}

function readSafely(storage: KeyValueStore): string | null {
  try {
    return storage.getItem(deviceIdStorageKey);
  } catch {
    return null;
  }
}

/** The JWT's `sub`, read without verifying (the server verifies); undefined when the token is not a JWT. */
export function subjectOf(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const base64 = payload
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    const sub = typeof claims === 'object' && claims !== null ? Reflect.get(claims, 'sub') : undefined;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
