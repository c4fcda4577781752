import type { ConnectionPoster } from '../aws/connection-poster';
import { limits } from '../config/limits';
import { correlationFields, correlationIdAt, correlationIdOf } from '../correlation';
import type { Device, Message } from '../model';
import type { ServerFrame } from '../protocol/frames';
import { messagePages } from '../protocol/message-pages';
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

export interface SyncOptions {
  /** Where an earlier sync stopped (its `syncComplete` cursor). */
  readonly cursor?: string;
  /** Checked between pages: true stops the replay and answers a cursor. */
  readonly outOfTime?: () => boolean;
  /** Replay as `messages` frames, many messages to a frame. */
  readonly pages?: boolean;
}

const silent: InboxLogger = { info: () => undefined };

export class InboxService {
  constructor(
    private readonly inbox: InboxRepository,
    private readonly poster: ConnectionPoster,
    private readonly logger: InboxLogger = silent,
  ) {}

  /**
   * Replays the device's parked messages to its connection, in order: a `message` frame each, or
   * with `pages` as few `messages` frames as fit (one billed message per frame, not per message).
   */
  async sync(device: Device, connectionId: string, options: SyncOptions = {}): Promise<SyncResult> {
    const { outOfTime = () => false, pages = false } = options;
    let delivered = 0;
    let next = options.cursor;
    do {
      const page = await this.inbox.readPage(device, limits.syncPageSize, next);
      const frames: { readonly frame: ServerFrame; readonly messages: readonly Message[] }[] = pages
        ? messagePages(page.messages, limits.syncFrameMaxBytes).map((messages) => ({
            frame: { type: 'messages', messages },
            messages,
          }))
        : page.messages.map((message) => ({ frame: { type: 'message', message }, messages: [message] }));
      for (const { frame, messages } of frames) {
        // Sequential on purpose: frames must arrive in seq order.
        if ((await this.poster.post(connectionId, frame)) === 'gone') return { delivered, connectionGone: true };
        delivered += messages.length;
        // A line per conversation of the frame (each line is paid for), naming its last message.
        for (const { last, fromSeq, count } of conversationRuns(messages)) {
          this.logger.info('replayed from inbox', {
            ...correlationFields(correlationIdOf(last)),
            conversationId: last.conversationId,
            seq: last.seq,
            ...(count > 1 ? { fromSeq, count } : {}),
          });
        }
      }
      next = page.cursor;
      // Stops between pages only: a cursor marks where a page ends.
    } while (next !== undefined && delivered < MAX_MESSAGES_PER_SYNC && !outOfTime());
    return { delivered, connectionGone: false, ...(next !== undefined ? { cursor: next } : {}) };
  }

  /**
   * Items stay until acknowledged (at-least-once); an ack removes the copies up to a seq and moves the
   * conversation's pointer past it (or removes it). Its line names the last message it covers; earlier
   * ones match by conversation and `upToSeq` (docs/operations.md).
   */
  async ack(device: Device, conversationId: string, upToSeq: number): Promise<number> {
    const { copies, pointer } = await this.inbox.removeUpTo(device, conversationId, upToSeq);
    this.logger.info('inbox acked', {
      ...correlationFields(correlationIdAt(conversationId, upToSeq)),
      conversationId,
      upToSeq,
      removed: copies,
      ...(pointer === 'none' ? {} : { pointer }),
    });
    return copies;
  }
}

/** A conversation's consecutive messages in a frame: the last of them, the first's seq, how many. */
interface ConversationRun {
  readonly last: Message;
  readonly fromSeq: number;
  readonly count: number;
}

/** The frame's messages by conversation, in the order given (inbox order keeps each conversation together). */
function conversationRuns(messages: readonly Message[]): ConversationRun[] {
  const runs: ConversationRun[] = [];
  for (const message of messages) {
    const run = runs.at(-1);
    if (run?.last.conversationId === message.conversationId) {
      runs[runs.length - 1] = { last: message, fromSeq: run.fromSeq, count: run.count + 1 };
    } else {
      runs.push({ last: message, fromSeq: message.seq, count: 1 });
    }
  }
  return runs;
}
