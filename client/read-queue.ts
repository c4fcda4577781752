/**
 * Read marks: coalesced to the highest seq per conversation and queued while offline. The server
 * answers a read only when it refuses it (the refusal names its conversation), so reads go out at
 * once, many at a time. A read written on a socket that drops goes again on the next one, unless
 * an answer to a later frame on that socket (a send's, a pong) showed that it reached the server.
 */
import type { Connection } from './connection';

export interface ReadQueueSettings {
  readonly connection: Pick<Connection, 'state' | 'write' | 'backoffDelay' | 'writeCount'>;
  readonly onError: (error: Error) => void;
  /** A read went out on the connection: it acknowledges delivery up to its seq too. */
  readonly written?: (conversationId: string, upToSeq: number) => void;
}

/** A read on the current socket, by the count of frames written when it went. */
interface WrittenRead {
  readonly upToSeq: number;
  readonly writeIndex: number;
}

export class ReadQueue {
  /** To write: the highest seq per conversation. */
  private readonly pending = new Map<string, number>();
  /** Written on the current socket, not yet known to have reached the server. */
  private readonly unsettled = new Map<string, WrittenRead>();
  /** Known to be read this far: it reached the server, or the user read it on another device. */
  private readonly settled = new Map<string, number>();
  /** The highest seq ever written per conversation: what a refusal that comes late sends again. */
  private readonly lastWritten = new Map<string, number>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempts = 0;

  constructor(private readonly settings: ReadQueueSettings) {}

  mark(conversationId: string, upToSeq: number): void {
    if (upToSeq <= this.known(conversationId)) return;
    this.pending.set(conversationId, upToSeq);
    this.pump();
  }

  /** Writes every pending read; the server answers none of them unless it refuses one. */
  pump(): void {
    const { connection } = this.settings;
    if (connection.state !== 'connected' || this.retryTimer !== undefined) return;
    for (const [conversationId, upToSeq] of this.pending) {
      if (!connection.write({ action: 'read', conversationId, upToSeq })) return;
      this.pending.delete(conversationId);
      this.unsettled.set(conversationId, { upToSeq, writeIndex: connection.writeCount });
      this.lastWritten.set(conversationId, Math.max(upToSeq, this.lastWritten.get(conversationId) ?? 0));
      this.settings.written?.(conversationId, upToSeq);
    }
  }

  /**
   * The server answered the frame of write `writeIndex`: frames arrive in order, so every read
   * written before it reached the server, and one that fails there is refused by name.
   */
  settleThrough(writeIndex: number): void {
    for (const [conversationId, read] of this.unsettled) {
      if (read.writeIndex >= writeIndex) continue;
      this.unsettled.delete(conversationId);
      this.settle(conversationId, read.upToSeq);
      this.attempts = 0;
    }
  }

  /**
   * The user's read from another device (its `receipt`): nothing up to it needs sending from here,
   * where it would be a billed frame and an invocation that moves no mark. Acks still go: this
   * device's inbox is its own.
   */
  readElsewhere(conversationId: string, upToSeq: number): void {
    this.settle(conversationId, upToSeq);
    if ((this.pending.get(conversationId) ?? 0) <= upToSeq) this.pending.delete(conversationId);
    if ((this.unsettled.get(conversationId)?.upToSeq ?? 0) <= upToSeq) this.unsettled.delete(conversationId);
  }

  /**
   * The server refused this conversation's read: a retryable refusal sends the highest read written
   * there again after a backoff, any other drops it. False when no read went there, so the error is
   * someone else's.
   */
  refuse(conversationId: string, error: Error, retryable: boolean): boolean {
    const written = this.lastWritten.get(conversationId);
    if (written === undefined) return false;
    this.unsettled.delete(conversationId);
    if (retryable) {
      this.pending.set(conversationId, Math.max(written, this.pending.get(conversationId) ?? 0));
      this.retryLater();
      return true;
    }
    this.settings.onError(error);
    return true;
  }

  /** API Gateway failed a frame without saying which: every unsettled read goes again after a backoff. */
  retryUnsettled(): void {
    if (this.unsettled.size === 0) return;
    this.requeueUnsettled();
    this.retryLater();
  }

  /** The socket dropped: its unsettled reads go again on the next one. */
  onConnectionLost(): void {
    this.requeueUnsettled();
  }

  stop(): void {
    clearTimeout(this.retryTimer);
  }

  private known(conversationId: string): number {
    return Math.max(
      this.pending.get(conversationId) ?? 0,
      this.unsettled.get(conversationId)?.upToSeq ?? 0,
      this.settled.get(conversationId) ?? 0,
    );
  }

  private settle(conversationId: string, upToSeq: number): void {
    this.settled.set(conversationId, Math.max(upToSeq, this.settled.get(conversationId) ?? 0));
  }

  private requeueUnsettled(): void {
    for (const [conversationId, { upToSeq }] of this.unsettled) {
      this.pending.set(conversationId, Math.max(upToSeq, this.pending.get(conversationId) ?? 0));
    }
    this.unsettled.clear();
  }

  private retryLater(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(
      () => {
        this.retryTimer = undefined;
        this.pump();
      },
      this.settings.connection.backoffDelay(this.attempts++),
    );
  }
}
