/**
 * The Parley client: one WebSocket per device that reconnects by itself, syncs after every
 * connect, keeps each conversation in seq order (filling gaps from history), acks what it has,
 * and sends each message exactly once however often the connection drops (docs/protocol.md).
 */
import type { Message } from '#shared/model';
import type { ServerFrame } from '#shared/protocol/frames';
import { defaultStore, resolveDeviceId, subjectOf } from './device';
import { ParleyApiError, ParleyClientError, ParleyServerError } from './errors';
import { createApi, HttpCaller } from './http';
import { Timeline } from './timeline';
import type {
  AttachmentView,
  ConnectionState,
  ConnectTicket,
  MessageContent,
  ParleyApi,
  ParleyClientOptions,
  ParleyEvents,
  UploadOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './types';
import { uploadAttachment } from './upload';

const defaults = {
  keepAliveMs: 5 * 60_000,
  maxConnectionMs: 110 * 60_000,
  backoff: { initialMs: 500, maxMs: 30_000 },
  gapFillDelayMs: 1500,
  ackDelayMs: 100,
  responseTimeoutMs: 30_000,
} as const;

/** WebSocket.OPEN and WebSocket.CLOSING, identical in browsers and `ws`. */
const OPEN = 1;
const CLOSING = 2;
/** Error codes after which the same frame may succeed later; a send keeps its clientMessageId. */
const retryableCodes: ReadonlySet<string> = new Set(['conflict', 'internal', 'rate_limited']);
const historyPageSize = 100;
/** History fetches that make no progress before the missing seqs are given up. */
const maxFillAttempts = 8;
/** Conversation list pages read after a reconnect to spot conversations that moved on unseen. */
const maxCatchUpPages = 5;
const emptyMessages: readonly Message[] = Object.freeze([]);

interface PendingSend {
  readonly clientMessageId: string;
  readonly conversationId: string;
  readonly frame: Record<string, unknown>;
  readonly resolve: (message: Message) => void;
  readonly reject: (error: Error) => void;
  /** Connection generation the frame is in flight on; undefined while it waits to be (re)sent. */
  sentOn: number | undefined;
  attempts: number;
  /** While set the send waits: for its answer (in flight) or for a retry delay. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ParleyClient {
  readonly deviceId: string;
  readonly api: ParleyApi;

  private readonly options: ParleyClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly fetchImpl: typeof fetch;
  private readonly http: HttpCaller;
  private readonly keepAliveMs: number;
  private readonly maxConnectionMs: number;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly gapFillDelayMs: number;
  private readonly ackDelayMs: number;
  private readonly responseTimeoutMs: number;

  private currentState: ConnectionState = 'idle';
  private knownUserId: string | undefined;
  private readonly listeners: { [E in keyof ParleyEvents]: Set<ParleyEvents[E]> } = {
    message: new Set(),
    receipt: new Set(),
    membership: new Set(),
    connection: new Set(),
    error: new Set(),
  };
  private readonly timelines = new Map<string, Timeline>();

  private socket: WebSocketLike | undefined;
  /** Bumped for every connection attempt; sends remember the one they went out on. */
  private generation = 0;
  private everConnected = false;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  private recycleTimer: ReturnType<typeof setTimeout> | undefined;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  private connectWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  private readonly sendQueues = new Map<string, PendingSend[]>();
  private readonly pendingReads = new Map<string, number>();
  private readonly confirmedReads = new Map<string, number>();
  private readInFlight: { conversationId: string; upToSeq: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private readRetryTimer: ReturnType<typeof setTimeout> | undefined;
  private readAttempts = 0;
  private readonly ackWanted = new Map<string, number>();
  private ackedOnConnection = new Map<string, number>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ParleyClientOptions) {
    this.options = options;
    this.deviceId = resolveDeviceId(options.deviceId, options.storage ?? defaultStore());
    const WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
    if (WebSocketImpl === undefined) {
      throw new TypeError('No WebSocket implementation: pass options.WebSocket (in Node, `ws`’s WebSocket)');
    }
    this.WebSocketImpl = WebSocketImpl;
    const givenFetch = options.fetch ?? globalThis.fetch;
    // Browsers refuse fetch called with another `this`, so never call it as a method of the options.
    this.fetchImpl = (input, init) => givenFetch(input, init);
    this.keepAliveMs = options.keepAliveMs ?? defaults.keepAliveMs;
    this.maxConnectionMs = options.maxConnectionMs ?? defaults.maxConnectionMs;
    this.backoff = options.backoff ?? defaults.backoff;
    this.gapFillDelayMs = options.gapFillDelayMs ?? defaults.gapFillDelayMs;
    this.ackDelayMs = options.ackDelayMs ?? defaults.ackDelayMs;
    this.responseTimeoutMs = options.responseTimeoutMs ?? defaults.responseTimeoutMs;
    this.http = new HttpCaller({ baseUrl: options.httpUrl, token: () => this.token(), fetch: this.fetchImpl });
    this.api = createApi(this.http, () => this.me());
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The token's `sub`, once a token has been fetched. */
  get userId(): string | undefined {
    return this.knownUserId;
  }

  /** Resolves once connected and the first sync completed; keeps retrying until then. Rejects only on `close()`. */
  connect(): Promise<void> {
    if (this.isClosed()) return Promise.reject(closedError());
    if (this.currentState === 'connected') return Promise.resolve();
    const connected = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === 'idle') void this.open();
    return connected;
  }

  /** Stops for good: pending sends reject with a `closed` ParleyClientError, and nothing reconnects. */
  async close(): Promise<void> {
    if (this.isClosed()) return;
    this.flushAcks();
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.ackTimer);
    clearTimeout(this.readRetryTimer);
    for (const timeline of this.timelines.values()) {
      clearTimeout(timeline.fillTimer);
      clearTimeout(timeline.settleTimer);
    }
    const error = closedError();
    for (const queue of this.sendQueues.values()) {
      for (const pending of queue) {
        clearTimeout(pending.timer);
        pending.reject(error);
      }
    }
    this.sendQueues.clear();
    for (const waiter of this.connectWaiters.splice(0)) waiter.reject(error);
    const socket = this.socket;
    this.teardown();
    if (socket !== undefined) await closed(socket);
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
    const clientMessageId = crypto.randomUUID();
    const frame: Record<string, unknown> = {
      action: 'sendMessage',
      conversationId,
      clientMessageId,
      ...(content.text === undefined ? {} : { text: content.text }),
      ...(content.attachmentIds === undefined ? {} : { attachmentIds: content.attachmentIds }),
    };
    const accepted = new Promise<Message>((resolve, reject) => {
      if (this.isClosed()) {
        reject(closedError());
        return;
      }
      const queue = this.sendQueues.get(conversationId) ?? [];
      queue.push({
        clientMessageId,
        conversationId,
        frame,
        resolve,
        reject,
        sentOn: undefined,
        attempts: 0,
        timer: undefined,
      });
      this.sendQueues.set(conversationId, queue);
    });
    // Marks the promise handled, so an app that ignores it gets an `error` event rather than an unhandled rejection.
    accepted.catch(() => undefined);
    this.pumpSends();
    return { clientMessageId, accepted };
  }

  /** Marks the conversation read up to `upToSeq`; queued while offline, coalesced to the highest seq. */
  markRead(conversationId: string, upToSeq: number): void {
    if (!Number.isSafeInteger(upToSeq) || upToSeq < 0) throw new RangeError('upToSeq must be a non-negative integer');
    if (this.isClosed()) return;
    const known = Math.max(this.pendingReads.get(conversationId) ?? 0, this.confirmedReads.get(conversationId) ?? 0);
    if (upToSeq <= known) return;
    this.pendingReads.set(conversationId, upToSeq);
    this.pumpReads();
  }

  /** What this client has of the conversation, in seq order; the same array until it changes. */
  messages(conversationId: string): readonly Message[] {
    return this.timelines.get(conversationId)?.messages() ?? emptyMessages;
  }

  /**
   * Loads the page before the oldest message cached (the newest page when none is) into the
   * cache and answers it, ascending. These are not emitted as `message` events.
   */
  loadOlder(conversationId: string, limit = 50): Promise<{ messages: Message[]; hasMore: boolean }> {
    const timeline = this.timelineOf(conversationId);
    const run = timeline.olderChain.then(() => this.loadOlderNow(timeline, limit));
    timeline.olderChain = run.catch(() => undefined);
    return run;
  }

  /** Presigns, PUTs the bytes (and a video's poster) with progress, then waits until processing made it ready. */
  upload(conversationId: string, file: Blob | Uint8Array, options: UploadOptions): Promise<AttachmentView> {
    return uploadAttachment(this.http, this.api, this.fetchImpl, conversationId, file, options);
  }

  // Connection lifecycle.

  private async open(): Promise<void> {
    this.setState('connecting');
    const generation = ++this.generation;
    let ticket: string;
    try {
      // URLs end up in logs and histories: the handshake carries a single-use ticket, never the JWT.
      ({ ticket } = await this.http.request<ConnectTicket>('POST', '/connect-ticket'));
    } catch (error) {
      if (generation !== this.generation || this.isClosed()) return;
      this.emitError(new ParleyClientError('connection_failed', 'Could not get a connect ticket', error));
      this.setState('offline');
      this.scheduleReconnect();
      return;
    }
    if (generation !== this.generation || this.isClosed()) return;
    const url = new URL(this.options.wsUrl);
    url.searchParams.set('ticket', ticket);
    url.searchParams.set('deviceId', this.deviceId);
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(url.toString());
    } catch (error) {
      this.emitError(new ParleyClientError('connection_failed', 'Could not open the WebSocket', error));
      this.setState('offline');
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    // A handshake that neither opens nor fails must not leave the client connecting forever.
    this.armWatchdog();
    let opened = false;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      opened = true;
      this.onOpen();
    };
    socket.onmessage = (event: { data: unknown }) => {
      if (this.socket === socket) this.onFrame(event.data);
    };
    // A close event always follows an error; `ws` also needs a listener so it does not throw.
    socket.onerror = () => undefined;
    socket.onclose = (event: { code?: number; reason?: string }) => {
      if (this.socket !== socket) return;
      this.teardown();
      if (this.isClosed()) return;
      if (!opened) {
        const detail = event.code === undefined ? '' : ` (close code ${event.code})`;
        this.emitError(new ParleyClientError('connection_failed', `The WebSocket connection failed${detail}`));
      }
      this.setState('offline');
      this.scheduleReconnect();
    };
  }

  private onOpen(): void {
    this.disarmWatchdog();
    this.setState('syncing');
    this.ackedOnConnection = new Map();
    this.keepAliveTimer = setInterval(() => {
      if (this.write({ action: 'ping' })) this.armWatchdog();
    }, this.keepAliveMs);
    // Reconnect on our terms before API Gateway cuts the connection at 2 hours.
    this.recycleTimer = setTimeout(() => {
      this.teardown();
      if (!this.isClosed()) void this.open();
    }, this.maxConnectionMs);
    this.requestSync();
  }

  private requestSync(cursor?: string): void {
    if (this.write(cursor === undefined ? { action: 'sync' } : { action: 'sync', cursor })) this.armWatchdog();
  }

  /** Forgets the current socket and everything tied to it; closes it if still open. */
  private teardown(): void {
    const socket = this.socket;
    this.socket = undefined;
    clearInterval(this.keepAliveTimer);
    clearTimeout(this.recycleTimer);
    this.disarmWatchdog();
    if (this.readInFlight !== undefined) {
      clearTimeout(this.readInFlight.timer);
      this.readInFlight = undefined;
    }
    for (const queue of this.sendQueues.values()) {
      const head = queue[0];
      if (head?.sentOn !== undefined) {
        clearTimeout(head.timer);
        head.timer = undefined;
        head.sentOn = undefined;
      }
    }
    if (socket !== undefined && socket.readyState < CLOSING) {
      try {
        socket.close(1000);
      } catch {
        // Already going away.
      }
    }
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.isClosed()) return;
    const delay = this.backoffDelay(this.reconnectAttempt++);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.open();
    }, delay);
  }

  private backoffDelay(attempt: number): number {
    const ceiling = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(attempt, 30));
    return Math.random() * ceiling;
  }

  /** No answer for responseTimeoutMs while one is owed (handshake, sync, ping): the socket is presumed dead. */
  private armWatchdog(): void {
    if (this.watchdogTimer !== undefined) return;
    this.watchdogTimer = setTimeout(() => {
      this.watchdogTimer = undefined;
      if (this.socket === undefined || this.isClosed()) return;
      this.emitError(new ParleyClientError('connection_failed', 'No answer from the server; reconnecting'));
      this.replaceConnection();
    }, this.responseTimeoutMs);
  }

  private disarmWatchdog(): void {
    clearTimeout(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private replaceConnection(): void {
    this.teardown();
    if (this.isClosed()) return;
    this.setState('offline');
    this.scheduleReconnect();
  }

  private write(frame: Record<string, unknown>): boolean {
    const socket = this.socket;
    if (socket === undefined || socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** A method, so TypeScript does not carry a narrowed state across an await. */
  private isClosed(): boolean {
    return this.currentState === 'closed';
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.emit('connection', state);
  }

  // Frames.

  private onFrame(data: unknown): void {
    this.disarmWatchdog();
    if (this.currentState === 'syncing') this.armWatchdog();
    const frame = parseFrame(data);
    if (frame === undefined) {
      this.emitError(new ParleyClientError('bad_frame', 'Ignored a frame that is not a Parley server frame'));
      return;
    }
    switch (frame.type) {
      case 'message':
        if (isMessage(frame.message)) this.onMessage(frame.message);
        return;
      case 'messageAccepted':
        if (isMessage(frame.message)) this.onAccepted(frame.clientMessageId, frame.message);
        return;
      case 'syncComplete':
        this.onSyncComplete(frame.cursor);
        return;
      case 'readAcked':
        this.onReadAcked(frame.conversationId, frame.upToSeq);
        return;
      case 'receipt':
        this.emit('receipt', {
          conversationId: frame.conversationId,
          userId: frame.userId,
          kind: frame.kind,
          upToSeq: frame.upToSeq,
          at: frame.at,
        });
        return;
      case 'error':
        this.onErrorFrame(frame);
        return;
      default:
        // pong, acked, and frame types added later need nothing.
        return;
    }
  }

  private onMessage(message: Message): void {
    const timeline = this.timelineOf(message.conversationId);
    // A redelivery of what this device holds means the server may have parked a copy: ack it again.
    if (timeline.contiguous !== undefined && message.seq <= timeline.contiguous) {
      this.ackedOnConnection.delete(message.conversationId);
    }
    this.deliver(timeline, timeline.accept(message, this.currentState === 'connected'));
  }

  private onSyncComplete(cursor: string | undefined): void {
    if (this.currentState !== 'syncing') return;
    // The protocol asks for acks of what was replayed before the next page.
    this.flushAcks();
    if (cursor !== undefined) {
      this.requestSync(cursor);
      return;
    }
    this.disarmWatchdog();
    for (const timeline of this.timelines.values()) this.deliver(timeline, timeline.settleBaseline());
    const reconnected = this.everConnected;
    this.everConnected = true;
    this.reconnectAttempt = 0;
    this.setState('connected');
    for (const waiter of this.connectWaiters.splice(0)) waiter.resolve();
    this.flushAcks();
    this.pumpSends();
    this.pumpReads();
    if (reconnected) void this.catchUp();
  }

  private onErrorFrame(frame: Extract<ServerFrame, { type: 'error' }>): void {
    const error = new ParleyServerError(frame.code, frame.message, {
      ...(frame.action === undefined ? {} : { action: frame.action }),
      ...(frame.clientMessageId === undefined ? {} : { clientMessageId: frame.clientMessageId }),
      ...(frame.details === undefined ? {} : { details: { ...frame.details } }),
    });
    const retryable = retryableCodes.has(frame.code);
    if (frame.clientMessageId !== undefined) {
      const pending = this.findSend(frame.clientMessageId);
      if (pending === undefined) return; // An answer to a retry of a send already settled.
      clearTimeout(pending.timer);
      pending.timer = undefined;
      pending.sentOn = undefined;
      if (retryable) {
        pending.timer = setTimeout(() => {
          pending.timer = undefined;
          this.pumpSends();
        }, this.backoffDelay(pending.attempts));
        return;
      }
      this.removeSend(pending);
      pending.reject(error);
      this.emitError(error);
      this.pumpSends();
      return;
    }
    if (frame.action === 'read' && this.readInFlight !== undefined) {
      const { conversationId, upToSeq, timer } = this.readInFlight;
      clearTimeout(timer);
      this.readInFlight = undefined;
      if (retryable) {
        this.readRetryTimer = setTimeout(
          () => {
            this.readRetryTimer = undefined;
            this.pumpReads();
          },
          this.backoffDelay(this.readAttempts++),
        );
        return;
      }
      if ((this.pendingReads.get(conversationId) ?? 0) <= upToSeq) this.pendingReads.delete(conversationId);
      this.emitError(error);
      this.pumpReads();
      return;
    }
    this.emitError(error);
    if (frame.action === 'sync' && this.currentState === 'syncing') this.replaceConnection();
  }

  // Ordering, emission, acks and gap filling.

  private timelineOf(conversationId: string): Timeline {
    let timeline = this.timelines.get(conversationId);
    if (timeline === undefined) {
      timeline = new Timeline(conversationId);
      this.timelines.set(conversationId, timeline);
    }
    return timeline;
  }

  /** Emits what became due, acks what the timeline holds, and arranges a fill if a seq is missing. */
  private deliver(timeline: Timeline, due: readonly Message[]): void {
    for (const message of due) {
      this.emit('message', message);
      if (message.type === 'system') this.emit('membership', message);
    }
    this.scheduleAck(timeline);
    if (timeline.hasGap) this.scheduleFill(timeline, this.gapFillDelayMs);
  }

  private scheduleAck(timeline: Timeline): void {
    const upToSeq = timeline.contiguous ?? 0;
    if (upToSeq < 1) return;
    this.ackWanted.set(timeline.conversationId, upToSeq);
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      this.flushAcks();
    }, this.ackDelayMs);
  }

  /** Sends one ack per conversation for the highest contiguous seq not yet acked on this connection. */
  private flushAcks(): void {
    if (this.socket === undefined || this.socket.readyState !== OPEN) return;
    for (const [conversationId, upToSeq] of this.ackWanted) {
      if (upToSeq > (this.ackedOnConnection.get(conversationId) ?? 0)) {
        if (!this.write({ action: 'ack', conversationId, upToSeq })) return;
        this.ackedOnConnection.set(conversationId, upToSeq);
      }
      this.ackWanted.delete(conversationId);
    }
  }

  private scheduleFill(timeline: Timeline, delayMs: number): void {
    if (timeline.fillTimer !== undefined || timeline.filling || this.isClosed()) return;
    timeline.fillTimer = setTimeout(() => {
      timeline.fillTimer = undefined;
      void this.fill(timeline);
    }, delayMs);
  }

  /**
   * Fetches history after the last contiguous seq until the gap closes. A page that brings nothing
   * new counts toward giving up on the missing seqs; a failed request (offline, a fault) is retried
   * with backoff for as long as the client lives; a 404 (no longer a member) gives up at once.
   */
  private async fill(timeline: Timeline): Promise<void> {
    if (this.isClosed() || !timeline.hasGap) {
      timeline.fillAttempts = 0;
      return;
    }
    timeline.filling = true;
    const after = timeline.contiguous ?? 0;
    let outcome: 'progress' | 'stuck' | 'failed' | 'unreachable' = 'stuck';
    let failure: unknown;
    try {
      const page = await this.api.history(timeline.conversationId, { after, limit: historyPageSize });
      if (this.isClosed()) return;
      this.deliver(timeline, timeline.applyForward(after, page.messages));
      if ((timeline.contiguous ?? 0) > after) outcome = 'progress';
    } catch (error) {
      failure = error;
      outcome = error instanceof ParleyApiError && error.status === 404 ? 'unreachable' : 'failed';
    } finally {
      timeline.filling = false;
    }
    if (this.isClosed()) return;
    if (outcome !== 'failed') timeline.fillFailures = 0;
    if (!timeline.hasGap) {
      timeline.fillAttempts = 0;
      return;
    }
    switch (outcome) {
      case 'progress':
        timeline.fillAttempts = 0;
        this.scheduleFill(timeline, 0);
        return;
      case 'failed':
        if (timeline.fillFailures++ === 0) {
          this.emitError(
            new ParleyClientError(
              'connection_failed',
              `Could not fetch history of ${timeline.conversationId}`,
              failure,
            ),
          );
        }
        this.scheduleFill(timeline, this.backoffDelay(timeline.fillFailures));
        return;
      case 'stuck':
        if (++timeline.fillAttempts < maxFillAttempts) {
          this.scheduleFill(timeline, this.backoffDelay(timeline.fillAttempts));
          return;
        }
        break;
      case 'unreachable':
        break;
    }
    timeline.fillAttempts = 0;
    this.emitError(
      new ParleyClientError(
        'gap_unfilled',
        `Conversation ${timeline.conversationId}: history could not supply the seqs after ${after}; skipped them`,
        failure,
      ),
    );
    this.deliver(timeline, timeline.skipGap());
  }

  /** After a reconnect, asks which conversations moved past what this client has: a lost last push shows no gap. */
  private async catchUp(): Promise<void> {
    const tracked = new Set(
      [...this.timelines.values()].filter((timeline) => timeline.contiguous !== undefined).map((t) => t.conversationId),
    );
    let cursor: string | undefined;
    try {
      for (let page = 0; tracked.size > 0 && page < maxCatchUpPages; page++) {
        const listing = await this.api.listConversations({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
        if (this.isClosed()) return;
        for (const summary of listing.conversations) {
          if (!tracked.delete(summary.id)) continue;
          const timeline = this.timelines.get(summary.id);
          if (timeline === undefined || summary.lastSeq <= timeline.highestSeen) continue;
          timeline.fillTarget = Math.max(timeline.fillTarget, summary.lastSeq);
          this.scheduleFill(timeline, this.gapFillDelayMs);
        }
        if (listing.cursor === undefined) return;
        cursor = listing.cursor;
      }
    } catch (error) {
      this.emitError(
        new ParleyClientError('connection_failed', 'Could not check conversations after reconnecting', error),
      );
    }
  }

  private async loadOlderNow(timeline: Timeline, limit: number): Promise<{ messages: Message[]; hasMore: boolean }> {
    const before = timeline.floor;
    if (timeline.olderExhausted || (before !== undefined && before <= 1)) return { messages: [], hasMore: false };
    const page = await this.api.history(timeline.conversationId, before === undefined ? { limit } : { before, limit });
    const { older, due } = timeline.addOlder(page.messages);
    if (page.cursor === undefined) timeline.olderExhausted = true;
    this.deliver(timeline, due);
    return { messages: older, hasMore: page.cursor !== undefined };
  }

  // Sends and reads.

  private pumpSends(): void {
    if (this.currentState !== 'connected') return;
    for (const queue of this.sendQueues.values()) {
      const head = queue[0];
      // One send in flight per conversation keeps this device's messages in the order they were sent.
      if (head === undefined || head.timer !== undefined || head.sentOn === this.generation) continue;
      if (!this.write(head.frame)) return;
      head.sentOn = this.generation;
      head.attempts++;
      head.timer = setTimeout(() => {
        // No answer: send again with the same id; the server answers the original if it had it.
        head.timer = undefined;
        head.sentOn = undefined;
        this.pumpSends();
      }, this.responseTimeoutMs);
    }
  }

  private onAccepted(clientMessageId: string, message: Message): void {
    const pending = this.findSend(clientMessageId);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.removeSend(pending);
      pending.resolve(message);
    }
    // The server never pushes a device its own send: the answer is how it enters the timeline.
    this.onOwnMessage(message);
    this.pumpSends();
  }

  /**
   * An answer can overtake pushes of earlier seqs (fan-out runs after the send answers), so a
   * conversation's first own message waits gapFillDelayMs for them before it becomes the baseline.
   */
  private onOwnMessage(message: Message): void {
    const timeline = this.timelineOf(message.conversationId);
    if (timeline.contiguous !== undefined) {
      this.deliver(timeline, timeline.accept(message, true));
      return;
    }
    timeline.accept(message, false);
    timeline.settleTimer ??= setTimeout(() => {
      timeline.settleTimer = undefined;
      // A sync in progress settles every conversation when it completes.
      if (this.currentState !== 'syncing') this.deliver(timeline, timeline.settleBaseline());
    }, this.gapFillDelayMs);
  }

  private findSend(clientMessageId: string): PendingSend | undefined {
    for (const queue of this.sendQueues.values()) {
      const pending = queue.find((candidate) => candidate.clientMessageId === clientMessageId);
      if (pending !== undefined) return pending;
    }
    return undefined;
  }

  private removeSend(pending: PendingSend): void {
    const queue = this.sendQueues.get(pending.conversationId);
    if (queue === undefined) return;
    const index = queue.indexOf(pending);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.sendQueues.delete(pending.conversationId);
  }

  /** Reads go one at a time: an error frame for a read names no conversation, so only one may be open. */
  private pumpReads(): void {
    if (this.currentState !== 'connected' || this.readInFlight !== undefined || this.readRetryTimer !== undefined) {
      return;
    }
    const next = this.pendingReads.entries().next();
    if (next.done === true) return;
    const [conversationId, upToSeq] = next.value;
    if (!this.write({ action: 'read', conversationId, upToSeq })) return;
    const timer = setTimeout(() => {
      this.readInFlight = undefined;
      this.pumpReads();
    }, this.responseTimeoutMs);
    this.readInFlight = { conversationId, upToSeq, timer };
  }

  private onReadAcked(conversationId: string, upToSeq: number): void {
    this.confirmedReads.set(conversationId, Math.max(upToSeq, this.confirmedReads.get(conversationId) ?? 0));
    if ((this.pendingReads.get(conversationId) ?? 0) <= upToSeq) this.pendingReads.delete(conversationId);
    if (this.readInFlight?.conversationId === conversationId) {
      clearTimeout(this.readInFlight.timer);
      this.readInFlight = undefined;
      this.readAttempts = 0;
    }
    this.pumpReads();
  }

  // Tokens and events.

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

function closedError(): ParleyClientError {
  return new ParleyClientError('closed', 'The client was closed');
}

/** Resolves once the socket reports closed, or after a second (a dead peer never answers the close). */
function closed(socket: WebSocketLike): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 1000);
    socket.onclose = () => {
      clearTimeout(timer);
      resolve();
    };
    if (socket.readyState === 3) {
      clearTimeout(timer);
      resolve();
    }
  });
}

function parseFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || typeof Reflect.get(value, 'type') !== 'string') return undefined;
  // Fields the SDK reads are checked where it reads them (messages by isMessage).
  return value as ServerFrame;
}

function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const { conversationId, seq, id, type } = value as Record<string, unknown>;
  return (
    typeof conversationId === 'string' &&
    typeof id === 'string' &&
    typeof type === 'string' &&
    typeof seq === 'number' &&
    Number.isSafeInteger(seq)
  );
}
