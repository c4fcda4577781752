import { describe, expect, it } from 'vitest';
import { inboxKeys, messageIds } from '#shared/keys';

describe('messageIds', () => {
  it('round-trips a conversation id and seq', () => {
    const id = messageIds.format('01JCONVERSATION', 42);
    expect(messageIds.parse(id)).toEqual({ conversationId: '01JCONVERSATION', seq: 42 });
  });

  it.each(['', 'no-seq-', '-5', 'conv-0', 'conv-1.5', 'conv-abc', 'conv'])('rejects %j', (id) => {
    expect(messageIds.parse(id)).toBeUndefined();
  });
});

describe('inboxKeys.position', () => {
  it('sorts a conversation by numeric seq, not by text', () => {
    const positions = [10, 9, 100, 1].map((seq) => inboxKeys.position('c1', seq));
    expect([...positions].sort()).toEqual([1, 9, 10, 100].map((seq) => inboxKeys.position('c1', seq)));
  });
});
