import pLimit from 'p-limit';
import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { correlationFields, correlationIdOf } from '../correlation';
import { deviceKey } from '../keys';
import {
  type Connection,
  isSendingDevice,
  type Member,
  recipientsAt,
  type StoredMessage,
  toWireMessage,
} from '../model';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { DirectDeliveryRepository } from '../repositories/direct-delivery-repository';

export interface DirectDeliverySettings {
  /** Conversations of at most this many members take the fast path; 0 turns it off. */
  readonly maxMembers: number;
  readonly postTimeoutMs: number;
  readonly recordTtlSeconds: number;
}

export interface DirectDeliveryOutcome {
  /** Devices that took the frame (listed in the record fan-out reads). */
  readonly reached: number;
  /** Posts that failed, timed out or found the connection gone: the stream path serves those devices. */
  readonly missed: number;
  /** The record was written; without it fan-out serves every device (a device may then see the message twice). */
  readonly recorded: boolean;
}

/** The current members as one read saw them, with the conversation's lastSeq read before them (META first). */
export interface MembersAsOf {
  readonly members: readonly Member[];
  readonly lastSeq: number;
}

/** Who belonged at the message's seq, as its commit proved (a direct chat's `directChat` view): no read needed. */
export interface RecipientsAtSeq {
  readonly recipients: readonly string[];
}

/** The likely recipients' live connections, read before the commit so they are in hand when it lands. */
export interface ConnectionPrefetch {
  readonly userIds: ReadonlySet<string>;
  readonly connections: Promise<ReadonlyMap<string, Connection[]>>;
}

/** Lines carry ids and counts, never text. */
export interface DirectDeliveryLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

/**
 * The fast path: right after a send commits, post the message to the live connections of every
 * device that should get it, then record which devices took it. The stream's fan-out still runs
 * for every message and skips exactly the recorded devices, so nothing here can lose a message:
 * a failed read, post or record only leaves more for fan-out (and maybe a repeat the device drops).
 */
export class DirectDelivery {
  private readonly postLimit = pLimit(limits.postConcurrency);

  constructor(
    private readonly conversations: ConversationRepository,
    private readonly connections: ConnectionRepository,
    private readonly records: DirectDeliveryRepository,
    private readonly poster: ConnectionPoster,
    private readonly clock: Clock,
    private readonly logger: DirectDeliveryLogger,
    readonly settings: DirectDeliverySettings,
  ) {}

  /** Whether a conversation of this many members takes the fast path (never when it is off). */
  covers(memberCount: number): boolean {
    return this.settings.maxMembers > 0 && memberCount <= this.settings.maxMembers;
  }

  /** Starts reading the likely recipients' connections now (one BatchGetItem per 100), to overlap the commit. */
  prefetch(likelyRecipients: readonly string[]): ConnectionPrefetch {
    const connections = this.liveConnectionsOf(likelyRecipients);
    // A read nobody awaits (the send failed) must not fail the process.
    connections.catch(() => undefined);
    return { userIds: new Set(likelyRecipients), connections };
  }

  /**
   * Posts `message` to its recipients' live connections and records who took it. Who belonged at the
   * message's seq comes from `readBefore` when the message took the seq right after that read's
   * lastSeq (no membership change can lie between them), else from a strong read after the commit: a
   * member removed before this seq must not get it, one added before it must.
   */
  async deliver(
    message: StoredMessage,
    likelyRecipients: readonly string[] | ConnectionPrefetch,
    readBefore?: MembersAsOf | RecipientsAtSeq,
  ): Promise<DirectDeliveryOutcome> {
    const { reached, missed } = await this.post(message, likelyRecipients, readBefore);
    return { reached: reached.length, missed, recorded: await this.record(message, reached) };
  }

  /**
   * A burst's messages, each as {@link deliver} does, their posts all under way together, then their
   * records in one BatchWriteItem instead of a PutItem each. Outcomes in the order given.
   */
  async deliverMany(
    messages: readonly { readonly message: StoredMessage; readonly readBefore?: MembersAsOf }[],
    prefetched: ConnectionPrefetch,
  ): Promise<DirectDeliveryOutcome[]> {
    const posted = await Promise.all(
      messages.map(({ message, readBefore }) => this.post(message, prefetched, readBefore)),
    );
    const recorded = await this.recordMany(
      messages.map(({ message }, i) => ({ message, reached: posted[i]?.reached ?? [] })),
    );
    return posted.map(({ reached, missed }) => ({ reached: reached.length, missed, recorded }));
  }

  /** Posts `message` to its recipients' live connections; which devices took it (`userId#deviceId`). */
  private async post(
    message: StoredMessage,
    likelyRecipients: readonly string[] | ConnectionPrefetch,
    readBefore?: MembersAsOf | RecipientsAtSeq,
  ): Promise<{ readonly reached: readonly string[]; readonly missed: number }> {
    const reached: string[] = [];
    let missed = 0;
    try {
      const prefetched = isPrefetch(likelyRecipients) ? likelyRecipients : this.prefetch(likelyRecipients);
      const recipients =
        readBefore && 'recipients' in readBefore
          ? readBefore.recipients
          : recipientsAt(
              message,
              readBefore && message.seq === readBefore.lastSeq + 1
                ? readBefore.members
                : await this.conversations.listMembers(message.conversationId),
            );
      // Members who joined after the likely recipients were read are read now.
      const joined = recipients.filter((userId) => !prefetched.userIds.has(userId));
      const [known, late] = await Promise.all([
        prefetched.connections,
        joined.length > 0 ? this.liveConnectionsOf(joined) : new Map<string, Connection[]>(),
      ]);
      const frame = { type: 'message', message: toWireMessage(message) } as const;
      const targets = recipients.flatMap((userId) =>
        (known.get(userId) ?? late.get(userId) ?? []).filter((connection) => !isSendingDevice(message, connection)),
      );
      const outcomes = await Promise.allSettled(
        targets.map((connection) =>
          this.postLimit(() =>
            this.poster.post(connection.connectionId, frame, { timeoutMs: this.settings.postTimeoutMs }),
          ),
        ),
      );
      const took = new Set<string>();
      outcomes.forEach((outcome, i) => {
        const connection = targets[i] as Connection;
        if (outcome.status === 'fulfilled' && outcome.value === 'sent')
          took.add(deviceKey(connection.userId, connection.deviceId));
        else missed++;
      });
      reached.push(...took);
    } catch (error) {
      // Nothing posted is lost: fan-out serves every device the record does not list.
      this.logger.warn('direct delivery failed', {
        ...correlationFields(correlationIdOf(message)),
        error: String(error),
      });
    }
    return { reached, missed };
  }

  private async liveConnectionsOf(userIds: readonly string[]): Promise<ReadonlyMap<string, Connection[]>> {
    // Live entries count even while the reach item does not list every device yet.
    const reaches = await this.connections.readLiveReach(userIds, epochSeconds(this.clock.now()));
    return new Map([...reaches].map(([userId, reach]) => [userId, reach?.connections ?? []]));
  }

  private async recordMany(
    posted: readonly { readonly message: StoredMessage; readonly reached: readonly string[] }[],
  ): Promise<boolean> {
    try {
      const expiresAt = epochSeconds(this.clock.now()) + this.settings.recordTtlSeconds;
      await this.records.recordMany(
        posted.map(({ message, reached }) => ({ messageId: message.id, deviceKeys: reached })),
        expiresAt,
      );
      return true;
    } catch (error) {
      // Without the records fan-out serves every device of these messages (the SDK drops the repeats).
      const [first] = posted;
      this.logger.warn('direct delivery records failed', {
        ...(first ? correlationFields(correlationIdOf(first.message)) : {}),
        messages: posted.length,
        error: String(error),
      });
      return false;
    }
  }

  private async record(message: StoredMessage, reached: readonly string[]): Promise<boolean> {
    try {
      const expiresAt = epochSeconds(this.clock.now()) + this.settings.recordTtlSeconds;
      await this.records.record(message.id, reached, expiresAt);
      return true;
    } catch (error) {
      this.logger.warn('direct delivery record failed', {
        ...correlationFields(correlationIdOf(message)),
        reached: reached.length,
        error: String(error),
      });
      return false;
    }
  }
}

function isPrefetch(value: readonly string[] | ConnectionPrefetch): value is ConnectionPrefetch {
  return !Array.isArray(value);
}
