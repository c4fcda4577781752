/**
 * One conversation as this client has it: which seqs were emitted, which wait for a missing one,
 * and the ordered cache. Pure bookkeeping; OrderedDelivery decides when to fetch history.
 * Change entries (edit, delete, reaction) are due like any entry but not cached: each is applied
 * to the message it names, which the cache then holds as history would now answer it.
 */
import type { Message } from '#shared/model';
import { replyRefOf } from '#shared/protocol/reply-ref';
import { applyChange, isChangeEntry } from './changes';

const empty: readonly Message[] = Object.freeze([]);

export class Timeline {
  /** Every seq up to here was emitted, was a void, or is invisible to this member; undefined until a baseline is known. */
  contiguous: number | undefined;
  /** Lowest seq covered by the cache or the baseline: older history continues below it. */
  floor: number | undefined;
  /** A seq the server is known to have reached (from the conversation list) that may never be pushed. */
  fillTarget = 0;
  /** Set while the device's own first message here waits for pushes of earlier seqs before it becomes the baseline. */
  settleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Gap-filling state, owned by OrderedDelivery. */
  fillTimer: ReturnType<typeof setTimeout> | undefined;
  filling = false;
  /** History pages in a row that brought nothing new. */
  fillAttempts = 0;
  /** History requests in a row that failed. */
  fillFailures = 0;
  /** Serialises loadOlder calls so each continues below the previous page. */
  olderChain: Promise<unknown> = Promise.resolve();
  /** History below `floor` is exhausted (or invisible to this member). */
  olderExhausted = false;

  private readonly waiting = new Map<number, Message>();
  private readonly cachedSeqs = new Set<number>();
  private cache: Message[] = [];
  private snapshot: readonly Message[] = empty;
  private snapshotStale = false;
  /** Messages a due change entry updated (its target, and replies quoting it), by the change's seq. */
  private readonly applied = new Map<number, Message[]>();

  constructor(readonly conversationId: string) {}

  /** The cache, ordered by seq; the same array until it changes (cheap to compare in UI code). */
  messages(): readonly Message[] {
    if (this.snapshotStale) {
      this.snapshot = Object.freeze([...this.cache]);
      this.snapshotStale = false;
    }
    return this.snapshot;
  }

  /** The messages change entry `seq` updated, once: its target and the replies that quote it. */
  takeApplied(seq: number): Message[] {
    const changed = this.applied.get(seq) ?? [];
    this.applied.delete(seq);
    return changed;
  }

  /** Highest seq this timeline has seen, emitted or waiting. */
  get highestSeen(): number {
    let highest = this.contiguous ?? 0;
    for (const seq of this.waiting.keys()) highest = Math.max(highest, seq);
    return highest;
  }

  /** A baseline is known and some seq above it is missing. */
  get hasGap(): boolean {
    return this.contiguous !== undefined && (this.waiting.size > 0 || this.fillTarget > this.contiguous);
  }

  /**
   * Takes a message from a push, a sync replay or a send's answer, and answers those now due, in
   * seq order. Without a baseline the message becomes it when `mayStartBaseline`, else it waits
   * for `settleBaseline` (during a sync replay, whose first message per conversation is the oldest owed).
   */
  accept(message: Message, mayStartBaseline: boolean): Message[] {
    if (this.contiguous === undefined) {
      if (!mayStartBaseline) {
        if (!this.waiting.has(message.seq)) this.waiting.set(message.seq, message);
        return [];
      }
      this.startBaseline(Math.min(message.seq, ...this.waiting.keys()) - 1);
    }
    return this.offer([message]);
  }

  /** Ends a sync replay: a conversation first seen in it starts below its lowest seq. */
  settleBaseline(): Message[] {
    if (this.contiguous !== undefined || this.waiting.size === 0) return [];
    this.startBaseline(Math.min(...this.waiting.keys()) - 1);
    return this.drain();
  }

  /**
   * Applies a history page `after` a seq (ascending). History lists every seq this member may
   * see, so seqs it omits between `after` and its first message are invisible (before a re-join).
   */
  applyForward(after: number, page: readonly Message[]): Message[] {
    const first = page[0];
    if (first !== undefined && this.contiguous !== undefined && this.contiguous >= after) {
      const skipTo = Math.min(first.seq, ...this.waiting.keys()) - 1;
      if (skipTo > this.contiguous) this.contiguous = skipTo;
    }
    return this.offer(page);
  }

  /**
   * Adds a page of older history (any order). Seqs at or below the baseline go to the cache
   * quietly; newer ones are due like pushes. Without a baseline the page's newest seq becomes it.
   */
  addOlder(page: readonly Message[]): { older: Message[]; due: Message[] } {
    if (page.length === 0) return { older: [], due: [] };
    const seqs = page.map((message) => message.seq);
    if (this.contiguous === undefined) {
      this.startBaseline(Math.max(...seqs));
      for (const seq of this.waiting.keys()) if (seq <= (this.contiguous ?? 0)) this.waiting.delete(seq);
    }
    const baseline = this.contiguous ?? 0;
    const older = page
      // A page's messages already show the changes up to it, so its change entries need no applying.
      .filter(
        (message) =>
          message.seq <= baseline &&
          message.type !== 'void' &&
          !isChangeEntry(message) &&
          !this.cachedSeqs.has(message.seq),
      )
      .sort((a, b) => a.seq - b.seq);
    if (older.length > 0) {
      for (const message of older) this.cachedSeqs.add(message.seq);
      this.cache = [...older, ...this.cache].sort((a, b) => a.seq - b.seq);
      this.snapshotStale = true;
    }
    const lowest = Math.min(this.floor ?? Number.POSITIVE_INFINITY, ...seqs.filter((seq) => seq <= baseline));
    if (Number.isFinite(lowest)) this.floor = lowest;
    return { older, due: this.offer(page.filter((message) => message.seq > baseline)) };
  }

  /** Gives up on the missing seqs: continues from the lowest waiting one. */
  skipGap(): Message[] {
    if (this.contiguous === undefined) return [];
    if (this.waiting.size === 0) {
      this.fillTarget = this.contiguous;
      return [];
    }
    this.contiguous = Math.max(this.contiguous, Math.min(...this.waiting.keys()) - 1);
    return this.drain();
  }

  private startBaseline(seq: number): void {
    this.contiguous = Math.max(seq, 0);
    this.floor ??= this.contiguous + 1;
  }

  private offer(messages: readonly Message[]): Message[] {
    const baseline = this.contiguous ?? 0;
    for (const message of messages) {
      if (message.seq > baseline && !this.waiting.has(message.seq)) this.waiting.set(message.seq, message);
    }
    return this.drain();
  }

  private drain(): Message[] {
    const due: Message[] = [];
    if (this.contiguous === undefined) return due;
    for (let next = this.waiting.get(this.contiguous + 1); next; next = this.waiting.get(this.contiguous + 1)) {
      this.waiting.delete(next.seq);
      this.contiguous = next.seq;
      // Voids fill a seq but are never shown or emitted.
      if (next.type === 'void' || this.cachedSeqs.has(next.seq)) continue;
      due.push(next);
      if (isChangeEntry(next)) {
        this.applyChangeEntry(next);
      } else {
        this.cachedSeqs.add(next.seq);
        this.cache.push(next);
        this.snapshotStale = true;
      }
    }
    return due;
  }

  /** Updates the cached message a change names (nothing when it is not cached: history will show its state). */
  private applyChangeEntry(change: Message): void {
    const index = change.targetSeq === undefined ? -1 : this.indexOf(change.targetSeq);
    const target = this.cache[index];
    const updated = target === undefined ? undefined : applyChange(target, change);
    if (target === undefined || updated === undefined) return;
    this.cache[index] = updated;
    const changed = [updated];
    if (updated.text !== target.text || updated.deletedAt !== target.deletedAt) {
      // Replies quote the start of its text, or say it was deleted.
      const quote = replyRefOf(updated);
      this.cache.forEach((message, at) => {
        if (message.replyTo?.seq !== updated.seq) return;
        const reply = { ...message, replyTo: quote };
        this.cache[at] = reply;
        changed.push(reply);
      });
    }
    this.applied.set(change.seq, changed);
    this.snapshotStale = true;
  }

  /** Where the cache (ordered by seq) holds `seq`, or -1. */
  private indexOf(seq: number): number {
    if (!this.cachedSeqs.has(seq)) return -1;
    let low = 0;
    let high = this.cache.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const at = this.cache[middle]?.seq ?? 0;
      if (at === seq) return middle;
      if (at < seq) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}
