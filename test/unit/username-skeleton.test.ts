import { describe, expect, it } from 'vitest';
import { usernameSkeleton } from '#shared/protocol/username-skeleton';

describe('usernameSkeleton', () => {
  it.each([
    ['alice', 'a1ice'],
    ['bob', 'b0b'],
    ['mallory', 'rnallory'],
    ['tom', 'torn'],
    ['ALICE', 'a1ice'],
  ])('gives %j and its look-alike %j one skeleton', (username, lookAlike) => {
    expect(usernameSkeleton(lookAlike)).toBe(usernameSkeleton(username));
  });

  it.each([
    ['alice', 'alice.b'],
    ['ann_smith', 'ann.smith'],
    ['bob', 'bob2'],
  ])('keeps %j and %j apart', (a, b) => {
    expect(usernameSkeleton(a)).not.toBe(usernameSkeleton(b));
  });
});
