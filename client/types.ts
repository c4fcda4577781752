/**
 * Public types of the Parley client SDK. Wire shapes come from the server's own contract as
 * type-only imports, which are erased at build time, so the SDK stays standalone in a bundle.
 */
import type { z } from 'zod';
import type { Message } from '#shared/model';
import type { CreateConversationBody } from '#shared/protocol/conversations-http';
import type {
  attachmentViewSchema,
  connectTicketSchema,
  conversationPageSchema,
  conversationSummarySchema,
  conversationViewSchema,
  messagePageSchema,
  messageReceiptsSchema,
  presenceSchema,
  uploadTicketSchema,
  userProfileSchema,
  userSearchPageSchema,
  userViewSchema,
} from '#shared/protocol/http-responses';
import type { PushSubscriptionBody } from '#shared/protocol/push-http';
import type { CreateUserBody, UpdateUserBody } from '#shared/protocol/users-http';

export type {
  AttachmentRejection,
  AttachmentStatus,
  Message,
  MessageAttachment,
  MessageType,
  Reaction,
  ReplyRef,
  ThumbnailInfo,
  TimelineEvent,
} from '#shared/model';
export type { CreateConversationBody, CreateUserBody, UpdateUserBody };

// Messages inside responses are the model's Message, the same type the SDK emits and caches.
export type ConversationView = z.output<typeof conversationViewSchema>;
export type ConversationSummary = Omit<z.output<typeof conversationSummarySchema>, 'lastMessage'> & {
  lastMessage?: Message;
};
export type ConversationPage = Omit<z.output<typeof conversationPageSchema>, 'conversations'> & {
  conversations: ConversationSummary[];
};
export type MessagePage = Omit<z.output<typeof messagePageSchema>, 'messages'> & { messages: Message[] };
export type MessageReceipts = z.output<typeof messageReceiptsSchema>;
export type AttachmentView = z.output<typeof attachmentViewSchema>;
export type UploadTicket = z.output<typeof uploadTicketSchema>;
/** A single-use, seconds-long ticket that opens the WebSocket, so no JWT ever sits in a URL. */
export type ConnectTicket = z.output<typeof connectTicketSchema>;
export type UserProfile = z.output<typeof userProfileSchema>;
/** The whole profile (own), the public view (others') or a deleted user's placeholder. */
export type UserView = z.output<typeof userViewSchema>;
export type UserSearchPage = z.output<typeof userSearchPageSchema>;
export type Presence = z.output<typeof presenceSchema>;

/** Where the SDK keeps the device id; `localStorage` fits. */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export type ConnectionState = 'idle' | 'connecting' | 'syncing' | 'connected' | 'offline' | 'closed';

/**
 * What the SDK needs of a WebSocket: the browser's and `ws`'s both fit. Handler parameters are
 * `never` so any implementation's own event types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ParleyClientOptions {
  /** HTTP API base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com` or `http://127.0.0.1:3000`. */
  httpUrl: string;
  /** WebSocket API URL (with its stage), e.g. `wss://xyz.execute-api.eu-west-1.amazonaws.com/prod`. */
  wsUrl: string;
  /** Called for every (re)connect and every HTTP call; may refresh the token. */
  tokenProvider: () => Promise<string>;
  /** Else read from storage (`parley.deviceId`), else generated and stored. 1–64 of `A–Z a–z 0–9 _ -`. */
  deviceId?: string;
  /** Default: `globalThis.localStorage` when usable, else in memory (a new device per process). */
  storage?: KeyValueStore;
  /** Default `globalThis.WebSocket`; Node 20 has none: pass `ws`'s `WebSocket`. */
  WebSocket?: WebSocketConstructor;
  fetch?: typeof fetch;
  /** A ping after this long with no frame sent; default 8 minutes, under API Gateway's 10-minute idle timeout. */
  keepAliveMs?: number;
  /** Reconnect after this long; default 110 minutes, before API Gateway's 2-hour cap. */
  maxConnectionMs?: number;
  /** Reconnect and retry delays: full jitter between 0 and min(maxMs, initialMs·2^attempt). Default 500 ms .. 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long a missing seq may stay missing before history fills it; default 1500 ms (a live push may be on its way). */
  gapFillDelayMs?: number;
  /** How long acks are held to coalesce them per conversation; default 100 ms. */
  ackDelayMs?: number;
  /** A sync, ping or send with no answer for this long is retried (a dead socket is replaced); default 30 s. */
  responseTimeoutMs?: number;
}

export interface ReceiptEvent {
  conversationId: string;
  userId: string;
  kind: 'delivered' | 'read';
  upToSeq: number;
  /** Server time of the mark. */
  at: string;
}

/** A watched user's presence: `lastSeenAt` null while online, hidden by them, or never seen. */
export interface PresenceEvent {
  userId: string;
  online: boolean;
  lastSeenAt: string | null;
}

/** Another member is typing in a conversation; show it for a few seconds unless another comes. */
export interface TypingEvent {
  conversationId: string;
  userId: string;
}

export interface ParleyEvents {
  /**
   * Per conversation in seq order, never twice; voids are never emitted. Includes this device's own sends,
   * and change entries (`edit`, `delete`, `reaction`: see `isChangeEntry`), whose effect `messageChanged` carries.
   */
  message: (message: Message) => void;
  receipt: (receipt: ReceiptEvent) => void;
  /** System messages (membership and rename events); they are also emitted as `message`. */
  membership: (message: Message) => void;
  /**
   * A cached message as an edit, delete or reaction left it (or a reply whose quote of it changed),
   * right after the `message` event of the change entry that did it. Same id and seq as before.
   */
  messageChanged: (message: Message) => void;
  /** A watched user's presence: once per user when subscribed (as it is now), then at each change. */
  presence: (presence: PresenceEvent) => void;
  /** Another member is typing (at most one per member and conversation every 3 s; never replayed). */
  typing: (typing: TypingEvent) => void;
  connection: (state: ConnectionState) => void;
  error: (error: Error) => void;
}

export interface MessageContent {
  text?: string;
  attachmentIds?: string[];
  /** The seq of the message this one answers; the stored reply carries its sender and a preview. */
  replyTo?: number;
}

/** A change to an earlier text message (its `seq`), queued and retried like a send. */
export type MessageChange =
  | { readonly kind: 'edit'; readonly seq: number; readonly text: string }
  | { readonly kind: 'delete'; readonly seq: number }
  | { readonly kind: 'react'; readonly seq: number; readonly emoji: string; readonly remove: boolean };

export interface HistoryQuery {
  after?: number;
  before?: number;
  cursor?: string;
  limit?: number;
}

export interface UploadOptions {
  fileName: string;
  contentType: string;
  /** A video's still (image/jpeg, png or webp) that becomes its thumbnail. */
  poster?: { file: Blob | Uint8Array; contentType: string };
  /** Bytes sent of the file and poster together; in Node (no XMLHttpRequest) called once each part has gone. */
  onProgress?: (sentBytes: number, totalBytes: number) => void;
  /** How long to wait for processing to finish; default 2 minutes. */
  timeoutMs?: number;
}

/** Typed HTTP helpers; every call carries a bearer token from `tokenProvider` and throws `ParleyApiError`. */
export interface ParleyApi {
  createUser(body: CreateUserBody): Promise<UserProfile>;
  getUser(id: string): Promise<UserView>;
  /** People whose username starts with `prefix` (3+ characters, any case), exact match first, without the caller. */
  searchUsers(prefix: string, options?: { cursor?: string }): Promise<UserSearchPage>;
  updateUser(id: string, body: UpdateUserBody): Promise<UserProfile>;
  deleteUser(id: string): Promise<void>;
  createConversation(body: CreateConversationBody): Promise<ConversationView>;
  getConversation(id: string): Promise<ConversationView>;
  /** The caller's conversations, most recently active first (`GET /users/{me}/conversations`). */
  listConversations(options?: { cursor?: string; limit?: number }): Promise<ConversationPage>;
  renameConversation(id: string, name: string): Promise<ConversationView>;
  addMembers(id: string, userIds: string[]): Promise<ConversationView>;
  /** Removes a member (admins), or leaves when `userId` is the caller's own. */
  removeMember(id: string, userId: string): Promise<void>;
  history(id: string, query?: HistoryQuery): Promise<MessagePage>;
  getMessage(id: string): Promise<Message>;
  readReceipts(messageId: string): Promise<MessageReceipts>;
  /** Online, or when last seen, of a user who shares a conversation with the caller (`GET /users/{id}/presence`). */
  presence(userId: string): Promise<Presence>;
  markReadHttp(messageId: string): Promise<void>;
  getAttachment(id: string): Promise<AttachmentView>;
  /** The server's VAPID public key: `PushManager.subscribe`'s `applicationServerKey` (base64url). */
  vapidPublicKey(): Promise<string>;
  /** Registers `subscription` (the browser's `PushSubscription.toJSON()`) for one of the caller's devices. */
  registerPushSubscription(deviceId: string, subscription: PushSubscriptionBody): Promise<void>;
  deletePushSubscription(deviceId: string): Promise<void>;
}

export type { PushSubscriptionBody };
