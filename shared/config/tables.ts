/**
 * Every DynamoDB table Parley uses, declared once. The CDK Data construct and the local stack
 * both create their tables from these specs; handlers find a table's name in `envVar`.
 */
export type KeyType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: KeyType;
}

export interface GlobalIndexSpec {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /**
   * KEYS_ONLY keeps index writes cheap; INCLUDE adds `include`; ALL where the index serves whole items.
   * An update that changes no projected attribute writes nothing to the index (and costs nothing there).
   */
  readonly projection: 'KEYS_ONLY' | 'INCLUDE' | 'ALL';
  /** The non-key attributes an INCLUDE projection carries. */
  readonly include?: readonly string[];
}

export interface TableSpec {
  /** Logical name: CDK construct id and the local table-name suffix. */
  readonly logicalName: string;
  /** Environment variable that carries the physical table name to handlers. */
  readonly envVar: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly stream?: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES';
  readonly ttlAttribute?: string;
  readonly globalIndexes?: readonly GlobalIndexSpec[];
}

export const tables = {
  /**
   * Profiles (`USER#id`/`PROFILE`), registered devices (`USER#id`/`DEVICE#deviceId`), live WebSocket
   * connections (`USER#id`/`CONNECTION#connectionId`) and username claims (`USERNAME#name`/`USERNAME`).
   * A user's devices and connections share a partition, so fan-out reads both in one Query. Only
   * connection rows carry `expiresAt` (they expire past API Gateway's 2-hour cap) and `connectionId`,
   * so the TTL reaps nothing else and the `byConnectionId` index is sparse: connection rows only.
   * Likewise only username claims carry `searchPrefix`, so `byUsernamePrefix` holds live usernames only.
   */
  users: {
    logicalName: 'Users',
    envVar: 'USERS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    ttlAttribute: 'expiresAt',
    globalIndexes: [
      {
        indexName: 'byConnectionId',
        partitionKey: { name: 'connectionId', type: 'S' },
        projection: 'KEYS_ONLY',
      },
      {
        // Username claims only: their first 3 characters (the shortest search) spread the index's
        // partitions, and the whole username sorts within one, so a prefix is one Query, exact match first.
        indexName: 'byUsernamePrefix',
        partitionKey: { name: 'searchPrefix', type: 'S' },
        sortKey: { name: 'searchName', type: 'S' },
        projection: 'ALL',
      },
    ],
  },
  /** Conversation meta (`CONV#id`/`META`, holds lastSeq) and members (`CONV#id`/`MEMBER#userId`). */
  conversations: {
    logicalName: 'Conversations',
    envVar: 'CONVERSATIONS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    globalIndexes: [
      {
        // Which conversations a user is in, and no more: the marks a send or a receipt moves
        // (lastSentSeq, deliveredSeq, readSeq) stay out, so moving them writes nothing here.
        indexName: 'byMember',
        partitionKey: { name: 'memberUserId', type: 'S' },
        sortKey: { name: 'conversationId', type: 'S' },
        projection: 'INCLUDE',
        include: ['leftSeq'],
      },
    ],
  },
  /** The timeline: one item per message, keyed by conversation and per-conversation seq. */
  messages: {
    logicalName: 'Messages',
    envVar: 'MESSAGES_TABLE',
    partitionKey: { name: 'conversationId', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    stream: 'NEW_IMAGE',
  },
  /** Per-device offline inbox: messages parked until that device acks them. */
  inbox: {
    logicalName: 'Inbox',
    envVar: 'INBOX_TABLE',
    partitionKey: { name: 'deviceKey', type: 'S' },
    sortKey: { name: 'position', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Receipt history: one item per advance of a member's delivered or read mark, so the time a
   * member first reached any seq is one Query, while an acknowledgement stays O(1) writes. Its
   * stream tells the senders, a batch at a time.
   */
  receipts: {
    logicalName: 'Receipts',
    envVar: 'RECEIPTS_TABLE',
    partitionKey: { name: 'memberKey', type: 'S' },
    sortKey: { name: 'mark', type: 'S' },
    // Each first write of a history item is an advance the senders hear of, in batches (streamReceipts).
    stream: 'NEW_IMAGE',
  },
  /**
   * Uploaded media: who uploaded what to which conversation, its processing status and what was
   * found in the bytes. Unsent attachments expire; the send transaction removes the expiry. The
   * stream tells the retention handler when an attachment is first sent.
   */
  attachments: {
    logicalName: 'Attachments',
    envVar: 'ATTACHMENTS_TABLE',
    partitionKey: { name: 'attachmentId', type: 'S' },
    stream: 'NEW_AND_OLD_IMAGES',
    ttlAttribute: 'expiresAt',
  },
  /**
   * Direct deliveries: for a message the send posted itself, the devices that took it
   * (`userId#deviceId`), so fan-out skips exactly those. Read once per stream batch; TTL reaps them.
   */
  directDeliveries: {
    logicalName: 'DirectDeliveries',
    envVar: 'DIRECT_DELIVERIES_TABLE',
    partitionKey: { name: 'messageId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /** Send idempotency: (conversation, sender, clientMessageId) -> the stored message's seq. */
  idempotency: {
    logicalName: 'Idempotency',
    envVar: 'IDEMPOTENCY_TABLE',
    partitionKey: { name: 'idempotencyKey', type: 'S' },
  },
  /**
   * Single-use WebSocket connect tickets, keyed by the SHA-256 of the ticket (a leaked table or
   * log never holds a usable ticket); the authorizer deletes one as it uses it, TTL reaps the rest.
   */
  connectTickets: {
    logicalName: 'ConnectTickets',
    envVar: 'CONNECT_TICKETS_TABLE',
    partitionKey: { name: 'ticketHash', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /** Fixed-window rate-limit counters (`send#{userId}#{windowStart}`), reaped by TTL after their window. */
  rateLimits: {
    logicalName: 'RateLimits',
    envVar: 'RATE_LIMITS_TABLE',
    partitionKey: { name: 'counterKey', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Presence subscriptions: who is watching a user (`watchedUserId`), one item per watching connection
   * (`watcherConnectionId`), written by `subscribePresence` and read when the watched user comes online or
   * goes offline. Kept apart from the users table: a popular user's watchers would otherwise be read by
   * every Query of their partition (the authorizer's). TTL reaps them once the watching connection is past
   * API Gateway's 2-hour cap; a post that answers 410 removes one sooner.
   */
  presenceWatchers: {
    logicalName: 'PresenceWatchers',
    envVar: 'PRESENCE_WATCHERS_TABLE',
    partitionKey: { name: 'watchedUserId', type: 'S' },
    sortKey: { name: 'watcherConnectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
} as const satisfies Record<string, TableSpec>;

export type TableKey = keyof typeof tables;

export const tableKeys = Object.keys(tables) as TableKey[];
