import type { Member } from '../model';
import { attachmentSendWrite } from './attachment-repository';
import { memberWrites } from './conversation-repository';
import type { TransactItem } from './transact-item';

/**
 * What a timeline entry changes besides the timeline, committed atomically with it, said as the
 * domain says it. The repository turns it into the transaction's items; each carries its own
 * condition, and a failed one refuses the whole entry (`effectRejected`).
 */
export interface TimelineEffects {
  /** A text message's sender: still a member at this seq, and this becomes their last send. */
  readonly sentBy?: string;
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
}

export interface EffectTables {
  readonly conversations: string;
  /** Only writers of messages with attachments know the attachments table. */
  readonly attachments?: string;
}

/** The meta item's changes and the extra transaction items that carry out `effects` at `seq`. */
export function effectWrites(tables: EffectTables, conversationId: string, seq: number, effects: TimelineEffects) {
  const joins = effects.joins ?? [];
  const memberCountChange = joins.length - (effects.leaves ? 1 : 0);
  const attachments = effects.attachmentsSent ?? [];
  if (attachments.length > 0 && !tables.attachments) {
    throw new Error('effectWrites: attachments sent by a writer without the attachments table');
  }
  const items: TransactItem[] = [
    ...(effects.sentBy ? [memberWrites.send(tables.conversations, conversationId, effects.sentBy, seq)] : []),
    ...attachments.map((attachmentId) =>
      attachmentSendWrite(tables.attachments ?? '', attachmentId, conversationId, effects.sentBy ?? '', seq),
    ),
    ...joins.map(({ member, former }) => memberWrites.add(tables.conversations, member, former)),
    ...(effects.leaves ? [memberWrites.remove(tables.conversations, effects.leaves, seq)] : []),
    ...(effects.promotes ? [memberWrites.promote(tables.conversations, conversationId, effects.promotes)] : []),
    ...(effects.adminRemains
      ? [memberWrites.staysAdmin(tables.conversations, conversationId, effects.adminRemains)]
      : []),
  ];
  return {
    metaSet: effects.rename !== undefined ? { name: effects.rename } : {},
    metaAdd: memberCountChange !== 0 ? { memberCount: memberCountChange } : {},
    // Checked before the change: room for every joiner.
    metaAtMost: effects.memberLimit !== undefined ? { memberCount: effects.memberLimit - joins.length } : {},
    items,
  };
}
