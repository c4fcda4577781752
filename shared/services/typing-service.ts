import pLimit from 'p-limit';
import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { NotFoundError } from '../errors';
import { type Connection, isCurrentMember } from '../model';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';

/** The shared window across handlers (RateCounterRepository.claimWindow): one conditional write. */
export interface TypingWindows {
  claimWindow(counterKey: string, nowMs: number, windowMs: number): Promise<boolean>;
}

/** The window item of one sender typing in one conversation. */
export const typingWindowKey = (userId: string, conversationId: string) => `typing#${userId}#${conversationId}`;

/** Windows kept in memory before the lapsed ones are dropped (a warm handler serves many typists). */
const windowsBeforePruning = 10_000;

/**
 * `typing`: forwarded straight to the other members' live connections, never stored, parked or
 * streamed. At most one per sender and conversation per `limits.typingWindowMs` goes out: a warm
 * handler drops repeats from memory with no read or write; the first of a window claims it with one
 * conditional write, so handlers running side by side cannot both forward.
 */
export class TypingService {
  private readonly forwardedAt = new Map<string, number>();
  private readonly postLimit = pLimit(limits.postConcurrency);

  constructor(
    private readonly conversations: ConversationRepository,
    private readonly connections: ConnectionRepository,
    private readonly windows: TypingWindows,
    private readonly poster: ConnectionPoster,
    private readonly clock: Clock,
  ) {}

  /** Answers how many connections were told (0 for a dropped repeat); a non-member gets `not_found`. */
  async typing(sender: Connection, conversationId: string): Promise<number> {
    const nowMs = this.clock.now().getTime();
    const key = typingWindowKey(sender.userId, conversationId);
    const last = this.forwardedAt.get(key);
    // Only members' forwards are remembered, so a drop here never hides a refusal.
    if (last !== undefined && nowMs - last < limits.typingWindowMs) return 0;

    const members = (await this.conversations.listMembers(conversationId)).filter(isCurrentMember);
    if (!members.some((member) => member.userId === sender.userId)) throw new NotFoundError('Conversation not found');
    const claimed = await this.windows.claimWindow(key, nowMs, limits.typingWindowMs);
    // Claimed or not, this window is spent: repeats from this handler stay in memory.
    this.remember(key, nowMs);
    if (!claimed) return 0;

    const others = members.map((member) => member.userId).filter((userId) => userId !== sender.userId);
    const reaches = await this.connections.readLiveReach(others, epochSeconds(this.clock.now()));
    const targets = [...reaches.values()].flatMap((reach) => reach?.connections ?? []);
    const frame = { type: 'typing', conversationId, userId: sender.userId } as const;
    // A lost typing frame is harmless: a 410 or a failed post is left to fan-out's cleanup and the next frame.
    const outcomes = await Promise.allSettled(
      targets.map((connection) => this.postLimit(() => this.poster.post(connection.connectionId, frame))),
    );
    return outcomes.filter((outcome) => outcome.status === 'fulfilled' && outcome.value === 'sent').length;
  }

  private remember(key: string, nowMs: number): void {
    if (this.forwardedAt.size >= windowsBeforePruning) {
      for (const [held, at] of this.forwardedAt) if (nowMs - at >= limits.typingWindowMs) this.forwardedAt.delete(held);
    }
    this.forwardedAt.set(key, nowMs);
  }
}
