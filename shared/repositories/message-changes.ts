/**
 * How a change entry (edit, delete, reaction) updates the text message it names, in the same
 * transaction as the entry: one UpdateItem whose condition is exactly what the decision was made on,
 * so a change that raced another is refused whole and decided again.
 */
import type { TransactItem } from './transact-item';

/** A reaction is stored as one string set of user ids per emoji, a top-level attribute `react#<emoji>`. */
export const reactionAttributePrefix = 'react#';

export type MessageUpdate =
  | {
      readonly kind: 'edit';
      readonly text: string;
      readonly at: string;
      readonly senderId: string;
      /** The original was sent at or after this time (the edit window). */
      readonly sentFrom: string;
    }
  | {
      readonly kind: 'delete';
      readonly at: string;
      readonly by: string;
      /** Deleting one's own message: it must still be the caller's (an admin's delete names no sender). */
      readonly senderId?: string;
    }
  | {
      readonly kind: 'reaction';
      readonly emoji: string;
      readonly userId: string;
      /**
       * As read: `addNew` (nobody reacted with it yet: a new kind, within `maxKinds`), `add` (others
       * did), `remove` (the user and others did), `removeLast` (the user alone did).
       */
      readonly mode: 'addNew' | 'add' | 'remove' | 'removeLast';
      readonly maxKinds: number;
    };

/** The UpdateItem of the message at `targetSeq` that change entry `changeSeq` makes. */
export function messageUpdateWrite(
  messagesTable: string,
  conversationId: string,
  targetSeq: number,
  changeSeq: number,
  update: MessageUpdate,
): TransactItem {
  const names: Record<string, string> = { '#type': 'type' };
  const values: Record<string, unknown> = { ':text': 'text', ':changeSeq': changeSeq };
  // A live text message: never a system entry, a void, a change, or a tombstone.
  const conditions = ['attribute_exists(seq)', '#type = :text', 'attribute_not_exists(deletedAt)'];
  const sets = ['changedSeq = :changeSeq'];
  const clauses: string[] = [];
  switch (update.kind) {
    case 'edit':
      names['#body'] = 'text';
      values[':body'] = update.text;
      values[':at'] = update.at;
      values[':sender'] = update.senderId;
      values[':sentFrom'] = update.sentFrom;
      conditions.push('senderId = :sender', 'createdAt >= :sentFrom');
      sets.push('#body = :body', 'editedAt = :at');
      break;
    case 'delete':
      names['#body'] = 'text';
      values[':empty'] = '';
      values[':at'] = update.at;
      values[':by'] = update.by;
      if (update.senderId !== undefined) {
        values[':sender'] = update.senderId;
        conditions.push('senderId = :sender');
      }
      sets.push('#body = :empty', 'deletedAt = :at', 'deletedBy = :by');
      // A tombstone keeps no content; its reactions stay stored but are never shown.
      clauses.push('REMOVE attachments, replyTo');
      break;
    case 'reaction': {
      names['#reaction'] = `${reactionAttributePrefix}${update.emoji}`;
      values[':users'] = new Set([update.userId]);
      if (update.mode !== 'addNew') values[':user'] = update.userId;
      switch (update.mode) {
        case 'addNew':
          values[':one'] = 1;
          values[':maxKinds'] = update.maxKinds;
          conditions.push(
            'attribute_not_exists(#reaction)',
            '(attribute_not_exists(reactionKinds) OR reactionKinds < :maxKinds)',
          );
          clauses.push('ADD #reaction :users, reactionKinds :one');
          break;
        case 'add':
          conditions.push('attribute_exists(#reaction)', 'NOT contains(#reaction, :user)');
          clauses.push('ADD #reaction :users');
          break;
        case 'remove':
          values[':one'] = 1;
          conditions.push('contains(#reaction, :user)', 'size(#reaction) > :one');
          clauses.push('DELETE #reaction :users');
          break;
        case 'removeLast':
          values[':one'] = 1;
          values[':minusOne'] = -1;
          conditions.push('contains(#reaction, :user)', 'size(#reaction) = :one');
          clauses.push('REMOVE #reaction', 'ADD reactionKinds :minusOne');
          delete values[':users'];
          break;
      }
      break;
    }
  }
  return {
    Update: {
      TableName: messagesTable,
      Key: { conversationId, seq: targetSeq },
      UpdateExpression: [`SET ${sets.join(', ')}`, ...clauses].join(' '),
      ConditionExpression: conditions.join(' AND '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    },
  };
}
