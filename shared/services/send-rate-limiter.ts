import { setTimeout as sleep } from 'node:timers/promises';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { AppError } from '../errors';
import type { CounterClaim, RateCounterRepository } from '../repositories/rate-counter-repository';

export interface RateLimit {
  readonly windowSeconds: number;
  readonly maxSends: number;
  /** Sends one handler claims from the window's counter at a time (capped at `maxSends`). */
  readonly leaseSends: number;
}

/** The counter item of one user's sends in the window starting at `windowStart` (epoch seconds). */
export const sendCounterKey = (userId: string, windowStart: number) => `send#${userId}#${windowStart}`;

/** The counter item of the conversations one user created in a window (a day). */
export const creationCounterKey = (userId: string, windowStart: number) => `create#${userId}#${windowStart}`;

/**
 * The counter item of the conversations one user created in a short window: a prefix of its own, as a
 * day's start is also a 10-minute window's start.
 */
export const creationBurstCounterKey = (userId: string, windowStart: number) => `create-burst#${userId}#${windowStart}`;

/** The counter item of one user's username searches in a window. */
export const searchCounterKey = (userId: string, windowStart: number) => `search#${userId}#${windowStart}`;

/** What a limiter counts: its counter items' keys, and the word its refusal uses. */
export interface Counted {
  readonly keyOf: (userId: string, windowStart: number) => string;
  readonly noun: string;
}

const countedSends: Counted = { keyOf: sendCounterKey, noun: 'messages' };

/** What this handler holds of one user's current window. */
interface Lease {
  readonly windowStart: number;
  remaining: number;
  /** The counter refused even one more: every further send of the window is refused without a write. */
  full: boolean;
}

/**
 * How long a send waits on another send's claim before claiming itself: far longer than one UpdateItem
 * with the SDK's retries takes, so only a claim that will never answer (its invocation stopped at its
 * timeout, its call lost with it) is given up on; a second claim only ever refuses early, never late.
 */
const claimWaitMs = 2_000;

/** Leases kept before those of past windows are dropped (a warm handler serves many users). */
const leasesBeforePruning = 10_000;

/**
 * Per-user send rate limit: a fixed-window counter item per user and window that never passes
 * `maxSends`. A handler claims sends from it in leases (one conditional UpdateItem: ADD lease, only
 * while the sum stays within the limit; then ADD 1 for the window's last few) and spends each lease
 * from memory, so a burst pays one write per lease, not per send, and a flood once its window is full
 * pays none. Sends a handler claimed but never made still count: it only ever refuses early, never late.
 */
export class SendRateLimiter {
  private readonly leases = new Map<string, Lease>();
  /** One claim at a time per user: concurrent sends in this process wait for it instead of claiming too. */
  private readonly claims = new Map<string, { readonly granted: Promise<boolean>; readonly startedAt: number }>();

  constructor(
    private readonly counters: RateCounterRepository,
    private readonly clock: Clock,
    private readonly limit: RateLimit = limits.sendRateLimit,
    private readonly counted: Counted = countedSends,
  ) {}

  /**
   * Counts `sends` sends (a burst frame's messages) for the user, all or none; throws `rate_limited`
   * (429) when the window has no room for them.
   */
  async consume(userId: string, sends = 1): Promise<void> {
    for (;;) {
      const now = epochSeconds(this.clock.now());
      const windowStart = now - (now % this.limit.windowSeconds);
      const lease = this.leases.get(userId);
      const held = lease?.windowStart === windowStart ? lease : undefined;
      if (held && held.remaining >= sends) {
        held.remaining -= sends;
        return;
      }
      if (held?.full || sends > this.limit.maxSends) throw this.refusal(windowStart + this.limit.windowSeconds - now);
      const pending = this.claims.get(userId);
      const waitMs = pending === undefined ? 0 : pending.startedAt + claimWaitMs - Date.now();
      if (pending !== undefined && waitMs > 0) {
        await Promise.race([pending.granted, sleep(waitMs, undefined, { ref: false })]);
        continue;
      }
      const claim = { granted: this.claim(userId, windowStart, sends - (held?.remaining ?? 0)), startedAt: Date.now() };
      this.claims.set(userId, claim);
      void claim.granted
        .finally(() => {
          if (this.claims.get(userId) === claim) this.claims.delete(userId);
        })
        .catch(() => undefined);
      if (!(await claim.granted)) throw this.refusal(windowStart + this.limit.windowSeconds - now);
    }
  }

  /**
   * One send for a commit that can carry its own claim: spent from a held lease (answers undefined), or
   * the lease claim to put in the commit's transaction, so the claim adds no call before the commit.
   * Call {@link claimCommitted} once that commit went in; if it did not, the send was not charged.
   * Throws `rate_limited` when this handler knows the window is full.
   */
  claimForCommit(userId: string): CounterClaim | undefined {
    const now = epochSeconds(this.clock.now());
    const windowStart = now - (now % this.limit.windowSeconds);
    const lease = this.leases.get(userId);
    const held = lease?.windowStart === windowStart ? lease : undefined;
    if (held && held.remaining >= 1) {
      held.remaining -= 1;
      return undefined;
    }
    if (held?.full) throw this.refusal(windowStart + this.limit.windowSeconds - now);
    return {
      counterKey: this.counted.keyOf(userId, windowStart),
      count: Math.min(this.limit.leaseSends, this.limit.maxSends),
      max: this.limit.maxSends,
      expiresAtEpochSeconds: windowStart + this.limit.windowSeconds,
    };
  }

  /** The commit that carried `claim` went in: one of its sends was that commit's, the rest are held. */
  claimCommitted(userId: string, claim: CounterClaim): void {
    this.hold(userId, claim.expiresAtEpochSeconds - this.limit.windowSeconds, claim.count - 1, false);
  }

  /**
   * Takes a lease of the window (at least `needed` sends; then just `needed` when a lease no longer
   * fits) into memory; false when not even that fits. A window that cannot take one more is full.
   */
  private async claim(userId: string, windowStart: number, needed: number): Promise<boolean> {
    const key = this.counted.keyOf(userId, windowStart);
    const windowEnd = windowStart + this.limit.windowSeconds;
    const size = Math.min(Math.max(needed, this.limit.leaseSends), this.limit.maxSends);
    let granted = 0;
    if (await this.counters.incrementWithin(key, size, this.limit.maxSends, windowEnd)) granted = size;
    else if (size > needed && (await this.counters.incrementWithin(key, needed, this.limit.maxSends, windowEnd)))
      granted = needed;
    this.hold(userId, windowStart, granted, granted === 0 && needed === 1);
    return granted > 0;
  }

  private hold(userId: string, windowStart: number, granted: number, full: boolean): void {
    const held = this.leases.get(userId);
    if (held?.windowStart === windowStart) {
      held.remaining += granted;
      held.full ||= full;
      return;
    }
    if (this.leases.size >= leasesBeforePruning) this.prune(windowStart);
    this.leases.set(userId, { windowStart, remaining: granted, full });
  }

  private prune(currentWindowStart: number): void {
    for (const [userId, lease] of this.leases) {
      if (lease.windowStart < currentWindowStart) this.leases.delete(userId);
    }
  }

  private refusal(retryAfterSeconds: number): AppError {
    return new AppError(
      'rate_limited',
      `At most ${this.limit.maxSends} ${this.counted.noun} per ${this.limit.windowSeconds} seconds; retry later`,
      { retryAfterSeconds },
    );
  }
}
