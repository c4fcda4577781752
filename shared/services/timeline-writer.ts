import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { ConflictError, NotFoundError } from '../errors';
import type { Conversation, Member, StoredMessage } from '../model';
import {
  type CommitOutcome,
  type MessageRepository,
  type QueueView,
  type Refusal,
  type RunEntry,
  type TimelineEffects,
  voidMessage,
} from '../repositories/message-repository';

/** Builds the entry once its seq is known (a new member's row records the seq that added it). */
export type ComposeEntry = (seq: number, at: string) => { message: StoredMessage; effects?: TimelineEffects };

export type AppendResult =
  | { readonly kind: 'stored' | 'duplicate'; readonly message: StoredMessage }
  /** The entry's effects were refused (a bound or an item condition); nothing of it was written. */
  | { readonly kind: 'effectRejected' };

export interface SeqTiming {
  readonly budgetMs: number;
  readonly stallTimeoutMs: number;
  /** See `limits.seqQueueAfterRunMs`. */
  readonly queueAfterRunMs?: number;
}

/** A conversation's seqs as its meta item was read: committed, handed out to queued appends, and when. */
export interface SeqPosition {
  readonly lastSeq: number;
  readonly nextSeq?: number;
  /** Epoch ms of the newest commit of a run of queued appends. */
  readonly lastRunAt?: number;
}

/** Identifies a client send: its entry parks when queued, and its claim refuses a retry. */
export interface ClientSend {
  readonly senderId: string;
  readonly clientMessageId: string;
}

/** An entry waiting for its seq (its ticket), composed at it. */
interface Queued {
  readonly ticket: number;
  readonly entry: RunEntry;
  /** Parked in the conversation's partition: whoever commits the seqs before it takes it along. */
  readonly parked: boolean;
  /**
   * A send's writer also commits the sends parked after its own entry. System events neither park
   * nor carry others: their writers hold only their own grants, and the meta change is theirs alone.
   */
  readonly carriesParked: boolean;
  /** Next in line with no ticket behind it when it took its own: its first run needs no read. */
  readonly alone: boolean;
}

/**
 * Appends entries to a conversation's timeline with gap-free seqs. Uncontended appends take the
 * optimistic path (one transaction). When appends collide they queue on seq tickets, and a queued
 * send parks its entry in the conversation's partition: whoever is next in line commits its own
 * entry and every entry parked after it in one transaction (a run), so a burst commits a run per
 * transaction rather than a message per transaction. A sender whose entry went in with someone
 * else's run learns it from its parked item, which the run took away.
 */
export class TimelineWriter {
  constructor(
    private readonly messages: MessageRepository,
    private readonly clock: Clock,
    private readonly timing: SeqTiming = {
      budgetMs: limits.seqAllocationBudgetMs,
      stallTimeoutMs: limits.seqStallTimeoutMs,
      queueAfterRunMs: limits.seqQueueAfterRunMs,
    },
  ) {}

  /**
   * `position` is the conversation's last seq as read, or its meta item as read: when it shows sends
   * queued for seqs (nextSeq past lastSeq) or a run of them younger than `queueAfterRunMs`, the
   * optimistic attempt would most likely fail, and the append queues at once.
   */
  async append(
    conversationId: string,
    position: number | SeqPosition,
    compose: ComposeEntry,
    send?: ClientSend,
  ): Promise<AppendResult> {
    const {
      lastSeq,
      nextSeq = lastSeq,
      lastRunAt = 0,
    } = typeof position === 'number' ? { lastSeq: position } : position;
    const recent = Date.now() - lastRunAt < (this.timing.queueAfterRunMs ?? 0);
    // Queued, a retry of a message already sent is not looked up first (a strong read every queued
    // send would pay for a rare retry): its claim refuses it in the run, which answers the original and
    // leaves a void at its seq (fan-out delivers voids like messages).
    if (nextSeq > lastSeq || recent) return this.appendQueued(conversationId, compose, send !== undefined);
    const optimistic = this.entry(compose, lastSeq + 1);
    const outcome = await this.messages.commit(optimistic.message, optimistic.effects);
    switch (outcome.kind) {
      case 'stored':
      case 'duplicate':
        return outcome;
      case 'effectRejected':
        return outcome;
      case 'conversationGone':
        throw notFound();
      case 'notNext':
        break;
    }
    // Contended: a ticket holds our place. A retry of a message already sent was answered above (its
    // claim failed with the seq); one that races its original is refused by its claim in the run.
    return this.appendQueued(conversationId, compose, send !== undefined);
  }

  /**
   * One optimistic commit at the seq after `lastSeq` as the caller believes it: no read, no queue, no
   * retry. Anything but `stored` or `duplicate` left the entry unwritten.
   */
  commitAfter(lastSeq: number, compose: ComposeEntry): Promise<CommitOutcome> {
    const { message, effects } = this.entry(compose, lastSeq + 1);
    return this.messages.commit(message, effects);
  }

  /**
   * Appends a burst of one sender's entries at consecutive seqs, in the order given, as few
   * transactions as TransactWriteItems holds (see `planRun`). A retried entry (its clientMessageId
   * already sent) is answered with its original and takes no seq; the entries after it close up.
   * When the conversation is contended (queued sends, another writer in between), the rest go one by
   * one through {@link append}, in order, so the burst still lands in the order sent.
   */
  async appendMany(
    conversationId: string,
    position: SeqPosition,
    bursts: readonly { readonly compose: ComposeEntry; readonly send: ClientSend }[],
  ): Promise<AppendResult[]> {
    const results: AppendResult[] = [];
    let pending = bursts.map((burst, index) => ({ ...burst, index }));
    let lastSeq = position.lastSeq;
    const contended = (position.nextSeq ?? lastSeq) > lastSeq;
    const recent = Date.now() - (position.lastRunAt ?? 0) < (this.timing.queueAfterRunMs ?? 0);
    let optimistic = !contended && !recent;
    while (pending.length > 0 && optimistic) {
      const at = this.now();
      const entries = pending.map((burst, k) => burst.compose(lastSeq + 1 + k, at));
      const outcome = await this.messages.commitMany(lastSeq, entries);
      switch (outcome.kind) {
        case 'stored':
          for (const [k, burst] of pending.slice(0, outcome.count).entries()) {
            results[burst.index] = { kind: 'stored', message: (entries[k] as RunEntry).message };
          }
          pending = pending.slice(outcome.count);
          lastSeq += outcome.count;
          break;
        case 'refused':
          // Refused entries are answered now; the others are offered again at closed-up seqs.
          for (const [k, refusal] of outcome.refused) {
            const burst = pending[k];
            if (!burst) continue;
            const original =
              refusal === 'duplicate'
                ? await this.messages.findSent(conversationId, burst.send.senderId, burst.send.clientMessageId)
                : undefined;
            results[burst.index] = original ? { kind: 'duplicate', message: original } : { kind: 'effectRejected' };
          }
          pending = pending.filter((_, k) => !outcome.refused.has(k));
          break;
        case 'conversationGone':
          throw notFound();
        case 'notNext':
          lastSeq = outcome.lastSeq;
          optimistic = false;
          break;
      }
    }
    for (const burst of pending) {
      const result = await this.append(conversationId, lastSeq, burst.compose, burst.send);
      if (result.kind === 'stored') lastSeq = Math.max(lastSeq, result.message.seq);
      results[burst.index] = result;
    }
    return results;
  }

  /** The entry at `seq`, read strongly: what a reply or a change is decided on. */
  messageAt(conversationId: string, seq: number): Promise<StoredMessage | undefined> {
    return this.messages.get(conversationId, seq, true);
  }

  /** What a client's clientMessageId already made, if anything: a refused retry answers it instead. */
  sentBefore(conversationId: string, send: ClientSend): Promise<StoredMessage | undefined> {
    return this.messages.findSent(conversationId, send.senderId, send.clientMessageId);
  }

  /** Creates a conversation whose timeline starts with `firstEntry` (seq 1), in the creating transaction. */
  startConversation(
    conversation: Conversation,
    members: readonly Member[],
    firstEntry: StoredMessage,
    directPair?: readonly [string, string],
  ) {
    return this.messages.createConversation(conversation, members, firstEntry, directPair);
  }

  private async appendQueued(conversationId: string, compose: ComposeEntry, isSend: boolean): Promise<AppendResult> {
    const deadline = Date.now() + this.timing.budgetMs;
    while (Date.now() < deadline) {
      const { ticket, lastSeq } = await this.messages.takeTicket(conversationId);
      const entry = this.entry(compose, ticket);
      // Next in line at once (the ticket is the newest, so nobody queued ahead or behind): nothing to
      // park, this writer commits it now.
      const alone = lastSeq === ticket - 1;
      const parked = isSend && !alone;
      if (parked) await this.messages.park(entry.message, entry.effects ?? {});
      const queued: Queued = { ticket, entry, parked, carriesParked: isSend, alone };
      const settled = await this.awaitTurn(conversationId, queued, lastSeq, deadline);
      if (settled !== 'requeue') return settled;
    }
    throw busy();
  }

  /**
   * Waits for the ticket's turn, reading the queue (cheap strong reads, paced by how fast the
   * committed seq moves, not failing transactions). An entry of our own that nobody else can commit
   * (not parked) is committed when its seq is next; a parked one, by whoever commits the seqs
   * before it, or by us when it is next and no writer has said it goes on committing runs. A seq
   * ahead whose holder made no progress for the stall timeout is presumed abandoned: its parked
   * entry is committed, or a void fills it.
   */
  private async awaitTurn(
    conversationId: string,
    queued: Queued,
    lastSeq: number,
    deadline: number,
  ): Promise<AppendResult | 'requeue'> {
    const { ticket } = queued;
    const pace = new Pace(lastSeq);
    let view: QueueView = { lastSeq, runLeaseUntil: 0, parked: 'parked' };
    let progressAt = Date.now();
    while (Date.now() < deadline) {
      const settled = await this.settled(conversationId, queued, view);
      if (settled) return settled;
      const next = view.lastSeq === ticket - 1 && (!queued.parked || view.runLeaseUntil < Date.now());
      const stalled = Date.now() - progressAt > this.timing.stallTimeoutMs && view.runLeaseUntil < Date.now();
      if (next || stalled) {
        const run = await this.leadRuns(conversationId, view.lastSeq, queued, next, deadline);
        if (run.own) return run.own;
        progressAt = Date.now();
        view = { ...view, lastSeq: Math.max(view.lastSeq, run.committed) };
        continue;
      }
      await sleep(pace.delay(view.lastSeq, ticket));
      const now = await this.view(conversationId, queued);
      if (now.lastSeq !== view.lastSeq) progressAt = Date.now();
      view = now;
    }
    throw busy();
  }

  /** The queue as we see it: with our parked item, or the committed seq alone. */
  private async view(conversationId: string, queued: Queued): Promise<QueueView> {
    const view = queued.parked
      ? await this.messages.queueView(conversationId, queued.ticket)
      : await this.messages
          .committedSeq(conversationId)
          .then((lastSeq) =>
            lastSeq === undefined ? undefined : { lastSeq, runLeaseUntil: 0, parked: 'parked' as const },
          );
    if (!view) throw notFound();
    return view;
  }

  /** Our entry's answer once the queue shows it settled by another writer; undefined while it waits. */
  private async settled(
    conversationId: string,
    queued: Queued,
    view: QueueView,
  ): Promise<AppendResult | 'requeue' | undefined> {
    // A commit took our parked item away: our entry went in with someone else's run.
    if (queued.parked && view.parked !== 'parked') {
      if (view.parked === 'gone') return { kind: 'stored', message: queued.entry.message };
      await this.messages.unpark(conversationId, queued.ticket);
      return this.refused(view.parked, queued.entry.message);
    }
    if (view.lastSeq < queued.ticket) return undefined;
    // Our seq was filled without our entry: as abandoned. (Read the parked item again on its own:
    // the queue's two items are not read as one, and a commit may have fallen between them.)
    if (!queued.parked) return 'requeue';
    const parked = await this.messages.parkedState(conversationId, queued.ticket);
    if (parked !== 'parked') return this.settled(conversationId, queued, { ...view, parked });
    await this.messages.unpark(conversationId, queued.ticket);
    return 'requeue';
  }

  /**
   * Commits runs from the seq after `committed`. A send's writer goes on while tickets wait beyond
   * its runs (saying so in each run, so parked senders leave the next one to it), waiting for their
   * entries to be parked, until the queue is empty, another writer moves it, or the budget ends.
   * Answers our own entry's result once a run has settled it, and how far the runs got.
   */
  private async leadRuns(
    conversationId: string,
    committed: number,
    queued: Queued,
    next: boolean,
    deadline: number,
  ): Promise<{ readonly committed: number; readonly own?: AppendResult }> {
    let own: AppendResult | undefined;
    let from = committed;
    let voidFirst = !next;
    let leading = false;
    const pace = new Idle();
    while (Date.now() < deadline) {
      // A send's writer reads the queue (unless it was alone in it); a system event's carries no one else's entry.
      const queue =
        queued.carriesParked && !(queued.alone && from === committed)
          ? ((await this.messages.queueFrom(conversationId, from + 1)) ?? null)
          : undefined;
      if (queue === null) throw notFound();
      // Another writer moved the queue (it filled a stalled seq, or its entry was not parked).
      if (queue && queue.lastSeq !== from) {
        return { committed: Math.max(from, queue.lastSeq), ...(own ? { own } : {}) };
      }
      const entries = this.runEntries(conversationId, from, queued, queue?.parked, voidFirst);
      if (entries.length === 0) {
        // Leading, with tickets outstanding whose entries are not parked yet: wait for them (an
        // abandoned one is filled once it stalls).
        if (!leading || !queue || queue.nextSeq <= from) break;
        if (pace.idleFor() > this.timing.stallTimeoutMs) voidFirst = true;
        else await sleep(pace.next());
        continue;
      }
      // Going on after this run keeps within the budget, with a stall's margin for the others.
      const leaseUntil = Date.now() + this.timing.stallTimeoutMs;
      const lease = queue && leaseUntil < deadline ? { leaseUntil, queueTail: queue.nextSeq } : undefined;
      const run = await this.messages.commitRun(conversationId, from, entries, lease);
      if (run.kind === 'conversationGone') throw notFound();
      if (run.kind === 'notNext' && run.lastSeq === from) {
        // Another transaction held an item: try again shortly (a lease we hold keeps the others waiting).
        await sleep(jittered(2));
        continue;
      }
      if (run.kind === 'notNext') return { committed: Math.max(from, run.lastSeq), ...(own ? { own } : {}) };
      if (!own && run.through >= queued.ticket) own = await this.settleOwn(conversationId, queued, run.refused);
      from = run.through;
      voidFirst = false;
      leading = run.leased;
      pace.reset();
      if (!leading) break;
    }
    return { committed: from, ...(own ? { own } : {}) };
  }

  /**
   * One run's entries from the seq after `committed`: our own entry there if not parked, the
   * entries parked there, without a gap; and, when `voidFirst` (the next seq stalled), a void for
   * the first seq if nobody parked an entry there.
   */
  private runEntries(
    conversationId: string,
    committed: number,
    queued: Queued,
    parked: ReadonlyMap<number, RunEntry> | undefined,
    voidFirst: boolean,
  ): RunEntry[] {
    const first = committed + 1;
    const entries: RunEntry[] = [];
    for (let seq = first; ; seq++) {
      const entry =
        (seq === queued.ticket && !queued.parked ? queued.entry : parked?.get(seq)) ??
        (seq === first && voidFirst ? { message: voidMessage(conversationId, seq, this.now()) } : undefined);
      if (!entry) return entries;
      entries.push(entry);
    }
  }

  /** Our entry was in a run we committed: stored, or refused (its seq then holds a void). */
  private async settleOwn(conversationId: string, queued: Queued, refused: ReadonlyMap<number, Refusal>) {
    const refusal = refused.get(queued.ticket);
    if (!refusal) return { kind: 'stored' as const, message: queued.entry.message };
    // The run recorded the refusal on our parked item; we know it already.
    if (queued.parked) await this.messages.unpark(conversationId, queued.ticket);
    return this.refused(refusal, queued.entry.message);
  }

  /** A refused entry's answer: the original of a duplicate, or the effects' refusal. */
  private async refused(refusal: Refusal, message: StoredMessage): Promise<AppendResult> {
    if (refusal === 'duplicate' && message.clientMessageId !== undefined) {
      const original = await this.messages.findSent(message.conversationId, message.senderId, message.clientMessageId);
      if (original) return { kind: 'duplicate', message: original };
    }
    return { kind: 'effectRejected' };
  }

  private entry(compose: ComposeEntry, seq: number) {
    return compose(seq, this.now());
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

/** Paces a leading writer's reads while the next ticket's entry is not parked yet. */
class Idle {
  private since = Date.now();
  private waitMs = 0;

  /** How long the queue has made no progress. */
  idleFor(): number {
    return Date.now() - this.since;
  }

  next(): number {
    this.waitMs = Math.min(MAX_IDLE_MS, Math.max(MIN_POLL_MS, this.waitMs * 2));
    return jittered(this.waitMs);
  }

  reset(): void {
    this.since = Date.now();
    this.waitMs = 0;
  }
}

/** A leader waiting for an entry to be parked reads the queue at least this often. */
const MAX_IDLE_MS = 50;

/**
 * Paces a queued writer's reads: by how fast the committed seq has moved since it queued; while it
 * has not moved, from a first guess for our distance, doubling at each read that finds no move.
 */
class Pace {
  private readonly since = Date.now();
  private waitMs = 0;

  constructor(private readonly fromSeq: number) {}

  /** How long to wait before reading again, with our seq `ticket - committed` seqs away. */
  delay(committed: number, ticket: number): number {
    const ahead = ticket - committed;
    const moved = committed - this.fromSeq;
    const wait =
      moved > 0
        ? ((Date.now() - this.since) / moved) * ahead
        : this.waitMs > 0
          ? this.waitMs * 2
          : ahead * GUESSED_MS_PER_SEQ;
    // Near the front, never long: the run before ours may be the last before it is our turn.
    this.waitMs = Math.min(MAX_POLL_MS, ahead * MAX_POLL_MS_PER_SEQ_AHEAD, Math.max(MIN_POLL_MS, wait));
    return jittered(this.waitMs);
  }
}

/** Before the committed seq has moved: runs of about 30 parked sends in 60 ms. */
const GUESSED_MS_PER_SEQ = 2;
const MIN_POLL_MS = 2;
const MAX_POLL_MS = 250;
const MAX_POLL_MS_PER_SEQ_AHEAD = 10;

const jittered = (ms: number) => ms * (0.75 + Math.random() / 2);

const notFound = () => new NotFoundError('Conversation not found');

const busy = () => new ConflictError('The conversation is busy; retry with the same clientMessageId');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
