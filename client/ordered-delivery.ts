/**
 * Every conversation's timeline: messages come out in seq order, each once, and what is missing
 * is fetched from history (after a delay, since a push may be on its way) or given up on.
 */
import type { Message } from '#shared/model';
import type { Acks } from './acks';
import type { Connection } from './connection';
import { ParleyApiError, ParleyClientError } from './errors';
import { Timeline } from './timeline';
import type { ParleyApi } from './types';

const historyPageSize = 100;
/** History fetches that make no progress before the missing seqs are given up. */
const maxFillAttempts = 8;
/** Conversation list pages read after a reconnect to spot conversations that moved on unseen. */
const maxCatchUpPages = 5;
const emptyMessages: readonly Message[] = Object.freeze([]);

export interface OrderedDeliverySettings {
  readonly api: Pick<ParleyApi, 'history' | 'listConversations'>;
  readonly connection: Pick<Connection, 'state' | 'isClosed' | 'backoffDelay'>;
  readonly acks: Pick<Acks, 'schedule' | 'noteArrival'>;
  readonly gapFillDelayMs: number;
  /** Each message as it becomes due, in seq order per conversation. */
  readonly onDue: (message: Message) => void;
  /** A cached message a due change entry updated (its target, or a reply quoting it), right after that entry. */
  readonly onChanged: (message: Message) => void;
  readonly onError: (error: Error) => void;
}

export class OrderedDelivery {
  private readonly timelines = new Map<string, Timeline>();

  constructor(private readonly settings: OrderedDeliverySettings) {}

  /** What this client has of the conversation, in seq order; the same array until it changes. */
  messages(conversationId: string): readonly Message[] {
    return this.timelines.get(conversationId)?.messages() ?? emptyMessages;
  }

  /** The highest seq this client has seen in the conversation (emitted or waiting), 0 if none. */
  highestSeq(conversationId: string): number {
    return this.timelines.get(conversationId)?.highestSeen ?? 0;
  }

  /** A message pushed or replayed by the server. */
  receive(message: Message): void {
    const timeline = this.timelineOf(message.conversationId);
    this.settings.acks.noteArrival(message.conversationId, message.seq, timeline.contiguous);
    this.deliver(timeline, timeline.accept(message, this.settings.connection.state === 'connected'));
  }

  /**
   * The device's own message, from its send's answer. That answer can overtake pushes of earlier
   * seqs (fan-out runs after the send answers), so a conversation's first own message waits
   * gapFillDelayMs for them before it becomes the baseline.
   */
  receiveOwn(message: Message): void {
    const timeline = this.timelineOf(message.conversationId);
    if (timeline.contiguous !== undefined) {
      this.deliver(timeline, timeline.accept(message, true));
      return;
    }
    timeline.accept(message, false);
    timeline.settleTimer ??= setTimeout(() => {
      timeline.settleTimer = undefined;
      // A sync in progress settles every conversation when it completes.
      if (this.settings.connection.state !== 'syncing') this.deliver(timeline, timeline.settleBaseline());
    }, this.settings.gapFillDelayMs);
  }

  /** A sync completed: conversations first seen in its replay start below their lowest seq. */
  settleAll(): void {
    for (const timeline of this.timelines.values()) this.deliver(timeline, timeline.settleBaseline());
  }

  /**
   * Loads the page before the oldest message cached (the newest page when none is) into the
   * cache and answers it, ascending. These are not emitted.
   */
  loadOlder(conversationId: string, limit: number): Promise<{ messages: Message[]; hasMore: boolean }> {
    const timeline = this.timelineOf(conversationId);
    const run = timeline.olderChain.then(() => this.loadOlderNow(timeline, limit));
    timeline.olderChain = run.catch(() => undefined);
    return run;
  }

  /** After a reconnect, asks which conversations moved past what this client has: a lost last push shows no gap. */
  async catchUp(): Promise<void> {
    const { api, connection } = this.settings;
    const tracked = new Set(
      [...this.timelines.values()].filter((timeline) => timeline.contiguous !== undefined).map((t) => t.conversationId),
    );
    let cursor: string | undefined;
    try {
      for (let page = 0; tracked.size > 0 && page < maxCatchUpPages; page++) {
        const listing = await api.listConversations({ limit: 100, ...(cursor === undefined ? {} : { cursor }) });
        if (connection.isClosed()) return;
        for (const summary of listing.conversations) {
          if (!tracked.delete(summary.id)) continue;
          const timeline = this.timelines.get(summary.id);
          if (timeline === undefined || summary.lastSeq <= timeline.highestSeen) continue;
          timeline.fillTarget = Math.max(timeline.fillTarget, summary.lastSeq);
          this.scheduleFill(timeline, this.settings.gapFillDelayMs);
        }
        if (listing.cursor === undefined) return;
        cursor = listing.cursor;
      }
    } catch (error) {
      this.settings.onError(
        new ParleyClientError('connection_failed', 'Could not check conversations after reconnecting', error),
      );
    }
  }

  stop(): void {
    for (const timeline of this.timelines.values()) {
      clearTimeout(timeline.fillTimer);
      clearTimeout(timeline.settleTimer);
    }
  }

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
      this.settings.onDue(message);
      for (const changed of timeline.takeApplied(message.seq)) this.settings.onChanged(changed);
    }
    this.settings.acks.schedule(timeline.conversationId, timeline.contiguous ?? 0);
    if (timeline.hasGap) this.scheduleFill(timeline, this.settings.gapFillDelayMs);
  }

  private scheduleFill(timeline: Timeline, delayMs: number): void {
    if (timeline.fillTimer !== undefined || timeline.filling || this.settings.connection.isClosed()) return;
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
    const { api, connection } = this.settings;
    if (connection.isClosed() || !timeline.hasGap) {
      timeline.fillAttempts = 0;
      return;
    }
    timeline.filling = true;
    const after = timeline.contiguous ?? 0;
    let outcome: 'progress' | 'stuck' | 'failed' | 'unreachable' = 'stuck';
    let failure: unknown;
    try {
      const page = await api.history(timeline.conversationId, { after, limit: historyPageSize });
      if (connection.isClosed()) return;
      this.deliver(timeline, timeline.applyForward(after, page.messages));
      if ((timeline.contiguous ?? 0) > after) outcome = 'progress';
    } catch (error) {
      failure = error;
      outcome = error instanceof ParleyApiError && error.status === 404 ? 'unreachable' : 'failed';
    } finally {
      timeline.filling = false;
    }
    if (connection.isClosed()) return;
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
          this.settings.onError(
            new ParleyClientError(
              'connection_failed',
              `Could not fetch history of ${timeline.conversationId}`,
              failure,
            ),
          );
        }
        this.scheduleFill(timeline, connection.backoffDelay(timeline.fillFailures));
        return;
      case 'stuck':
        if (++timeline.fillAttempts < maxFillAttempts) {
          this.scheduleFill(timeline, connection.backoffDelay(timeline.fillAttempts));
          return;
        }
        break;
      case 'unreachable':
        break;
    }
    timeline.fillAttempts = 0;
    this.settings.onError(
      new ParleyClientError(
        'gap_unfilled',
        `Conversation ${timeline.conversationId}: history could not supply the seqs after ${after}; skipped them`,
        failure,
      ),
    );
    this.deliver(timeline, timeline.skipGap());
  }

  private async loadOlderNow(timeline: Timeline, limit: number): Promise<{ messages: Message[]; hasMore: boolean }> {
    const before = timeline.floor;
    if (timeline.olderExhausted || (before !== undefined && before <= 1)) return { messages: [], hasMore: false };
    const page = await this.settings.api.history(
      timeline.conversationId,
      before === undefined ? { limit } : { before, limit },
    );
    const { older, due } = timeline.addOlder(page.messages);
    if (page.cursor === undefined) timeline.olderExhausted = true;
    this.deliver(timeline, due);
    return { messages: older, hasMore: page.cursor !== undefined };
  }
}
