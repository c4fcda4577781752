/** Read marks: coalesced to the highest seq per conversation, queued while offline, resent until `readAcked`. */
import type { Connection } from './connection';

export interface ReadQueueSettings {
  readonly connection: Pick<Connection, 'state' | 'write' | 'backoffDelay'>;
  readonly responseTimeoutMs: number;
  readonly onError: (error: Error) => void;
  /** A read went out on the connection: it acknowledges delivery up to its seq too. */
  readonly written?: (conversationId: string, upToSeq: number) => void;
}

export class ReadQueue {
  private readonly pending = new Map<string, number>();
  private readonly confirmed = new Map<string, number>();
  private inFlight: { conversationId: string; upToSeq: number; timer: ReturnType<typeof setTimeout> } | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private attempts = 0;

  constructor(private readonly settings: ReadQueueSettings) {}

  mark(conversationId: string, upToSeq: number): void {
    const known = Math.max(this.pending.get(conversationId) ?? 0, this.confirmed.get(conversationId) ?? 0);
    if (upToSeq <= known) return;
    this.pending.set(conversationId, upToSeq);
    this.pump();
  }

  /** Reads go one at a time: an error frame for a read names no conversation, so only one may be open. */
  pump(): void {
    const { connection, responseTimeoutMs } = this.settings;
    if (connection.state !== 'connected' || this.inFlight !== undefined || this.retryTimer !== undefined) return;
    const next = this.pending.entries().next();
    if (next.done === true) return;
    const [conversationId, upToSeq] = next.value;
    if (!connection.write({ action: 'read', conversationId, upToSeq })) return;
    this.settings.written?.(conversationId, upToSeq);
    const timer = setTimeout(() => {
      this.inFlight = undefined;
      this.pump();
    }, responseTimeoutMs);
    this.inFlight = { conversationId, upToSeq, timer };
  }

  acked(conversationId: string, upToSeq: number): void {
    this.confirmed.set(conversationId, Math.max(upToSeq, this.confirmed.get(conversationId) ?? 0));
    if ((this.pending.get(conversationId) ?? 0) <= upToSeq) this.pending.delete(conversationId);
    if (this.inFlight?.conversationId === conversationId) {
      clearTimeout(this.inFlight.timer);
      this.inFlight = undefined;
      this.attempts = 0;
    }
    this.pump();
  }

  /**
   * The user's read from another device (its `receipt`): nothing up to it needs sending from here,
   * where it would be a billed frame and an invocation that moves no mark. Acks still go: this
   * device's inbox is its own.
   */
  readElsewhere(conversationId: string, upToSeq: number): void {
    this.confirmed.set(conversationId, Math.max(upToSeq, this.confirmed.get(conversationId) ?? 0));
    if ((this.pending.get(conversationId) ?? 0) <= upToSeq) this.pending.delete(conversationId);
  }

  /**
   * The server refused the read in flight: a retryable refusal tries again after a backoff, any
   * other drops it. False when no read is in flight, so the error is someone else's.
   */
  refuse(error: Error, retryable: boolean): boolean {
    if (this.inFlight === undefined) return false;
    const { conversationId, upToSeq, timer } = this.inFlight;
    clearTimeout(timer);
    this.inFlight = undefined;
    if (retryable) {
      this.retryLater();
      return true;
    }
    if ((this.pending.get(conversationId) ?? 0) <= upToSeq) this.pending.delete(conversationId);
    this.settings.onError(error);
    this.pump();
    return true;
  }

  /** A request failed without saying which: the read in flight goes again after a backoff. */
  retryInFlight(): void {
    if (this.inFlight === undefined) return;
    clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
    this.retryLater();
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

  /** The connection dropped: the read in flight goes out again on the next one. */
  onConnectionLost(): void {
    if (this.inFlight === undefined) return;
    clearTimeout(this.inFlight.timer);
    this.inFlight = undefined;
  }

  stop(): void {
    clearTimeout(this.retryTimer);
  }
}
