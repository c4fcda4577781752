/**
 * Edits, deletes and reactions as the cache applies them: each change entry turns the message it
 * names into what history would now answer for it (docs/protocol.md, "Changing a message").
 */
import type { Message, Reaction } from '#shared/model';

const changeTypes: ReadonlySet<string> = new Set(['edit', 'delete', 'reaction']);

/** An entry that changes an earlier message (`edit`, `delete`, `reaction`) rather than saying something. */
export function isChangeEntry(message: Pick<Message, 'type'>): boolean {
  return changeTypes.has(message.type);
}

/**
 * The target as it is after `change`, or undefined when the change does not apply: it names another
 * message, or the target already shows it (history answered it with `changedSeq` at or past it).
 */
export function applyChange(target: Message, change: Message): Message | undefined {
  if (change.targetSeq !== target.seq || (target.changedSeq ?? 0) >= change.seq) return undefined;
  const changedSeq = change.seq;
  switch (change.type) {
    case 'edit':
      if (target.deletedAt !== undefined) return { ...target, changedSeq };
      return { ...target, text: change.text, editedAt: change.createdAt, changedSeq };
    case 'delete': {
      // A tombstone: no text, attachments, reply or reactions, as history shows it.
      const { attachments: _attachments, replyTo: _replyTo, reactions: _reactions, ...kept } = target;
      return { ...kept, text: '', deletedAt: change.createdAt, deletedBy: change.senderId, changedSeq };
    }
    case 'reaction': {
      if (change.emoji === undefined) return undefined;
      const reactions = reactionsAfter(target.reactions ?? [], change.emoji, change.senderId, change.removed === true);
      const { reactions: _before, ...rest } = target;
      if (target.deletedAt !== undefined) return { ...rest, changedSeq };
      return { ...rest, ...(reactions.length > 0 ? { reactions } : {}), changedSeq };
    }
    default:
      return undefined;
  }
}

/** Reactions after one user adds or takes back one emoji: most reacted first, then by emoji; users in id order. */
export function reactionsAfter(
  reactions: readonly Reaction[],
  emoji: string,
  userId: string,
  remove: boolean,
): Reaction[] {
  const others = reactions.filter((reaction) => reaction.emoji !== emoji);
  const users = new Set(reactions.find((reaction) => reaction.emoji === emoji)?.userIds ?? []);
  if (remove) users.delete(userId);
  else users.add(userId);
  const userIds = [...users].sort();
  const next = userIds.length > 0 ? [...others, { emoji, count: userIds.length, userIds }] : others;
  return next.sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
}
