import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { AppError } from '../errors';
import type { RateCounterRepository } from '../repositories/rate-counter-repository';

export interface RateLimit {
  readonly windowSeconds: number;
  readonly maxSends: number;
}

/** The counter item of one user's sends in the window starting at `windowStart` (epoch seconds). */
export const sendCounterKey = (userId: string, windowStart: number) => `send#${userId}#${windowStart}`;

/**
 * Per-user send rate limit: a fixed-window counter item per user and window, bumped by one
 * conditional UpdateItem (ADD, only while under the limit) before a send does anything else.
 * One write per send; a refused send costs that write and nothing more.
 */
export class SendRateLimiter {
  constructor(
    private readonly counters: RateCounterRepository,
    private readonly clock: Clock,
    private readonly limit: RateLimit = limits.sendRateLimit,
  ) {}

  /** Counts one send for the user; throws `rate_limited` (429) when the window is full. */
  async consume(userId: string): Promise<void> {
    const now = epochSeconds(this.clock.now());
    const windowStart = now - (now % this.limit.windowSeconds);
    const windowEnd = windowStart + this.limit.windowSeconds;
    if (await this.counters.incrementBelow(sendCounterKey(userId, windowStart), this.limit.maxSends, windowEnd)) return;
    throw new AppError(
      'rate_limited',
      `At most ${this.limit.maxSends} messages per ${this.limit.windowSeconds} seconds; retry later`,
      { retryAfterSeconds: windowEnd - now },
    );
  }
}
