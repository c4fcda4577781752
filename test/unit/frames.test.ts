import { describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { media } from '#shared/config/media';
import { ackFrameSchema, reactFrameSchema, sendMessageFrameSchema, syncFrameSchema } from '#shared/protocol/frames';
import { reactBodySchema } from '#shared/protocol/messages-http';
import { canonicalEmoji } from '#shared/protocol/text-rules';

const validSend = { action: 'sendMessage', conversationId: '01JABC', clientMessageId: 'c-1', text: 'hi' };

describe('sendMessage frame', () => {
  it('accepts a well-formed frame', () => {
    expect(sendMessageFrameSchema.parse(validSend)).toEqual(validSend);
  });

  it.each([
    ['blank text', { ...validSend, text: '   ' }],
    ['text over the limit', { ...validSend, text: 'x'.repeat(limits.maxTextLength + 1) }],
    ['a missing clientMessageId', { ...validSend, clientMessageId: undefined }],
    ['a clientMessageId with spaces', { ...validSend, clientMessageId: 'a b' }],
    ['a non-string conversationId', { ...validSend, conversationId: 7 }],
    ['a conversationId with a slash', { ...validSend, conversationId: '../x' }],
    ['no text and no attachments', { ...validSend, text: undefined }],
    ['empty text and an empty attachment list', { ...validSend, text: '', attachmentIds: [] }],
    [
      'more attachments than a message carries',
      { ...validSend, attachmentIds: Array.from({ length: media.maxAttachmentsPerMessage + 1 }, (_, i) => `a${i}`) },
    ],
    ['an attachment id with a slash', { ...validSend, attachmentIds: ['a/b'] }],
  ])('rejects %s', (_case, frame) => {
    expect(sendMessageFrameSchema.safeParse(frame).success).toBe(false);
  });
});

describe('sendMessage frame with attachments', () => {
  it('takes attachments without text, or with empty text', () => {
    const withoutText = { ...validSend, text: undefined, attachmentIds: ['01ATT'] };
    expect(sendMessageFrameSchema.safeParse(withoutText).success).toBe(true);
    expect(sendMessageFrameSchema.safeParse({ ...withoutText, text: '' }).success).toBe(true);
    expect(sendMessageFrameSchema.safeParse({ ...validSend, attachmentIds: ['01ATT', '01ATU'] }).success).toBe(true);
  });
});

describe('ack frame', () => {
  it('requires a non-negative integer seq', () => {
    expect(ackFrameSchema.safeParse({ action: 'ack', conversationId: 'c', upToSeq: 3 }).success).toBe(true);
    expect(ackFrameSchema.safeParse({ action: 'ack', conversationId: 'c', upToSeq: -1 }).success).toBe(false);
    expect(ackFrameSchema.safeParse({ action: 'ack', conversationId: 'c', upToSeq: 1.5 }).success).toBe(false);
    expect(ackFrameSchema.safeParse({ action: 'ack', conversationId: 'c', upToSeq: '3' }).success).toBe(false);
  });
});

describe('sync frame', () => {
  it('takes an optional cursor', () => {
    expect(syncFrameSchema.safeParse({ action: 'sync' }).success).toBe(true);
    expect(syncFrameSchema.safeParse({ action: 'sync', cursor: 'c#0001' }).success).toBe(true);
    expect(syncFrameSchema.safeParse({ action: 'sync', cursor: '' }).success).toBe(false);
    expect(syncFrameSchema.safeParse({ action: 'sync', pages: true }).success).toBe(true);
    expect(syncFrameSchema.safeParse({ action: 'sync', pages: 'yes' }).success).toBe(false);
  });
});

describe('react frame: the emoji is one emoji', () => {
  const react = (emoji: string) =>
    reactFrameSchema.safeParse({ action: 'react', conversationId: 'c1', seq: 3, emoji, clientMessageId: 'r-1' });

  it.each([
    ['two emoji', '👍👍'],
    ['a word', 'ok'],
    ['a letter', 'a'],
    ['a digit without its keycap', '1'],
    ['a hash sign without its keycap', '#'],
    ['nothing', ''],
    ['an emoji with text after it', '👍!'],
    ['a lone zero-width joiner', '\u200D'],
  ])('refuses %s, in the frame and the HTTP body alike', (_case, emoji) => {
    expect(canonicalEmoji(emoji)).toBeUndefined();
    expect(react(emoji).success).toBe(false);
    expect(reactBodySchema.safeParse({ emoji }).success).toBe(false);
  });

  it.each([
    ['a zero-width-joiner sequence', '👩\u200D💻'],
    ['a skin-tone modifier', '👍🏽'],
    ['a flag', '🇫🇷'],
    ['a keycap', '1\uFE0F\u20E3'],
    ['a plain emoji', '🎉'],
  ])('accepts %s as it is', (_case, emoji) => {
    expect(canonicalEmoji(emoji)).toBe(emoji);
    expect(react(emoji).data?.emoji).toBe(emoji);
  });

  it('stores a heart typed without its emoji presentation selector as the emoji, so both count as one', () => {
    expect(canonicalEmoji('\u2764')).toBe('\u2764\uFE0F');
    expect(react('\u2764').data?.emoji).toBe('\u2764\uFE0F');
    expect(react('\u2764\uFE0F').data?.emoji).toBe('\u2764\uFE0F');
    expect(reactBodySchema.parse({ emoji: '\u2764' }).emoji).toBe('\u2764\uFE0F');
  });
});
