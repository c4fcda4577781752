import { describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { inboxKeys, messageIds, userKeys } from '#shared/keys';

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

describe('userKeys', () => {
  it('puts connection rows in the user partition, beside the devices', () => {
    expect(userKeys.connection('u1', 'abc=')).toEqual({ pk: 'USER#u1', sk: 'CONNECTION#abc=' });
    expect(userKeys.connection('u1', 'abc=').pk).toBe(userKeys.device('u1', 'phone').pk);
    expect(userKeys.connection('u1', 'abc=').pk).toBe(userKeys.userPartition('u1'));
  });

  it('reads the user back from a partition key, and nothing from other partitions', () => {
    expect(userKeys.userIdOf(userKeys.userPartition('sub-123'))).toBe('sub-123');
    expect(userKeys.userIdOf(userKeys.usernameClaim('ann').pk)).toBeUndefined();
    expect(userKeys.userIdOf('USER#')).toBeUndefined();
  });

  it('ranges over every connection and device sort key and neither the profile nor anything else', () => {
    const { from, to } = userKeys.devicesAndConnectionsRange;
    const inRange = (sk: string) => sk >= from && sk <= to;
    // Device ids are short and URL-safe; the extremes of that alphabet and length stay inside.
    expect(limits.deviceIdPattern.test('z'.repeat(64))).toBe(true);
    for (const deviceId of ['0', '-', '_', 'A', 'z'.repeat(64), 'PROFILE', 'phone']) {
      expect(inRange(userKeys.device('u', deviceId).sk), deviceId).toBe(true);
    }
    // API Gateway connection ids are base64-like (letters, digits, `=`, `+`, `/`).
    for (const connectionId of ['a', 'Ab1=', 'zz+/==', '~'.repeat(20)]) {
      expect(inRange(userKeys.connection('u', connectionId).sk), connectionId).toBe(true);
    }
    expect(inRange(userKeys.profile('u').sk)).toBe(false);
    expect(inRange(userKeys.usernameClaim('ann').sk)).toBe(false);
    // The tempting upper bound, the device prefix itself, would miss every device.
    expect(userKeys.device('u', 'phone').sk <= userKeys.devicePrefix).toBe(false);
  });
});
