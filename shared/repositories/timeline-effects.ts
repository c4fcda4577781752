import type { Member } from '../model';
import { attachmentSendWrite, attachmentWithdrawWrite } from './attachment-repository';
import { directMemberIdsAttribute, memberWrites } from './conversation-repository';
import { type MessageUpdate, messageUpdateWrite } from './message-changes';
import { type CounterClaim, counterClaimWrite } from './rate-counter-repository';
import type { TransactItem } from './transact-item';

/**
 * What a timeline entry changes besides the timeline, committed atomically with it, said as the
 * domain says it. The repository turns it into the transaction's items; each carries its own
 * condition, and a failed one refuses the whole entry (`effectRejected`).
 */
export interface TimelineEffects {
  /** A text message's sender: still a member at this seq, and this becomes their last send. */
  readonly sentBy?: string;
  /**
   * A direct conversation's lastSeq when the sender's membership was read after its meta item (so
   * the member rows showed every change up to it). If the entry commits uncontended right after
   * that seq, no membership change can lie between, so the meta guard proves `sentBy` a member, and
   * the last send moves on the meta item instead of the member row: one transaction item (2 WRU) less.
   * This holds only while every membership change (removal, leaving, account deletion) is a timeline
   * entry that moves lastSeq: a path that set `leftSeq` without one would let a removed sender through.
   */
  readonly lastSendOnMetaAt?: number;
  /**
   * A direct chat's two members as the sender's device saw them (its `directChat` view): the meta item
   * must list both (`directMemberIds`). Committed uncontended, the meta guard then proves the sender a
   * member and the other the one recipient at this seq without a read, and the last send moves on the
   * meta item, as with `lastSendOnMetaAt`.
   */
  readonly directMembers?: readonly [string, string];
  /** The sender's rate-limit lease, claimed in the same transaction (the handler held none): nothing is written unless it fits. */
  readonly rateClaim?: CounterClaim;
  /** Attachments carried by the sender's message: each still ready and theirs, and from now on kept. */
  readonly attachmentsSent?: readonly string[];
  /** The group's new name. */
  readonly rename?: string;
  /** Members joining at this seq (a former member's row, exactly as read, is replaced and its periods kept). */
  readonly joins?: readonly { readonly member: Member; readonly former?: Member }[];
  /** The group may hold at most this many members once the joins are in. */
  readonly memberLimit?: number;
  /** A member leaving at this seq, whose role is still the one the decision was made on. */
  readonly leaves?: Member;
  /** Becomes an admin (the successor of a departing last admin). */
  readonly promotes?: string;
  /** Must still be a current admin when the entry commits (the admin a departure counts on). */
  readonly adminRemains?: string;
  /** A change's author: still a member at this seq (and an admin, when `asAdmin`); their last send stays. */
  readonly actor?: { readonly userId: string; readonly asAdmin?: boolean };
  /** The earlier text message a change entry updates, under the conditions it was decided on. */
  readonly changes?: { readonly seq: number; readonly update: MessageUpdate };
  /** A deleted message's attachments: from now on no longer served. */
  readonly attachmentsWithdrawn?: readonly string[];
}

export interface EffectTables {
  readonly conversations: string;
  /** Only writers of messages with attachments know the attachments table. */
  readonly attachments?: string;
  /** Writers of change entries update the message they change. */
  readonly messages?: string;
  /** Only senders that claim their rate-limit lease with the commit know the counters' table. */
  readonly rateLimits?: string;
}

/**
 * The meta item's changes and the extra transaction items that carry out `effects` at `seq`.
 * `lastSendOnMeta`: the commit's meta item takes the sender's last send (no member row item).
 */
export function effectWrites(
  tables: EffectTables,
  conversationId: string,
  seq: number,
  effects: TimelineEffects,
  lastSendOnMeta = false,
) {
  const joins = effects.joins ?? [];
  const memberCountChange = joins.length - (effects.leaves ? 1 : 0);
  const attachments = effects.attachmentsSent ?? [];
  const withdrawn = effects.attachmentsWithdrawn ?? [];
  if ((attachments.length > 0 || withdrawn.length > 0) && !tables.attachments) {
    throw new Error('effectWrites: attachments changed by a writer without the attachments table');
  }
  if (effects.changes && !tables.messages)
    throw new Error('effectWrites: a change by a writer without the messages table');
  if (effects.rateClaim && !tables.rateLimits)
    throw new Error('effectWrites: a rate-limit claim by a writer without the counters table');
  const items: TransactItem[] = [
    ...(effects.sentBy && !lastSendOnMeta
      ? [memberWrites.send(tables.conversations, conversationId, effects.sentBy, seq)]
      : []),
    ...attachments.map((attachmentId) =>
      attachmentSendWrite(tables.attachments ?? '', attachmentId, conversationId, effects.sentBy ?? '', seq),
    ),
    ...joins.map(({ member, former }) => memberWrites.add(tables.conversations, member, former)),
    ...(effects.leaves ? [memberWrites.remove(tables.conversations, effects.leaves, seq)] : []),
    ...(effects.promotes ? [memberWrites.promote(tables.conversations, conversationId, effects.promotes)] : []),
    ...(effects.adminRemains
      ? [memberWrites.staysAdmin(tables.conversations, conversationId, effects.adminRemains)]
      : []),
    ...(effects.actor
      ? [
          effects.actor.asAdmin
            ? memberWrites.staysAdmin(tables.conversations, conversationId, effects.actor.userId)
            : memberWrites.belongs(tables.conversations, conversationId, effects.actor.userId),
        ]
      : []),
    ...(effects.changes
      ? [messageUpdateWrite(tables.messages ?? '', conversationId, effects.changes.seq, seq, effects.changes.update)]
      : []),
    ...withdrawn.map((attachmentId) => attachmentWithdrawWrite(tables.attachments ?? '', attachmentId, seq)),
    ...(effects.rateClaim ? [counterClaimWrite(tables.rateLimits ?? '', effects.rateClaim)] : []),
  ];
  const metaContains: Record<string, readonly string[]> = effects.directMembers
    ? { [directMemberIdsAttribute]: [...effects.directMembers] }
    : {};
  const metaRemove: Record<string, string> = effects.leaves
    ? { [directMemberIdsAttribute]: effects.leaves.userId }
    : {};
  return {
    metaSet: effects.rename !== undefined ? { name: effects.rename } : {},
    metaAdd: memberCountChange !== 0 ? { memberCount: memberCountChange } : {},
    // Checked before the change: room for every joiner.
    metaAtMost: effects.memberLimit !== undefined ? { memberCount: effects.memberLimit - joins.length } : {},
    // Each must be in the set.
    metaContains,
    // A direct chat's member leaves its set (a no-op on groups, which keep none).
    metaRemove,
    items,
  };
}
