/** The text rules (shared/protocol/text-rules.ts) as the edge schemas apply them to what others will read. */
import { describe, expect, it } from 'vitest';
import { createConversationBodySchema } from '#shared/protocol/conversations-http';
import { sendMessageFrameSchema, sendMessagesFrameSchema } from '#shared/protocol/frames';
import { createUserBodySchema } from '#shared/protocol/users-http';

const send = (text: string) =>
  sendMessageFrameSchema.safeParse({ action: 'sendMessage', conversationId: 'c1', clientMessageId: 'm1', text });
const burst = (text: string) =>
  sendMessagesFrameSchema.safeParse({
    action: 'sendMessages',
    conversationId: 'c1',
    messages: [{ clientMessageId: 'm1', text }],
  });
const profile = (name: string) => createUserBodySchema.safeParse({ name, username: 'someone' });
const group = (name: string) => createConversationBodySchema.safeParse({ type: 'group', name, memberIds: [] });

describe('message text', () => {
  it.each([
    ['a bidi override', 'pay \u202Eexe.txt'],
    ['an isolate', 'hi \u2066there'],
    ['only a zero-width space', '\u200B'],
    ['only zero-width and format characters', '\u200B\u200D\uFEFF\u2060'],
    ['a NUL', 'a\u0000b'],
    ['an ANSI escape', '\u001b[31mred'],
    ['a C1 control', 'a\u0085b'],
    ['a lone surrogate', 'a\uD800b'],
  ])('refuses %s, in sendMessage and sendMessages alike', (_case, text) => {
    expect(send(text).success).toBe(false);
    expect(burst(text).success).toBe(false);
  });

  it.each([
    ['lines and tabs', 'first line\n\tsecond'],
    ['Windows line ends', 'first\r\nsecond'],
    ['right-to-left script', 'שלום עולם'],
    ['a right-to-left mark beside visible text', 'مرحبا\u200F!'],
    ['an emoji joined with zero-width joiners', '👨\u200D👩\u200D👧'],
  ])('accepts %s', (_case, text) => {
    expect(send(text).success).toBe(true);
  });

  it('stores text in NFC', () => {
    const parsed = send('Cafe\u0301');

    expect(parsed.success && parsed.data.text).toBe('Café');
  });
});

describe('profile and group names', () => {
  it.each([
    ['a bidi override', 'alice\u202E'],
    ['only a zero-width space', '\u200B'],
    ['a newline', 'Ann\nSmith'],
    ['an ANSI escape', '\u001b[31mAnn'],
  ])('refuses %s', (_case, name) => {
    expect(profile(name).success).toBe(false);
    expect(group(name).success).toBe(false);
  });

  it('accepts names in any script and stores them in NFC', () => {
    const parsed = profile('Zoe\u0308 Øster');

    expect(parsed.success && parsed.data.name).toBe('Zoë Øster');
    expect(group('Климбинг 🧗').success).toBe(true);
  });
});
