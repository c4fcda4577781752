import type { ConnectionPoster } from '../aws/connection-poster';
import { limits } from '../config/limits';
import { correlationFields, correlationIdAt, correlationIdOf } from '../correlation';
import type { Device } from '../model';
import type { InboxRepository } from '../repositories/inbox-repository';

export interface SyncResult {
  readonly delivered: number;
  /** Present when more is waiting than one sync replays: send `sync` again with it. */
  readonly cursor?: string;
  /** The connection went away mid-replay. */
  readonly connectionGone: boolean;
}

/** Most messages one sync replays, so the call stays well inside API Gateway's 29 s integration timeout. */
const MAX_MESSAGES_PER_SYNC = 1000;

/** Lines name messages by correlation id and carry counts only, never text. */
export interface InboxLogger {
  info(message: string, details: Record<string, unknown>): void;
}

const silent: InboxLogger = { info: () => undefined };

export class InboxService {
  constructor(
    private readonly inbox: InboxRepository,
    private readonly poster: ConnectionPoster,
    private readonly logger: InboxLogger = silent,
  ) {}

  /** Replays the device's parked messages to its connection, in order, one frame each. */
  async sync(
    device: Device,
    connectionId: string,
    cursor?: string,
    outOfTime: () => boolean = () => false,
  ): Promise<SyncResult> {
    let delivered = 0;
    let next = cursor;
    do {
      const page = await this.inbox.readPage(device, limits.syncPageSize, next);
      for (const message of page.messages) {
        // Sequential on purpose: frames must arrive in seq order.
        if ((await this.poster.post(connectionId, { type: 'message', message })) === 'gone') {
          return { delivered, connectionGone: true };
        }
        delivered++;
        this.logger.info('replayed from inbox', {
          ...correlationFields(correlationIdOf(message)),
          conversationId: message.conversationId,
          seq: message.seq,
        });
      }
      next = page.cursor;
      // Stops between pages only: a cursor marks where a page ends.
    } while (next !== undefined && delivered < MAX_MESSAGES_PER_SYNC && !outOfTime());
    return { delivered, connectionGone: false, ...(next !== undefined ? { cursor: next } : {}) };
  }

  /**
   * Items stay until acknowledged (at-least-once); an ack removes them up to a seq. Its line names
   * the last message it covers; earlier ones match by conversation and `upToSeq` (docs/operations.md).
   */
  async ack(device: Device, conversationId: string, upToSeq: number): Promise<number> {
    const removed = await this.inbox.removeUpTo(device, conversationId, upToSeq);
    this.logger.info('inbox acked', {
      ...correlationFields(correlationIdAt(conversationId, upToSeq)),
      conversationId,
      upToSeq,
      removed,
    });
    return removed;
  }
}
