/** The local Cognito stand-in's user ids and username rules (no server needed). */
import { describe, expect, it } from 'vitest';
import { normalizeUsername, userIdForUsername } from '../../local/token-issuer';

describe('userIdForUsername', () => {
  it('gives the same name the same id on every run, and different names different ids', () => {
    expect(userIdForUsername('alice')).toBe(userIdForUsername('alice'));
    expect(userIdForUsername('alice')).not.toBe(userIdForUsername('bob'));
  });

  it('returns a version-5 UUID, like a Cognito sub', () => {
    expect(userIdForUsername('alice')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('normalizeUsername', () => {
  it('lowercases a valid name', () => {
    expect(normalizeUsername('Alice.B_2-x')).toBe('alice.b_2-x');
  });

  it('refuses empty, too long, non-string and out-of-alphabet names', () => {
    for (const input of ['', 'x'.repeat(33), 'a b', 'ünï', 'a/b', 7, undefined]) {
      expect(normalizeUsername(input)).toBeUndefined();
    }
  });
});
