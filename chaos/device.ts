/**
 * One chaos device: the real client SDK over a `ws` socket that counts every `message` frame before the
 * SDK dedupes it, plus what the SDK emitted, so duplicates and order are measured on both sides.
 */
import WebSocket from 'ws';
import {
  MemoryStore,
  type Message,
  ParleyApiError,
  ParleyClient,
  ParleyClientError,
  ParleyServerError,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../client/index';

export interface DeviceEndpoints {
  readonly httpUrl: string;
  readonly wsUrl: string;
}

export const messageKey = (conversationId: string, seq: number): string => `${conversationId}#${seq}`;

export class ChaosDevice {
  readonly client: ParleyClient;
  /** `message` frames received per conversation#seq (live pushes and sync replays), before dedupe. */
  readonly frames = new Map<string, number>();
  /**
   * Frames for a message not received before whose seq is below one already received in its
   * conversation: the wire's disorder, which the SDK must put right (informational).
   */
  readonly wire = { outOfOrder: 0, highestSeq: new Map<string, number>() };
  /** `message` events the SDK emitted per conversation#seq: more than one is a visible duplicate. */
  readonly emitted = new Map<string, number>();
  /** Emitted events whose seq was not above the previous one in their conversation. */
  outOfOrderEvents = 0;
  /** Errors the SDK reported, by kind and code (informational: faults cause many). */
  readonly errors = new Map<string, number>();
  /** When the SDK last reported `connected` (after its sync), for diagnosing leftovers. */
  lastConnectedAt = 0;
  /** Every socket this device opened: when it opened and, once it did, when it closed (explains gap fills). */
  readonly sockets: SocketSpan[] = [];
  private readonly lastEmitted = new Map<string, number>();

  constructor(
    readonly userId: string,
    readonly deviceId: string,
    token: string,
    endpoints: DeviceEndpoints,
  ) {
    this.client = new ParleyClient({
      httpUrl: endpoints.httpUrl,
      wsUrl: endpoints.wsUrl,
      tokenProvider: async () => token,
      deviceId,
      storage: new MemoryStore(),
      WebSocket: countingWebSocket(this.frames, this.wire, this.sockets),
      // Quicker reconnects than an app's defaults: faults come every few hundred milliseconds here.
      backoff: { initialMs: 100, maxMs: 2_000 },
      gapFillDelayMs: 1_000,
    });
    this.client.on('message', (message) => this.onMessage(message));
    this.client.on('connection', (state) => {
      if (state === 'connected') this.lastConnectedAt = Date.now();
    });
    this.client.on('error', (error) => {
      const key = errorKey(error);
      this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
    });
  }

  /** Raw frames seen so far for one message. */
  framesOf(conversationId: string, seq: number): number {
    return this.frames.get(messageKey(conversationId, seq)) ?? 0;
  }

  private onMessage(message: Message): void {
    const key = messageKey(message.conversationId, message.seq);
    this.emitted.set(key, (this.emitted.get(key) ?? 0) + 1);
    const last = this.lastEmitted.get(message.conversationId) ?? 0;
    if (message.seq <= last) this.outOfOrderEvents += 1;
    this.lastEmitted.set(message.conversationId, Math.max(last, message.seq));
  }
}

function errorKey(error: Error): string {
  if (error instanceof ParleyClientError || error instanceof ParleyServerError || error instanceof ParleyApiError) {
    return `${error.name}:${error.code}`;
  }
  return error.name;
}

/** `ws`'s WebSocket, counting incoming `message` frames by conversation#seq on the way to the SDK. */
export interface SocketSpan {
  openedAt?: number;
  closedAt?: number;
}

function countingWebSocket(
  frames: Map<string, number>,
  wire: ChaosDevice['wire'],
  sockets: SocketSpan[],
): WebSocketConstructor {
  return class CountingWebSocket implements WebSocketLike {
    private readonly inner: WebSocket;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;

    constructor(url: string) {
      this.inner = new WebSocket(url);
      const span: SocketSpan = {};
      sockets.push(span);
      this.inner.onopen = (event) => {
        span.openedAt = Date.now();
        this.onopen?.(event);
      };
      this.inner.onmessage = (event) => {
        count(frames, wire, event.data);
        this.onmessage?.(event);
      };
      this.inner.onclose = (event) => {
        span.closedAt = Date.now();
        this.onclose?.(event);
      };
      this.inner.onerror = (event) => this.onerror?.(event);
    }

    get readyState(): number {
      return this.inner.readyState;
    }

    send(data: string): void {
      this.inner.send(data);
    }

    close(code?: number, reason?: string): void {
      this.inner.close(code, reason);
    }
  };
}

function count(frames: Map<string, number>, wire: ChaosDevice['wire'], data: unknown): void {
  // Only message frames matter (`message`, and a sync's `messages` pages); the cheap test spares
  // parsing every ack, receipt and answer twice.
  if (typeof data !== 'string' || !(data.includes('"type":"message"') || data.includes('"type":"messages"'))) return;
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    // Not JSON: the SDK reports it; nothing to count.
    return;
  }
  if (typeof frame !== 'object' || frame === null) return;
  const type: unknown = Reflect.get(frame, 'type');
  const carried: unknown[] =
    type === 'message'
      ? [Reflect.get(frame, 'message')]
      : type === 'messages'
        ? toArray(Reflect.get(frame, 'messages'))
        : [];
  for (const message of carried) countMessage(frames, wire, message);
}

const toArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function countMessage(frames: Map<string, number>, wire: ChaosDevice['wire'], message: unknown): void {
  if (typeof message !== 'object' || message === null) return;
  const conversationId: unknown = Reflect.get(message, 'conversationId');
  const seq: unknown = Reflect.get(message, 'seq');
  if (typeof conversationId !== 'string' || typeof seq !== 'number') return;
  const key = messageKey(conversationId, seq);
  const before = frames.get(key) ?? 0;
  frames.set(key, before + 1);
  const highest = wire.highestSeq.get(conversationId) ?? 0;
  if (before === 0 && seq < highest) wire.outOfOrder += 1;
  wire.highestSeq.set(conversationId, Math.max(highest, seq));
}
