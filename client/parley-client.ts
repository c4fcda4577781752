/**
 * The Parley client: one WebSocket per device that reconnects by itself, syncs after every
 * connect, keeps each conversation in seq order (filling gaps from history), acks what it has,
 * and sends each message exactly once however often the connection drops (docs/protocol.md).
 * Edits, deletes and reactions go through the same outbox, and the cache applies incoming ones.
 * This class composes those parts and dispatches the server's frames to them.
 */
import type { Message } from '#shared/model';
import type { ReceiptEntry, ServerFrame } from '#shared/protocol/frames';
import { Acks } from './acks';
import { Connection } from './connection';
import { defaultStore, resolveDeviceId, subjectOf } from './device';
import { ParleyClientError, ParleyServerError } from './errors';
import { createApi, HttpCaller } from './http-api';
import { OrderedDelivery } from './ordered-delivery';
import { Outbox } from './outbox';
import { PresenceAndTyping } from './presence';
import { ReadQueue } from './read-queue';
import { isMessage, isReceipt } from './server-frames';
import type {
  AttachmentView,
  ConnectionState,
  MessageContent,
  ParleyApi,
  ParleyClientOptions,
  ParleyEvents,
  PushSubscriptionBody,
  UploadOptions,
  WebSocketConstructor,
} from './types';
import { uploadAttachment } from './upload';

const defaults = {
  // Under API Gateway's 10-minute idle timeout with a minute to spare for timers a background tab throttles.
  keepAliveMs: 8 * 60_000,
  maxConnectionMs: 110 * 60_000,
  backoff: { initialMs: 500, maxMs: 30_000 },
  gapFillDelayMs: 1500,
  ackDelayMs: 100,
  responseTimeoutMs: 30_000,
} as const;

/** Error codes after which the same frame may succeed later; a send keeps its clientMessageId. */
const retryableCodes: ReadonlySet<string> = new Set(['conflict', 'internal', 'rate_limited']);

export class ParleyClient {
  readonly deviceId: string;
  readonly api: ParleyApi;

  private readonly options: ParleyClientOptions;
  private readonly fetchImpl: typeof fetch;
  private readonly http: HttpCaller;
  private readonly connection: Connection;
  private readonly acks: Acks;
  private readonly outbox: Outbox;
  private readonly reads: ReadQueue;
  private readonly delivery: OrderedDelivery;
  private readonly presenceAndTyping: PresenceAndTyping;

  private knownUserId: string | undefined;
  private readonly listeners: { [E in keyof ParleyEvents]: Set<ParleyEvents[E]> } = {
    message: new Set(),
    receipt: new Set(),
    membership: new Set(),
    messageChanged: new Set(),
    presence: new Set(),
    typing: new Set(),
    connection: new Set(),
    error: new Set(),
  };
  private everConnected = false;
  private connectWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(options: ParleyClientOptions) {
    this.options = options;
    this.deviceId = resolveDeviceId(options.deviceId, options.storage ?? defaultStore());
    const WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    if (WebSocketImpl === undefined) {
      throw new TypeError('No WebSocket implementation: pass options.WebSocket (in Node, `ws`’s WebSocket)');
    }
    const givenFetch = options.fetch ?? globalThis.fetch;
    // Browsers refuse fetch called with another `this`, so never call it as a method of the options.
    this.fetchImpl = (input, init) => givenFetch(input, init);
    const responseTimeoutMs = options.responseTimeoutMs ?? defaults.responseTimeoutMs;
    const onError = (error: Error): void => this.emitError(error);
    this.http = new HttpCaller({ baseUrl: options.httpUrl, token: () => this.token(), fetch: this.fetchImpl });
    this.api = createApi(this.http, () => this.me());
    this.connection = new Connection(
      {
        wsUrl: options.wsUrl,
        deviceId: this.deviceId,
        WebSocket: WebSocketImpl,
        http: this.http,
        keepAliveMs: options.keepAliveMs ?? defaults.keepAliveMs,
        maxConnectionMs: options.maxConnectionMs ?? defaults.maxConnectionMs,
        backoff: options.backoff ?? defaults.backoff,
        responseTimeoutMs,
      },
      {
        state: (state) => this.emit('connection', state),
        error: onError,
        opened: () => this.acks.onNewConnection(),
        frame: (frame) => this.onFrame(frame),
        answered: (writeIndex) => this.reads.settleThrough(writeIndex),
        // Sends and reads are idempotent: everything in flight goes again rather than wait out its timeout.
        integrationFailed: () => {
          this.outbox.retryInFlight();
          this.reads.retryUnsettled();
        },
        lost: () => {
          this.reads.onConnectionLost();
          this.outbox.onConnectionLost();
        },
      },
    );
    this.acks = new Acks(this.connection, options.ackDelayMs ?? defaults.ackDelayMs);
    this.outbox = new Outbox({
      connection: this.connection,
      responseTimeoutMs,
      closedError,
      onError,
      highestSeq: (conversationId) => this.delivery.highestSeq(conversationId),
      answered: (writeIndex) => this.reads.settleThrough(writeIndex),
    });
    this.reads = new ReadQueue({
      connection: this.connection,
      onError,
      written: (conversationId, upToSeq) => this.acks.coveredByRead(conversationId, upToSeq),
    });
    this.delivery = new OrderedDelivery({
      api: this.api,
      connection: this.connection,
      acks: this.acks,
      gapFillDelayMs: options.gapFillDelayMs ?? defaults.gapFillDelayMs,
      onDue: (message) => {
        this.emit('message', message);
        if (message.type === 'system') this.emit('membership', message);
      },
      onChanged: (message) => this.emit('messageChanged', message),
      onError,
    });
    this.presenceAndTyping = new PresenceAndTyping(
      this.connection,
      (presence) => this.emit('presence', presence),
      (typing) => this.emit('typing', typing),
    );
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** The token's `sub`, once a token has been fetched. */
  get userId(): string | undefined {
    return this.knownUserId;
  }

  /** The server's VAPID public key, for `PushManager.subscribe({ userVisibleOnly: true, applicationServerKey })`. */
  vapidPublicKey(): Promise<string> {
    return this.api.vapidPublicKey();
  }

  /**
   * Registers this device's Web Push subscription (`PushSubscription.toJSON()`): while the device is
   * offline, new messages push a notification to it. The device must have connected once (it is known by then).
   */
  registerPush(subscription: PushSubscriptionBody): Promise<void> {
    return this.api.registerPushSubscription(this.deviceId, subscription);
  }

  /** This device gets no more pushes. */
  unregisterPush(): Promise<void> {
    return this.api.deletePushSubscription(this.deviceId);
  }

  /** Resolves once connected and the first sync completed; keeps retrying until then. Rejects only on `close()`. */
  connect(): Promise<void> {
    if (this.connection.isClosed()) return Promise.reject(closedError());
    if (this.connection.state === 'connected') return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.connection.state === 'idle') void this.connection.open();
    return connected;
  }

  /** Stops for good: pending sends reject with a `closed` ParleyClientError, and nothing reconnects. */
  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    this.acks.flush();
    this.connection.stop();
    this.acks.stop();
    this.reads.stop();
    this.delivery.stop();
    const error = closedError();
    this.outbox.rejectAll(error);
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
    await this.connection.release();
  }

  on<E extends keyof ParleyEvents>(event: E, listener: ParleyEvents[E]): () => void {
    const set: Set<ParleyEvents[E]> = this.listeners[event];
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  /**
   * Queues a message; it goes out once connected, one at a time per conversation, and is resent
   * with the same `clientMessageId` after every reconnect until the server accepts or refuses it.
   */
  send(conversationId: string, content: MessageContent): { clientMessageId: string; accepted: Promise<Message> } {
    return this.outbox.send(conversationId, content);
  }

  /** Sends a reply to the message at `replyTo` (a seq): `send` with `replyTo`, queued and answered the same way. */
  reply(
    conversationId: string,
    replyTo: number,
    content: Omit<MessageContent, 'replyTo'>,
  ): { clientMessageId: string; accepted: Promise<Message> } {
    return this.send(conversationId, { ...content, replyTo: checkedSeq(replyTo) });
  }

  /**
   * Edits one's own text message (within the server's edit window). Queued, resent and answered like
   * `send`: `accepted` resolves with the `edit` entry; the cache shows the new text once it is due.
   */
  editMessage(
    conversationId: string,
    seq: number,
    text: string,
  ): { clientMessageId: string; accepted: Promise<Message> } {
    return this.outbox.change(conversationId, { kind: 'edit', seq: checkedSeq(seq), text });
  }

  /** Deletes a message for everyone (one's own, or any in a group one administers); resolves with the `delete` entry. */
  deleteMessage(conversationId: string, seq: number): { clientMessageId: string; accepted: Promise<Message> } {
    return this.outbox.change(conversationId, { kind: 'delete', seq: checkedSeq(seq) });
  }

  /** Reacts to a message with one emoji; resolves with the `reaction` entry. */
  react(conversationId: string, seq: number, emoji: string): { clientMessageId: string; accepted: Promise<Message> } {
    return this.outbox.change(conversationId, { kind: 'react', seq: checkedSeq(seq), emoji, remove: false });
  }

  /** Takes one's reaction with `emoji` back; resolves with the `reaction` entry (`removed: true`). */
  unreact(conversationId: string, seq: number, emoji: string): { clientMessageId: string; accepted: Promise<Message> } {
    return this.outbox.change(conversationId, { kind: 'react', seq: checkedSeq(seq), emoji, remove: true });
  }

  /** Marks the conversation read up to `upToSeq`; queued while offline, coalesced to the highest seq. */
  markRead(conversationId: string, upToSeq: number): void {
    if (!Number.isSafeInteger(upToSeq) || upToSeq < 0) throw new RangeError('upToSeq must be a non-negative integer');
    if (this.connection.isClosed()) return;
    this.reads.mark(conversationId, upToSeq);
  }

  /**
   * Watches these users' presence (at most 100; only those who share a conversation with the caller are
   * answered): a `presence` event for each now, then one at each change. The list replaces the last,
   * `[]` stops, and it is sent again after every reconnect.
   */
  subscribePresence(userIds: readonly string[]): void {
    this.presenceAndTyping.subscribe(userIds);
  }

  /**
   * Tells the conversation's other members' online devices that the user is typing. Call it on every
   * keystroke: at most one frame per conversation every 3 s goes out, and none while offline.
   */
  sendTyping(conversationId: string): void {
    this.presenceAndTyping.sendTyping(conversationId);
  }

  /** What this client has of the conversation, in seq order; the same array until it changes. */
  messages(conversationId: string): readonly Message[] {
    return this.delivery.messages(conversationId);
  }

  /**
   * Loads the page before the oldest message cached (the newest page when none is) into the
   * cache and answers it, ascending. These are not emitted as `message` events.
   */
  loadOlder(conversationId: string, limit = 50): Promise<{ messages: Message[]; hasMore: boolean }> {
    return this.delivery.loadOlder(conversationId, limit);
  }

  /** Presigns, PUTs the bytes (and a video's poster) with progress, then waits until processing made it ready. */
  upload(conversationId: string, file: Blob | Uint8Array, options: UploadOptions): Promise<AttachmentView> {
    return uploadAttachment(this.http, this.api, this.fetchImpl, conversationId, file, options);
  }

  private onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message':
        if (isMessage(frame.message)) this.delivery.receive(frame.message);
        return;
      case 'messages':
        if (!Array.isArray(frame.messages)) return;
        for (const message of frame.messages) if (isMessage(message)) this.delivery.receive(message);
        return;
      case 'messageAccepted':
        if (!isMessage(frame.message)) return;
        // Before the answer lets the conversation's next frame go, so that frame carries what it says.
        // Only a text send's answer speaks of the peer; an edit's, delete's or reaction's never does.
        if (frame.message.type === 'text') this.outbox.notePeer(frame.message.conversationId, directPeerOf(frame));
        // A change sent without a clientMessageId (never by this SDK) has no outbox entry to settle.
        if (frame.clientMessageId !== undefined) this.onAccepted(frame.clientMessageId, frame.message);
        return;
      case 'messagesAccepted':
        if (!Array.isArray(frame.messages)) return;
        for (const message of frame.messages) {
          if (isMessage(message) && message.clientMessageId !== undefined)
            this.onAccepted(message.clientMessageId, message);
        }
        return;
      case 'syncComplete':
        this.onSyncComplete(frame.cursor);
        return;
      case 'receipt':
        this.onReceipt(frame);
        return;
      case 'receipts':
        // A batch of receipts for this user's messages: each is a `receipt` event, as when they came alone.
        if (!Array.isArray(frame.receipts)) return;
        for (const receipt of frame.receipts) if (isReceipt(receipt)) this.onReceipt(receipt);
        return;
      case 'error':
        this.onErrorFrame(frame);
        return;
      case 'presenceSubscribed':
      case 'presence':
      case 'typing':
        this.presenceAndTyping.receive(frame);
        return;
      default:
        // pong, and frame types added later need nothing.
        return;
    }
  }

  private onReceipt(receipt: ReceiptEntry): void {
    // The user read this on another device: a read of it from here would move nothing.
    if (receipt.kind === 'read' && receipt.userId === this.knownUserId) {
      this.reads.readElsewhere(receipt.conversationId, receipt.upToSeq);
    }
    this.emit('receipt', {
      conversationId: receipt.conversationId,
      userId: receipt.userId,
      kind: receipt.kind,
      upToSeq: receipt.upToSeq,
      at: receipt.at,
    });
  }

  private onAccepted(clientMessageId: string, message: Message): void {
    this.outbox.accept(clientMessageId, message);
    // The server never pushes a device its own send: the answer is how it enters the timeline.
    this.delivery.receiveOwn(message);
    this.outbox.pump();
  }

  private onSyncComplete(cursor: string | undefined): void {
    if (this.connection.state !== 'syncing') return;
    // The protocol asks for acks of what was replayed before the next page.
    this.acks.flush();
    if (cursor !== undefined) {
      this.connection.requestSync(cursor);
      return;
    }
    this.delivery.settleAll();
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.connection.markConnected();
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.acks.flush();
    this.outbox.pump();
    this.reads.pump();
    this.presenceAndTyping.resubscribe();
    if (reconnected) void this.delivery.catchUp();
  }

  private onErrorFrame(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const error = new ParleyServerError(frame.code, frame.message, {
      ...(frame.action === undefined ? {} : { action: frame.action }),
      ...(frame.clientMessageId === undefined ? {} : { clientMessageId: frame.clientMessageId }),
      ...(frame.details === undefined ? {} : { details: { ...frame.details } }),
    });
    // A change refused for a reason of its own (`details.reason`: deleted, already_reacted, …) stays refused.
    const retryable = retryableCodes.has(frame.code) && typeof frame.details?.reason !== 'string';
    if (frame.clientMessageId !== undefined) {
      this.outbox.refuse(frame.clientMessageId, error, retryable);
      return;
    }
    if (
      frame.action === 'read' &&
      frame.conversationId !== undefined &&
      this.reads.refuse(frame.conversationId, error, retryable)
    )
      return;
    this.emitError(error);
    if (frame.action === 'sync' && this.connection.state === 'syncing') this.connection.replace();
  }

  private async token(): Promise<string> {
    const token = await this.options.tokenProvider();
    const subject = subjectOf(token);
    if (subject !== undefined) this.knownUserId = subject;
    return token;
  }

  private async me(): Promise<string> {
    if (this.knownUserId === undefined) await this.token();
    if (this.knownUserId === undefined) throw new TypeError('The token carries no `sub`, so the user id is unknown');
    return this.knownUserId;
  }

  private emit<E extends keyof ParleyEvents>(event: E, ...args: Parameters<ParleyEvents[E]>): void {
    const set: Set<ParleyEvents[E]> = this.listeners[event];
    for (const listener of [...set]) {
      try {
        // Each event's listeners take exactly that event's arguments; TS cannot follow E through the call.
        (listener as (...values: unknown[]) => void)(...args);
      } catch (error) {
        // A throwing error listener is ignored; anything else becomes an error event.
        if (event !== 'error')
          this.emitError(new ParleyClientError('listener_failed', `A ${event} listener threw`, error));
      }
    }
  }

  private emitError(error: Error): void {
    this.emit('error', error);
  }
}

/** The peer a `messageAccepted` names for its direct chat, if it names one. */
function directPeerOf(frame: Extract<ServerFrame, { type: 'messageAccepted' }>): string | undefined {
  const directChat: unknown = frame.directChat;
  if (typeof directChat !== 'object' || directChat === null) return undefined;
  const peerId: unknown = Reflect.get(directChat, 'peerId');
  return typeof peerId === 'string' && peerId.length > 0 ? peerId : undefined;
}

function checkedSeq(seq: number): number {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError('seq must be a positive integer');
  return seq;
}

function closedError(): ParleyClientError {
  return new ParleyClientError('closed', 'The client was closed');
}
