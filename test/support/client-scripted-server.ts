/**
 * The client SDK's unit tests play the server by hand: a fake WebSocket whose incoming frames the
 * test writes and whose outgoing frames it reads, and messages of one conversation between `me` and
 * `other`.
 */
import { MemoryStore, type Message, type ParleyClientOptions, type WebSocketLike } from '../../client/index';

export const me = 'u-me';
export const other = 'u-other';
export const conversationId = 'c1';
/** An unsigned token the client only reads its `sub` from. */
export const token = `e30.${Buffer.from(JSON.stringify({ sub: me })).toString('base64url')}.sig`;

export type Frame = Record<string, unknown>;

export class FakeSocket implements WebSocketLike {
  readyState = 0;
  readonly sent: Frame[] = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(readonly url: string) {}

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(code = 1000): void {
    if (this.readyState >= 2) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code, reason: '' }));
  }

  // What the test plays as the server.
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(frame: Frame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The network goes away without a close frame. */
  drop(): void {
    this.readyState = 3;
    this.onclose?.({ code: 1006, reason: '' });
  }

  framesOf(action: string): Frame[] {
    return this.sent.filter((frame) => frame.action === action);
  }

  /** Frames other than the sync, pings and acks the client sends by itself. */
  requests(): Frame[] {
    return this.sent.filter((frame) => !['sync', 'ack', 'ping', 'read'].includes(String(frame.action)));
  }
}

/** The `createdAt` of the message at `seq`. */
export const at = (seq: number) => new Date(1_700_000_000_000 + seq * 1000).toISOString();

/** A text message from `other` at `seq` in `conversationId`, with `extra` on top. */
export function message(seq: number, extra: Partial<Message> = {}): Message {
  return {
    id: `${conversationId}-${seq}`,
    conversationId,
    seq,
    senderId: other,
    type: 'text',
    text: `m${seq}`,
    createdAt: at(seq),
    ...extra,
  };
}

/** A client of the scripted server: every socket it opens lands in `sockets`, HTTP goes to `fetch`; short timers. */
export function scriptedClientOptions(sockets: FakeSocket[], fetch: ParleyClientOptions['fetch']): ParleyClientOptions {
  return {
    httpUrl: 'http://api.test',
    wsUrl: 'ws://ws.test/prod',
    tokenProvider: async () => token,
    deviceId: 'device-1',
    storage: new MemoryStore(),
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    },
    ...(fetch ? { fetch } : {}),
    backoff: { initialMs: 1, maxMs: 5 },
    gapFillDelayMs: 5,
    ackDelayMs: 1,
  };
}
