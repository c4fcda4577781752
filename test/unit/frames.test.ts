import { describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { media } from '#shared/config/media';
import { ackFrameSchema, sendMessageFrameSchema, syncFrameSchema } from '#shared/protocol/frames';

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
  });
});
