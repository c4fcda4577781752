/**
 * The Lambda catalog, declared once: every handler, what triggers it and exactly which table
 * actions it may use. The CDK stack builds functions, routes, grants and event sources from it;
 * the local stack routes WebSocket frames, HTTP requests and stream batches to the same handlers.
 */
import { limits } from './limits';
import { media } from './media';
import { push } from './push';
import type { TableKey } from './tables';

export type DynamoAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'Query'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'BatchWriteItem'
  | 'ConditionCheckItem';

export interface TableGrant {
  readonly table: TableKey;
  readonly actions: readonly DynamoAction[];
}

/** S3 actions a handler may need on the media bucket, each granted on one key prefix. */
export type BucketAction = 's3:GetObject' | 's3:PutObject' | 's3:DeleteObject' | 's3:PutObjectTagging';

export interface BucketGrant {
  /** A prefix of `shared/config/media` (uploads or processed media). */
  readonly prefix: string;
  readonly actions: readonly BucketAction[];
}

export interface FunctionSpec {
  /** Path of the handler file from the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly tables: readonly TableGrant[];
  /** Needs execute-api:ManageConnections (postToConnection / deleteConnection). */
  readonly manageConnections?: boolean;
  /** Needs the JWT verifier settings (issuer, audience, JWKS). */
  readonly verifiesJwt?: boolean;
  /** Media bucket access, per prefix; also gives the handler the bucket's name. */
  readonly bucket?: readonly BucketGrant[];
  /** Signs download URLs: the CDN URL, key pair id and the signing key's secret. */
  readonly signsMediaUrls?: boolean;
  /** Gets the VAPID public key (`VAPID_PUBLIC_KEY`): serves it, or signs pushes with it. */
  readonly vapidPublicKey?: boolean;
  /** Reads the VAPID private key's secret (GetSecretValue) and gets its name: signs pushes. */
  readonly vapidPrivateKey?: boolean;
  /** May invoke the push sender asynchronously (lambda:InvokeFunction on `pushSend` alone) and gets its name. */
  readonly invokesPushSend?: boolean;
  /** Invoked asynchronously: Lambda's retries of a failed invocation and how old an event may get; then the on-failure queue. */
  readonly asyncInvocation?: { readonly retryAttempts: number; readonly maxEventAgeSeconds: number };
  /** Native packages left out of the bundle and installed for the Lambda architecture beside it. */
  readonly nativeModules?: readonly string[];
  readonly memoryMb?: number;
  readonly timeoutSeconds?: number;
  /**
   * Powertools' tracer in the bundle, recording each AWS call as an X-Ray subsegment. `false` leaves it
   * and the X-Ray SDK out at bundle time (a sixth of a delivery-path cold start); Lambda's active tracing
   * still records the invocation and its init. @default true
   */
  readonly sdkTracing?: boolean;
}

/** What a function gets when its spec does not say. */
export const functionDefaults = { memoryMb: 256, timeoutSeconds: 10 } as const;

/** A function's memory, its spec's or the default. */
export function memoryMbOf(spec: Pick<FunctionSpec, 'memoryMb'>): number {
  return spec.memoryMb ?? functionDefaults.memoryMb;
}

/**
 * Lambda gives CPU in proportion to memory, one vCPU at this much
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
 */
export const oneVcpuMemoryMb = 1769;

/** One grant per table: the actions of every list, in their first order (IAM reads them as one statement per table). */
function withGrants(...lists: readonly (readonly TableGrant[])[]): readonly TableGrant[] {
  const byTable = new Map<TableKey, DynamoAction[]>();
  for (const grant of lists.flat()) {
    const actions = byTable.get(grant.table) ?? [];
    byTable.set(grant.table, [...actions, ...grant.actions.filter((action) => !actions.includes(action))]);
  }
  return [...byTable].map(([table, actions]) => ({ table, actions }));
}

/**
 * Direct delivery (every timeline entry of a small conversation): the members again after the
 * commit, their live connections, and the record of the devices that took the entry.
 */
const directDeliveryGrants: readonly TableGrant[] = [
  { table: 'conversations', actions: ['Query'] },
  // The recipients' reach items (live connections), one BatchGetItem for a whole group.
  { table: 'users', actions: ['BatchGetItem'] },
  // A send's record (PutItem); a burst's records together (BatchWriteItem).
  { table: 'directDeliveries', actions: ['PutItem', 'BatchWriteItem'] },
];

/**
 * Telling a user's presence watchers that they came online or went offline (only when it flips): the
 * watchers (Query), the user's `showPresence` switch (BatchGetItem of the profile), and a watcher whose
 * connection answered 410 removed (DeleteItem).
 */
const presenceAnnouncementGrants: readonly TableGrant[] = [
  { table: 'presenceWatchers', actions: ['Query', 'DeleteItem'] },
  { table: 'users', actions: ['BatchGetItem'] },
];

/**
 * Reading presence: the viewer's and each watched user's memberships (Query of the byMember index), then
 * the watched users' profiles (`showPresence`) and reach items (online, lastSeenAt) in one BatchGetItem.
 */
const presenceReadGrants: readonly TableGrant[] = [
  { table: 'conversations', actions: ['Query'] },
  { table: 'users', actions: ['BatchGetItem'] },
];

/**
 * Acknowledging a device's inbox (`ack`, and `read` from a device): its copies of the conversation
 * and its pointer read (Query) and the copies deleted (BatchWriteItem); the pointer deleted in one
 * transaction with a check of the conversation's last seq (DeleteItem, ConditionCheckItem), else moved
 * past the ack (UpdateItem).
 */
const inboxAckGrants: readonly TableGrant[] = [
  { table: 'inbox', actions: ['Query', 'BatchWriteItem', 'DeleteItem', 'UpdateItem'] },
  { table: 'conversations', actions: ['ConditionCheckItem'] },
];

/** What a send uses, over WebSocket or HTTP alike. */
const sendGrants: readonly TableGrant[] = withGrants(directDeliveryGrants, [
  // The per-user send counter, bumped before anything else.
  { table: 'rateLimits', actions: ['UpdateItem'] },
  // Membership (a Query of the partition with the fast path on, a BatchGetItem without), seq tickets, the commit.
  // A send that queues parks its entry in the conversation's partition (PutItem); the next in line reads
  // the parked entries (Query) and commits them with its own, taking their items away (DeleteItem).
  { table: 'conversations', actions: ['Query', 'BatchGetItem', 'GetItem', 'UpdateItem', 'PutItem', 'DeleteItem'] },
  // UpdateItem: an edit, delete or reaction updates the message it changes (any send may commit a queued one).
  // ConditionCheckItem: a change's author still belongs (as an admin, for an admin's delete).
  { table: 'conversations', actions: ['ConditionCheckItem'] },
  { table: 'messages', actions: ['PutItem', 'GetItem', 'UpdateItem'] },
  { table: 'idempotency', actions: ['PutItem', 'GetItem'] },
  // Attached media is read, then marked sent (and kept) in the send transaction, or withdrawn with a delete.
  { table: 'attachments', actions: ['BatchGetItem', 'UpdateItem'] },
]);

/** A send may wait out its seq budget, then still needs room to commit and answer: never cut off while queued. */
const sendTimeoutSeconds = Math.ceil(limits.seqAllocationBudgetMs / 1000) + 5;

/**
 * How long fan-out waits for a writer's direct-delivery record before serving every device itself: as
 * long as a send can run (a membership change's run is shorter), so only a writer that died or failed
 * to record is waited out, never a slow one that would then duplicate every post.
 */
export const directRecordWaitMs = sendTimeoutSeconds * 1000;

export const functions = {
  wsAuthorizer: {
    entry: 'lambdas/ws-authorizer.ts',
    description:
      'WebSocket $connect authorizer: a connect ticket or the Cognito JWT, the device id, no deleted account, the device limit',
    tables: [
      // Query of the user's partition: the profile (tombstone?) and the device rows, in one read.
      { table: 'users', actions: ['Query'] },
      // Takes a ticket with a conditional DeleteItem: single use.
      { table: 'connectTickets', actions: ['DeleteItem'] },
    ],
    verifiesJwt: true,
    // The delivery path: every cold start lands on some message's latency (see docs/performance.md).
    sdkTracing: false,
  },
  wsConnect: {
    entry: 'lambdas/ws-connect.ts',
    description: 'WebSocket $connect: registers the device and records the connection',
    tables: withGrants(presenceAnnouncementGrants, [
      // The device row and the connection row, both in the user's partition, and the device's reach entry;
      // a user's first connect with an incomplete reach item reads the device rows (Query) into it.
      { table: 'users', actions: ['PutItem', 'UpdateItem', 'Query'] },
    ]),
    manageConnections: true,
  },
  wsDisconnect: {
    entry: 'lambdas/ws-disconnect.ts',
    description: 'WebSocket $disconnect: removes the connection row',
    tables: withGrants(presenceAnnouncementGrants, [
      // Deletes the connection row and sets its reach entry offline (and lastSeenAt); Query on the byConnectionId
      // index finds its owner when the context lacks it.
      { table: 'users', actions: ['DeleteItem', 'UpdateItem', 'Query'] },
    ]),
    manageConnections: true,
  },
  wsDefault: {
    entry: 'lambdas/ws-default.ts',
    description: 'WebSocket $default: answers ping and refuses unknown or malformed frames',
    tables: [],
  },
  wsSendMessage: {
    entry: 'lambdas/ws-send-message.ts',
    description:
      'WebSocket sendMessage(s), editMessage, deleteMessage, react: stores an entry with the next per-conversation seq',
    tables: sendGrants,
    manageConnections: true,
    timeoutSeconds: sendTimeoutSeconds,
    // One full vCPU: at 256 MB its own work on the delivery path would take about 7 times as long.
    memoryMb: oneVcpuMemoryMb,
    // The delivery path: every cold start lands on some message's latency (see docs/performance.md).
    sdkTracing: false,
  },
  wsSync: {
    entry: 'lambdas/ws-sync.ts',
    description: 'WebSocket sync: replays the device inbox in order',
    tables: [
      // The device's copies and pointers (Query); a pointer that leads nowhere goes (DeleteItem, with a
      // ConditionCheckItem of the member row in one transaction).
      { table: 'inbox', actions: ['Query', 'DeleteItem'] },
      // A pointer is followed through the conversation's timeline (Query), where the member row (GetItem) lets it.
      { table: 'messages', actions: ['Query'] },
      { table: 'conversations', actions: ['GetItem', 'ConditionCheckItem'] },
    ],
    manageConnections: true,
    // API Gateway's WebSocket integration timeout.
    timeoutSeconds: 29,
  },
  wsAck: {
    entry: 'lambdas/ws-ack.ts',
    description: "WebSocket ack: removes the device's inbox items up to a seq and advances the delivered mark",
    // The senders hear of the delivery from streamReceipts.
    tables: withGrants(inboxAckGrants, [
      { table: 'conversations', actions: ['BatchGetItem', 'UpdateItem'] },
      { table: 'receipts', actions: ['UpdateItem'] },
    ]),
    manageConnections: true,
  },
  wsRead: {
    entry: 'lambdas/ws-read.ts',
    description:
      "WebSocket read: removes the device's inbox items up to a seq, advances the read and delivered marks, tells the reader's other devices",
    tables: withGrants(inboxAckGrants, [
      { table: 'conversations', actions: ['BatchGetItem', 'UpdateItem'] },
      { table: 'receipts', actions: ['UpdateItem'] },
      // The reader's other devices' live connections (the senders hear from streamReceipts).
      { table: 'users', actions: ['BatchGetItem'] },
    ]),
    manageConnections: true,
  },
  wsSubscribePresence: {
    entry: 'lambdas/ws-subscribe-presence.ts',
    description:
      'WebSocket subscribePresence: watch up to 100 users who share a conversation; answers their presence now',
    tables: withGrants(presenceReadGrants, [
      // UpdateItem: the connection's watch list (answers the last one); BatchWriteItem: watcher items put and dropped.
      { table: 'presenceWatchers', actions: ['UpdateItem', 'BatchWriteItem'] },
    ]),
  },
  wsTyping: {
    entry: 'lambdas/ws-typing.ts',
    description:
      'WebSocket typing: forwards to the live connections of the other members, at most once per 3 s; never stored',
    tables: [
      // The members (Query of the partition): the sender must be one, the others are told.
      { table: 'conversations', actions: ['Query'] },
      // The sender's window in this conversation: one conditional PutItem per forwarded frame.
      { table: 'rateLimits', actions: ['PutItem'] },
      // The other members' reach items (live connections), one BatchGetItem.
      { table: 'users', actions: ['BatchGetItem'] },
    ],
    manageConnections: true,
  },
  httpGetPresence: {
    entry: 'lambdas/http-get-presence.ts',
    description: 'GET /users/{id}/presence: online or last seen, for users who share a conversation with the caller',
    tables: presenceReadGrants,
  },
  httpCreateConversation: {
    entry: 'lambdas/http-create-conversation.ts',
    description: 'POST /conversations: the creation is the first timeline event',
    tables: withGrants(directDeliveryGrants, [
      // The caller's timeline-write counter (the send limit), before anything else.
      { table: 'rateLimits', actions: ['UpdateItem'] },
      // Neither the creator nor a member may be a deleted account; each member's consent to be added to a group.
      { table: 'users', actions: ['BatchGetItem'] },
      // Transactions of Puts (members, meta, direct pair claim); Query answers an existing direct conversation;
      // BatchGetItem reads the direct chats of members who let only people they chat with add them.
      { table: 'conversations', actions: ['PutItem', 'Query', 'BatchGetItem'] },
      { table: 'messages', actions: ['PutItem'] },
    ]),
    manageConnections: true,
  },
  httpGetConversation: {
    entry: 'lambdas/http-get-conversation.ts',
    description: 'GET /conversations/{id}',
    tables: [{ table: 'conversations', actions: ['Query'] }],
  },
  httpUpdateConversation: {
    entry: 'lambdas/http-update-conversation.ts',
    description: 'PATCH /conversations/{id}: rename a group (admins)',
    tables: withGrants(directDeliveryGrants, [
      // The caller's timeline-write counter (the send limit), before anything else.
      { table: 'rateLimits', actions: ['UpdateItem'] },
      { table: 'conversations', actions: ['Query', 'GetItem', 'UpdateItem'] },
      { table: 'messages', actions: ['PutItem'] },
    ]),
    manageConnections: true,
  },
  httpAddParticipants: {
    entry: 'lambdas/http-add-participants.ts',
    description: 'POST /conversations/{id}/participants: admins add members',
    tables: withGrants(directDeliveryGrants, [
      // The caller's timeline-write counter (the send limit), before anything else.
      { table: 'rateLimits', actions: ['UpdateItem'] },
      // A deleted account cannot be added back; each joining user's consent to be added.
      { table: 'users', actions: ['BatchGetItem'] },
      // BatchGetItem: the direct chats of users who let only people they chat with add them.
      { table: 'conversations', actions: ['Query', 'GetItem', 'UpdateItem', 'PutItem', 'BatchGetItem'] },
      { table: 'messages', actions: ['PutItem'] },
    ]),
    manageConnections: true,
  },
  httpRemoveParticipant: {
    entry: 'lambdas/http-remove-participant.ts',
    description: 'DELETE /conversations/{id}/participants/{userId}: admins remove, anyone leaves',
    tables: withGrants(directDeliveryGrants, [
      // The caller's timeline-write counter (the send limit), before anything else.
      { table: 'rateLimits', actions: ['UpdateItem'] },
      // GetItem: a queued event polls the committed seq. ConditionCheckItem: an admin leaving counts on another staying.
      { table: 'conversations', actions: ['Query', 'GetItem', 'UpdateItem', 'ConditionCheckItem'] },
      { table: 'messages', actions: ['PutItem'] },
    ]),
    manageConnections: true,
  },
  httpDeleteUser: {
    entry: 'lambdas/http-delete-user.ts',
    description: 'DELETE /users/{id}: self only; tombstone, leave every conversation, close connections',
    tables: withGrants(directDeliveryGrants, [
      // Profile tombstone and username claim, live connections (Query, DeleteItem, UpdateItem for the reach
      // entry), devices (Query, BatchWriteItem), the reach item (DeleteItem).
      { table: 'users', actions: ['GetItem', 'PutItem', 'DeleteItem', 'UpdateItem', 'Query', 'BatchWriteItem'] },
      // Leaving each conversation, as httpRemoveParticipant does.
      { table: 'conversations', actions: ['Query', 'GetItem', 'UpdateItem', 'ConditionCheckItem'] },
      { table: 'messages', actions: ['PutItem'] },
    ]),
    manageConnections: true,
    // The HTTP API stops waiting at 30 s; a deletion cut off there is finished by the client's retry.
    timeoutSeconds: 29,
  },
  httpListUserConversations: {
    entry: 'lambdas/http-list-user-conversations.ts',
    description: "GET /users/{id}/conversations: the caller's conversations, newest activity first",
    tables: [
      { table: 'conversations', actions: ['Query', 'BatchGetItem'] },
      // BatchGetItem: each conversation's last message; Query: the count of changes an unread range holds.
      { table: 'messages', actions: ['BatchGetItem', 'Query'] },
    ],
  },
  httpSendMessage: {
    entry: 'lambdas/http-send-message.ts',
    description: 'POST /conversations/{id}/messages: the same send as the WebSocket action',
    tables: sendGrants,
    manageConnections: true,
    timeoutSeconds: sendTimeoutSeconds,
  },
  httpEditMessage: {
    entry: 'lambdas/http-edit-message.ts',
    description: 'PATCH /messages/{id}: the sender edits a message (the WebSocket editMessage)',
    tables: sendGrants,
    manageConnections: true,
    timeoutSeconds: sendTimeoutSeconds,
  },
  httpDeleteMessage: {
    entry: 'lambdas/http-delete-message.ts',
    description: 'DELETE /messages/{id}: the sender or a group admin deletes a message for everyone',
    tables: sendGrants,
    manageConnections: true,
    timeoutSeconds: sendTimeoutSeconds,
  },
  httpReactToMessage: {
    entry: 'lambdas/http-react-to-message.ts',
    description: 'POST /messages/{id}/reactions: react to a message with an emoji, or take it back',
    tables: sendGrants,
    manageConnections: true,
    timeoutSeconds: sendTimeoutSeconds,
  },
  httpListMessages: {
    entry: 'lambdas/http-list-messages.ts',
    description: 'GET /conversations/{id}/messages: history paged by seq',
    tables: [
      { table: 'conversations', actions: ['BatchGetItem'] },
      // Query: the page; BatchGetItem: the messages its replies and edits name, as they are now.
      { table: 'messages', actions: ['Query', 'BatchGetItem'] },
    ],
  },
  httpGetMessage: {
    entry: 'lambdas/http-get-message.ts',
    description: 'GET /messages/{id}',
    tables: [
      { table: 'conversations', actions: ['BatchGetItem'] },
      { table: 'messages', actions: ['GetItem'] },
    ],
  },
  httpMarkRead: {
    entry: 'lambdas/http-mark-read.ts',
    description: 'POST /messages/{id}/read_receipts: the caller has read up to that message',
    tables: [
      { table: 'conversations', actions: ['Query', 'BatchGetItem', 'UpdateItem'] },
      { table: 'receipts', actions: ['UpdateItem'] },
      { table: 'messages', actions: ['GetItem'] },
      // The reader's devices' live connections (the senders hear from streamReceipts).
      { table: 'users', actions: ['BatchGetItem'] },
    ],
    manageConnections: true,
  },
  httpListReadReceipts: {
    entry: 'lambdas/http-list-read-receipts.ts',
    description: 'GET /messages/{id}/read_receipts: when each other member had the message delivered and read',
    tables: [
      { table: 'conversations', actions: ['Query'] },
      { table: 'messages', actions: ['GetItem'] },
      { table: 'receipts', actions: ['Query'] },
      { table: 'users', actions: ['GetItem'] },
    ],
  },
  httpCreateConnectTicket: {
    entry: 'lambdas/http-create-connect-ticket.ts',
    description: 'POST /connect-ticket: a single-use ticket that opens one WebSocket within seconds',
    tables: [
      // Deleted accounts get no ticket.
      { table: 'users', actions: ['GetItem'] },
      { table: 'connectTickets', actions: ['PutItem'] },
    ],
  },
  httpCreateUser: {
    entry: 'lambdas/http-create-user.ts',
    description: "POST /users: the caller's profile, with a unique username",
    // One TransactWriteItems: Put profile + Put username claim.
    tables: [{ table: 'users', actions: ['PutItem'] }],
  },
  httpSearchUsers: {
    entry: 'lambdas/http-search-users.ts',
    description: 'GET /users?username=: find people by username prefix',
    tables: [
      // Query of the byUsernamePrefix index, then BatchGetItem of the matches' profiles.
      { table: 'users', actions: ['Query', 'BatchGetItem'] },
      { table: 'rateLimits', actions: ['UpdateItem'] },
    ],
  },
  httpGetUser: {
    entry: 'lambdas/http-get-user.ts',
    description: 'GET /users/{id}',
    tables: [{ table: 'users', actions: ['GetItem'] }],
  },
  httpUpdateUser: {
    entry: 'lambdas/http-update-user.ts',
    description: 'PUT /users/{id}: self only',
    // UpdateItem on the profile; a username change also deletes the old claim and puts the new one.
    // A change of showPresence is told to the watchers; switched on, with the reach item read (BatchGetItem).
    tables: withGrants(
      [{ table: 'users', actions: ['GetItem', 'UpdateItem', 'PutItem', 'DeleteItem'] }],
      presenceAnnouncementGrants,
    ),
    manageConnections: true,
  },
  httpCreateAttachment: {
    entry: 'lambdas/http-create-attachment.ts',
    description: 'POST /conversations/{id}/attachments: members get a presigned PUT for one upload',
    tables: [
      { table: 'conversations', actions: ['BatchGetItem'] },
      { table: 'attachments', actions: ['PutItem'] },
    ],
    // A presigned URL acts with its signer's permissions: this role may write uploads and nothing else.
    bucket: [{ prefix: media.uploadPrefix, actions: ['s3:PutObject'] }],
  },
  httpGetAttachment: {
    entry: 'lambdas/http-get-attachment.ts',
    description: 'GET /attachments/{id}: metadata, status and signed download URLs for members',
    tables: [
      { table: 'attachments', actions: ['GetItem'] },
      { table: 'conversations', actions: ['BatchGetItem'] },
    ],
    signsMediaUrls: true,
  },
  mediaProcess: {
    entry: 'lambdas/s3-process-media.ts',
    description:
      'S3 upload created: checks the bytes, strips metadata, makes the thumbnail, marks the attachment ready',
    tables: [{ table: 'attachments', actions: ['GetItem', 'UpdateItem'] }],
    bucket: [
      { prefix: media.uploadPrefix, actions: ['s3:GetObject', 's3:DeleteObject'] },
      // PutObjectTagging: processed objects are written with the `unsent` retention tag.
      { prefix: media.mediaPrefix, actions: ['s3:PutObject', 's3:PutObjectTagging'] },
    ],
    nativeModules: ['sharp'],
    // One full vCPU: image decoding is CPU-bound.
    memoryMb: oneVcpuMemoryMb,
    timeoutSeconds: 120,
  },
  mediaRetain: {
    entry: 'lambdas/stream-retain-media.ts',
    description: 'Attachments stream: an attachment was sent, so its objects lose the unsent tag and are kept',
    tables: [],
    bucket: [{ prefix: media.mediaPrefix, actions: ['s3:PutObjectTagging'] }],
  },
  streamFanOut: {
    entry: 'lambdas/stream-fan-out.ts',
    description: 'Messages stream: delivers each new message to every member device, live or via inbox',
    tables: withGrants(
      [
        { table: 'conversations', actions: ['Query'] },
        // One BatchGetItem of reach items per batch (a Query per recipient without a complete one); a connection
        // that answered 410 is dropped (DeleteItem) and its reach entry set offline (UpdateItem).
        { table: 'users', actions: ['BatchGetItem', 'Query', 'DeleteItem', 'UpdateItem'] },
        // Each offline device's pointer into the conversation, read strongly (BatchGetItem); one written where
        // none is (BatchWriteItem); one past half its retention has its expiry moved on (UpdateItem), or is
        // written again if it went meanwhile (PutItem).
        { table: 'inbox', actions: ['BatchGetItem', 'BatchWriteItem', 'UpdateItem', 'PutItem'] },
        // The send's records of the devices it reached directly, skipped here.
        { table: 'directDeliveries', actions: ['BatchGetItem'] },
        // One conditional UpdateItem per parked device and conversation with a push subscription: the push window.
        { table: 'rateLimits', actions: ['UpdateItem'] },
      ],
      // A 410 that took the user's last live device offline is told to their presence watchers.
      presenceAnnouncementGrants,
    ),
    manageConnections: true,
    // Hands each coalesced push to pushSend (an asynchronous invoke): push services never hold up a batch.
    invokesPushSend: true,
    memoryMb: 1024,
    timeoutSeconds: 60,
    // The delivery path: every cold start lands on some message's latency (see docs/performance.md).
    sdkTracing: false,
  },
  streamReceipts: {
    entry: 'lambdas/stream-receipts.ts',
    description:
      "Receipts stream: tells the senders of acknowledged messages, a batch's receipts in one frame per device",
    tables: [
      // The senders of the acknowledged ranges: one Query per conversation of the batch.
      { table: 'messages', actions: ['Query'] },
      // GetItem: each reader's read-receipt privacy setting; BatchGetItem: the senders' live connections.
      { table: 'users', actions: ['GetItem', 'BatchGetItem'] },
    ],
    manageConnections: true,
  },
  httpRegisterPushSubscription: {
    entry: 'lambdas/http-register-push-subscription.ts',
    description: "POST /devices/{deviceId}/push-subscription: the caller's device registers its Web Push subscription",
    // One TransactWriteItems: the device row (must exist: ownership) and the user's reach item, which fan-out reads.
    tables: [{ table: 'users', actions: ['UpdateItem'] }],
  },
  httpDeletePushSubscription: {
    entry: 'lambdas/http-delete-push-subscription.ts',
    description: "DELETE /devices/{deviceId}/push-subscription: the caller's device stops getting pushes",
    tables: [{ table: 'users', actions: ['UpdateItem'] }],
  },
  httpGetVapidPublicKey: {
    entry: 'lambdas/http-get-vapid-public-key.ts',
    description: "GET /push/vapid-public-key: the key browsers subscribe with (PushManager's applicationServerKey)",
    tables: [],
    vapidPublicKey: true,
  },
  pushSend: {
    entry: 'lambdas/push-send.ts',
    description: 'Asynchronous: encrypts and sends one Web Push (VAPID, aes128gcm); a gone subscription is removed',
    tables: [
      // BatchGetItem: the sender's name, the recipient's preview setting and the device row (still subscribed?);
      // UpdateItem: a 404/410 removes the subscription.
      { table: 'users', actions: ['BatchGetItem', 'UpdateItem'] },
    ],
    vapidPublicKey: true,
    vapidPrivateKey: true,
    asyncInvocation: { retryAttempts: push.retryAttempts, maxEventAgeSeconds: push.maxEventAgeSeconds },
    timeoutSeconds: Math.ceil(push.sendTimeoutMs / 1000) + 5,
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;

export interface WebSocketRouteSpec {
  readonly routeKey: string;
  readonly function: FunctionName;
  /** The handler's return value is sent back on the calling connection (a route response). */
  readonly returnResponse: boolean;
}

/** Route selection: `$request.body.action`. `ping` and anything unknown land on `$default`. */
export const webSocketRouteSelection = '$request.body.action';

export const webSocketAuthorizer = {
  function: 'wsAuthorizer',
  /**
   * API Gateway refuses the handshake without calling the authorizer when one of these is missing,
   * so only `deviceId` is listed: the credential is `ticket` or `token`, and the authorizer takes
   * either. WebSocket authorizers are never cached (a TTL exists for HTTP API authorizers only).
   */
  identitySource: ['route.request.querystring.deviceId'],
} as const satisfies { function: FunctionName; identitySource: readonly string[] };

export const webSocketRoutes = [
  { routeKey: '$connect', function: 'wsConnect', returnResponse: false },
  { routeKey: '$disconnect', function: 'wsDisconnect', returnResponse: false },
  { routeKey: '$default', function: 'wsDefault', returnResponse: true },
  { routeKey: 'sendMessage', function: 'wsSendMessage', returnResponse: true },
  { routeKey: 'sendMessages', function: 'wsSendMessage', returnResponse: true },
  { routeKey: 'sync', function: 'wsSync', returnResponse: true },
  { routeKey: 'ack', function: 'wsAck', returnResponse: true },
  { routeKey: 'read', function: 'wsRead', returnResponse: true },
  { routeKey: 'editMessage', function: 'wsSendMessage', returnResponse: true },
  { routeKey: 'deleteMessage', function: 'wsSendMessage', returnResponse: true },
  { routeKey: 'react', function: 'wsSendMessage', returnResponse: true },
  { routeKey: 'subscribePresence', function: 'wsSubscribePresence', returnResponse: true },
  // Answered only when refused: a forwarded frame sends nothing back (the handler's body is empty).
  { routeKey: 'typing', function: 'wsTyping', returnResponse: true },
] as const satisfies readonly WebSocketRouteSpec[];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRouteSpec {
  readonly method: HttpMethod;
  /** API Gateway path syntax: `{name}` is a path parameter. */
  readonly path: string;
  readonly function: FunctionName;
}

/** CORS for browser clients, the same on API Gateway and locally. Bearer tokens, no cookies, so any origin. */
export const httpCors = {
  allowOrigins: ['*'],
  allowHeaders: ['authorization', 'content-type'],
  maxAgeSeconds: 24 * 60 * 60,
} as const;

/** Every HTTP route requires a valid JWT (API Gateway's JWT authorizer on the user pool). */
export const httpRoutes = [
  { method: 'POST', path: '/conversations', function: 'httpCreateConversation' },
  { method: 'GET', path: '/conversations/{id}', function: 'httpGetConversation' },
  { method: 'PATCH', path: '/conversations/{id}', function: 'httpUpdateConversation' },
  { method: 'POST', path: '/conversations/{id}/participants', function: 'httpAddParticipants' },
  { method: 'DELETE', path: '/conversations/{id}/participants/{userId}', function: 'httpRemoveParticipant' },
  { method: 'POST', path: '/conversations/{id}/messages', function: 'httpSendMessage' },
  { method: 'GET', path: '/conversations/{id}/messages', function: 'httpListMessages' },
  { method: 'GET', path: '/messages/{id}', function: 'httpGetMessage' },
  { method: 'PATCH', path: '/messages/{id}', function: 'httpEditMessage' },
  { method: 'DELETE', path: '/messages/{id}', function: 'httpDeleteMessage' },
  { method: 'POST', path: '/messages/{id}/reactions', function: 'httpReactToMessage' },
  { method: 'POST', path: '/messages/{id}/read_receipts', function: 'httpMarkRead' },
  { method: 'GET', path: '/messages/{id}/read_receipts', function: 'httpListReadReceipts' },
  { method: 'POST', path: '/users', function: 'httpCreateUser' },
  { method: 'GET', path: '/users', function: 'httpSearchUsers' },
  { method: 'GET', path: '/users/{id}', function: 'httpGetUser' },
  { method: 'PUT', path: '/users/{id}', function: 'httpUpdateUser' },
  { method: 'DELETE', path: '/users/{id}', function: 'httpDeleteUser' },
  { method: 'GET', path: '/users/{id}/conversations', function: 'httpListUserConversations' },
  { method: 'GET', path: '/users/{id}/presence', function: 'httpGetPresence' },
  { method: 'POST', path: '/conversations/{id}/attachments', function: 'httpCreateAttachment' },
  { method: 'GET', path: '/attachments/{id}', function: 'httpGetAttachment' },
  { method: 'POST', path: '/connect-ticket', function: 'httpCreateConnectTicket' },
  { method: 'POST', path: '/devices/{deviceId}/push-subscription', function: 'httpRegisterPushSubscription' },
  { method: 'DELETE', path: '/devices/{deviceId}/push-subscription', function: 'httpDeletePushSubscription' },
  { method: 'GET', path: '/push/vapid-public-key', function: 'httpGetVapidPublicKey' },
] as const satisfies readonly HttpRouteSpec[];

/** A leaf of a filter pattern: exact values, or whether the field is present at all. */
export type StreamFilterValue = string | { readonly exists: boolean };

/** DynamoDB event filter pattern (Lambda filter-criteria syntax: each leaf lists what it allows). */
export type StreamFilterPattern = { readonly [field: string]: readonly StreamFilterValue[] | StreamFilterPattern };

export interface StreamTriggerSpec {
  readonly function: FunctionName;
  readonly table: TableKey;
  readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Bounded: the default (-1) retries until the record expires and blocks the shard. */
  readonly retryAttempts: number;
  readonly maxRecordAgeSeconds: number;
  readonly bisectBatchOnError: boolean;
  readonly reportBatchItemFailures: boolean;
  /** Order still holds per partition key (conversation) with more than one batch per shard. */
  readonly parallelizationFactor: number;
  readonly filters: readonly StreamFilterPattern[];
}

export const streamTriggers = [
  {
    function: 'streamFanOut',
    table: 'messages',
    startingPosition: 'LATEST',
    batchSize: 100,
    maxBatchingWindowSeconds: 0,
    retryAttempts: 10,
    maxRecordAgeSeconds: 6 * 60 * 60,
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    parallelizationFactor: 4,
    filters: [{ eventName: ['INSERT'] }],
  },
  {
    function: 'streamReceipts',
    table: 'receipts',
    startingPosition: 'LATEST',
    batchSize: 100,
    // Up to a second: the readers of one burst reach its sender as one frame, not one post each.
    maxBatchingWindowSeconds: 1,
    retryAttempts: 3,
    maxRecordAgeSeconds: 60 * 60,
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    parallelizationFactor: 1,
    // A history item's first write; a repeat changes nothing and writes no record.
    filters: [{ eventName: ['INSERT'] }],
  },
  {
    function: 'mediaRetain',
    table: 'attachments',
    startingPosition: 'LATEST',
    batchSize: 100,
    maxBatchingWindowSeconds: 1,
    retryAttempts: 10,
    maxRecordAgeSeconds: 6 * 60 * 60,
    bisectBatchOnError: true,
    reportBatchItemFailures: true,
    parallelizationFactor: 1,
    // Only the change that first marks an attachment sent; processing updates never invoke it.
    filters: [
      {
        eventName: ['MODIFY'],
        dynamodb: {
          NewImage: { sentSeq: { N: [{ exists: true }] } },
          OldImage: { sentSeq: { N: [{ exists: false }] } },
        },
      },
    ],
  },
] as const satisfies readonly StreamTriggerSpec[];

/** S3 notifications: which handler runs for objects created under which prefix of the media bucket. */
export interface BucketTriggerSpec {
  readonly function: FunctionName;
  readonly prefix: string;
}

export const bucketTriggers = [
  { function: 'mediaProcess', prefix: media.uploadPrefix },
] as const satisfies readonly BucketTriggerSpec[];
