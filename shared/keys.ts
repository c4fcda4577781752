/** Key formats, one helper per entity, so they live in one place. */
const SEQ_DIGITS = 16;

export const userKeys = {
  profile: (userId: string) => ({ pk: `USER#${userId}`, sk: 'PROFILE' }),
  device: (userId: string, deviceId: string) => ({ pk: `USER#${userId}`, sk: `DEVICE#${deviceId}` }),
  userPartition: (userId: string) => `USER#${userId}`,
  devicePrefix: 'DEVICE#',
  /** One item per taken (lowercased) username, so a conditional Put makes it unique. */
  usernameClaim: (username: string) => ({ pk: `USERNAME#${username}`, sk: 'USERNAME' }),
};

export const conversationKeys = {
  meta: (conversationId: string) => ({ pk: `CONV#${conversationId}`, sk: 'META' }),
  member: (conversationId: string, userId: string) => ({
    pk: `CONV#${conversationId}`,
    sk: `MEMBER#${userId}`,
  }),
  partition: (conversationId: string) => `CONV#${conversationId}`,
  /** One claim per pair of users makes a direct conversation unique, whoever creates it first. */
  directPair: (a: string, b: string) => {
    const [first, second] = [a, b].sort();
    return { pk: `DIRECT#${first}#${second}`, sk: 'DIRECT' };
  },
  memberPrefix: 'MEMBER#',
};

export const inboxKeys = {
  device: (userId: string, deviceId: string) => `${userId}#${deviceId}`,
  /** Zero-padded so a device's items sort by conversation, then seq. */
  position: (conversationId: string, seq: number) => `${conversationId}#${String(seq).padStart(SEQ_DIGITS, '0')}`,
};

export const idempotencyKey = (conversationId: string, senderId: string, clientMessageId: string) =>
  `${conversationId}#${senderId}#${clientMessageId}`;

/**
 * A message id names its conversation and seq, so `GET /messages/{id}` is one GetItem and the
 * messages table needs no id index (an index would add a write to every send). Opaque to clients.
 */
export const messageIds = {
  format: (conversationId: string, seq: number) => `${conversationId}-${seq}`,
  parse(messageId: string): { conversationId: string; seq: number } | undefined {
    const cut = messageId.lastIndexOf('-');
    if (cut <= 0) return undefined;
    const seq = Number(messageId.slice(cut + 1));
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    return { conversationId: messageId.slice(0, cut), seq };
  },
};

/** Receipt history: per member of a conversation, advances sorted by kind, then seq. */
export const receiptKeys = {
  member: (conversationId: string, userId: string) => `${conversationId}#${userId}`,
  mark: (kind: 'delivered' | 'read', seq: number) => `${kind}#${String(seq).padStart(SEQ_DIGITS, '0')}`,
};
