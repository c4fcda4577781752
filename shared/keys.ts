/** Key formats, one helper per entity, so they live in one place. */
const SEQ_DIGITS = 16;

/**
 * A user's partition (`USER#<id>`) holds, in sort-key order: live connections (`CONNECTION#<connectionId>`),
 * registered devices (`DEVICE#<deviceId>`) and the profile (`PROFILE`). Nothing else sorts between the
 * first two, so one range of the sort key reads a user's devices and connections together.
 */
export const userKeys = {
  profile: (userId: string) => ({ pk: `USER#${userId}`, sk: 'PROFILE' }),
  device: (userId: string, deviceId: string) => ({ pk: `USER#${userId}`, sk: `DEVICE#${deviceId}` }),
  connection: (userId: string, connectionId: string) => ({ pk: `USER#${userId}`, sk: `CONNECTION#${connectionId}` }),
  /**
   * The user's reach in one item: one attribute per known device (`device#<id>`), holding its newest
   * live connection while it has one. What a send's fast path and fan-out read for a whole group in one
   * BatchGetItem. Sorts after the profile.
   */
  reach: (userId: string) => ({ pk: `USER#${userId}`, sk: 'REACH' }),
  userPartition: (userId: string) => `USER#${userId}`,
  /** The user id of a `USER#<id>` partition key; undefined for any other partition. */
  userIdOf: (pk: string) =>
    pk.startsWith('USER#') && pk.length > 'USER#'.length ? pk.slice('USER#'.length) : undefined,
  devicePrefix: 'DEVICE#',
  connectionPrefix: 'CONNECTION#',
  /**
   * `sk BETWEEN from AND to` for every connection and device row of a partition and nothing else:
   * from the connection prefix up to just past the device prefix (`DEVICE$`: `$` follows `#`, so every
   * `DEVICE#…` sorts below it and `PROFILE` above it). `DEVICE#` itself as the upper end would miss every device.
   */
  devicesAndConnectionsRange: { from: 'CONNECTION#', to: 'DEVICE$' },
  /** One item per taken (lowercased) username, so a conditional Put makes it unique. */
  usernameClaim: (username: string) => ({ pk: `USERNAME#${username}`, sk: 'USERNAME' }),
  /**
   * One item per taken username skeleton (shared/protocol/username-skeleton.ts), so no two users hold
   * look-alike usernames. Beside the exact claims, under its own sort key: `a1ice`'s skeleton claim
   * and `alice`'s exact claim share a partition, never an item.
   */
  usernameSkeletonClaim: (skeleton: string) => ({ pk: `USERNAME#${skeleton}`, sk: 'SKELETON' }),
};

export const conversationKeys = {
  meta: (conversationId: string) => ({ pk: `CONV#${conversationId}`, sk: 'META' }),
  member: (conversationId: string, userId: string) => ({
    pk: `CONV#${conversationId}`,
    sk: `MEMBER#${userId}`,
  }),
  partition: (conversationId: string) => `CONV#${conversationId}`,
  /**
   * A queued send parked for whoever commits the seqs before it (shared/services/timeline-writer.ts),
   * keyed by the seq its ticket holds. Sorts after `META` and every `MEMBER#` row.
   */
  parked: (conversationId: string, seq: number) => ({
    pk: `CONV#${conversationId}`,
    sk: `PARKED#${String(seq).padStart(SEQ_DIGITS, '0')}`,
  }),
  parkedPrefix: 'PARKED#',
  /** One claim per pair of users makes a direct conversation unique, whoever creates it first. */
  directPair: (a: string, b: string) => {
    const [first, second] = [a, b].sort();
    return { pk: `DIRECT#${first}#${second}`, sk: 'DIRECT' };
  },
  memberPrefix: 'MEMBER#',
};

/** One device of one user, as inbox partitions and direct-delivery records name it. */
export const deviceKey = (userId: string, deviceId: string) => `${userId}#${deviceId}`;

export const inboxKeys = {
  device: deviceKey,
  /** Zero-padded so a device's items sort by conversation, then seq. */
  position: (conversationId: string, seq: number) => `${conversationId}#${String(seq).padStart(SEQ_DIGITS, '0')}`,
  /** The device's pointer into a conversation: sorts after its copies ('p' after every digit), before the next conversation. */
  pointer: (conversationId: string) => `${conversationId}#p`,
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
