/**
 * Delivery acks: the highest contiguous seq per conversation, coalesced over ackDelayMs, sent
 * once per connection and again when the server redelivers what was acked.
 */
import type { Connection } from './connection';

export class Acks {
  /** Per conversation, the seq to ack at the next flush. */
  private readonly wanted = new Map<string, number>();
  /** What this connection has acked: a new connection owes its acks afresh. */
  private ackedOnConnection = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly connection: Pick<Connection, 'isOpen' | 'write'>,
    private readonly ackDelayMs: number,
  ) {}

  schedule(conversationId: string, upToSeq: number): void {
    if (upToSeq < 1) return;
    this.wanted.set(conversationId, upToSeq);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.ackDelayMs);
  }

  /** Sends one ack per conversation for the highest contiguous seq not yet acked on this connection. */
  flush(): void {
    if (!this.connection.isOpen()) return;
    for (const [conversationId, upToSeq] of this.wanted) {
      if (upToSeq > (this.ackedOnConnection.get(conversationId) ?? 0)) {
        if (!this.connection.write({ action: 'ack', conversationId, upToSeq })) return;
        this.ackedOnConnection.set(conversationId, upToSeq);
      }
      this.wanted.delete(conversationId);
    }
  }

  /**
   * A read written on this connection acknowledges delivery up to its seq as well (the server clears
   * the inbox and moves the delivered mark with it): an ack it covers would be a billed frame for nothing.
   */
  coveredByRead(conversationId: string, upToSeq: number): void {
    if (upToSeq > (this.ackedOnConnection.get(conversationId) ?? 0))
      this.ackedOnConnection.set(conversationId, upToSeq);
    if ((this.wanted.get(conversationId) ?? 0) <= upToSeq) this.wanted.delete(conversationId);
  }

  /** A redelivery of what this device holds means the server may have parked a copy: ack it again. */
  noteArrival(conversationId: string, seq: number, contiguous: number | undefined): void {
    if (contiguous !== undefined && seq <= contiguous) this.ackedOnConnection.delete(conversationId);
  }

  onNewConnection(): void {
    this.ackedOnConnection = new Map();
  }

  stop(): void {
    clearTimeout(this.timer);
  }
}
