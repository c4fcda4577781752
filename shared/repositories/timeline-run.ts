/**
 * The one TransactWriteItems that commits timeline entries at consecutive seqs: the conversation's
 * meta item moves lastSeq over all of them, each entry brings its message, idempotency claim and
 * effects, and a parked entry's item is removed with it. One entry (the uncontended send) or a run
 * of queued ones: the same transaction, so a run is gap-free and atomic, and its seqs reach the
 * stream together.
 */
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { tables } from '../config/tables';
import { conversationKeys, idempotencyKey } from '../keys';
import { isChange, type StoredMessage } from '../model';
import { memberWrites, metaLastSend } from './conversation-repository';
import { effectWrites, type TimelineEffects } from './timeline-effects';
import type { TransactItem } from './transact-item';

export interface TableNames {
  readonly conversations: string;
  readonly messages: string;
  readonly idempotency: string;
  /** Only writers of messages that carry attachments need (and are granted) it. */
  readonly attachments?: string;
  /** Only senders that claim their rate-limit lease in the commit need it. */
  readonly rateLimits?: string;
}

/** Why an entry was left out of its seq (which a void then fills). */
export type Refusal =
  /** A bound in the meta item or a condition of an effect failed. */
  | 'rejected'
  /** The sender already sent this clientMessageId. */
  | 'duplicate';

/** What commits at one seq of a run. */
export interface RunEntry {
  readonly message: StoredMessage;
  readonly effects?: TimelineEffects;
  /** The entry waits parked in the conversation's partition: its parked item goes with the commit. */
  readonly parked?: boolean;
  /** A void filling the seq of a parked entry that was refused: its parked item records why. */
  readonly refusal?: Refusal;
}

/**
 * How the meta item guards the seqs:
 * - `optimistic`: the uncontended path: lastSeq and nextSeq both still equal the expected value
 *   (nobody committed or queued meanwhile), and both move.
 * - `queued`: the seqs were handed out as tickets (nextSeq is past them): lastSeq must equal the
 *   seq before the run, so runs commit strictly in order. With a {@link RunLease}, a run behind
 *   which tickets wait records that its writer goes on (`runLeaseUntil`), so parked senders leave
 *   the next run to it; any other run clears the lease.
 */
export type SeqGuard = ({ readonly kind: 'optimistic' } | ({ readonly kind: 'queued' } & Partial<RunLease>)) & {
  /** Epoch ms of a queued run's commit, kept on the meta item (`lastRunAt`): how hot the conversation is. */
  readonly committedAt?: number;
};

/** A writer that goes on committing runs while tickets wait beyond its run. */
export interface RunLease {
  /** Epoch ms; past it, parked senders take the next run themselves. */
  readonly leaseUntil: number;
  /** The last seq handed out as a ticket when the run's entries were read. */
  readonly queueTail: number;
}

/** DynamoDB's cap on actions in one TransactWriteItems. */
export const MAX_TRANSACTION_ACTIONS = 100;

/** What each action of the transaction stands for, to read its cancellation reason. */
type ActionRole =
  | { readonly kind: 'meta' }
  | { readonly kind: 'message' | 'parked' }
  /** The idempotency claim of `entries[0]`. */
  | { readonly kind: 'claim'; readonly entries: readonly number[] }
  /** An effect's item; a sender's last-send update serves all of the run's entries of that sender. */
  | { readonly kind: 'effect'; readonly entries: number[] };

export interface RunPlan {
  readonly items: readonly TransactItem[];
  readonly roles: readonly ActionRole[];
  /** How many of the offered entries (from the first) the transaction commits. */
  readonly count: number;
  /** The run records that its writer commits the next run too. */
  readonly leased: boolean;
}

/**
 * The transaction for the longest prefix of `offered` (at seqs previous + 1, previous + 2, ...)
 * that fits: at most 100 actions, no item twice (a sender's last-send update is shared by the
 * sender's entries instead), and only the first entry may change the meta item (a membership
 * event's count and bound are then exactly its own). The first entry always fits.
 */
export function planRun(
  tableNames: TableNames,
  previous: number,
  offered: readonly RunEntry[],
  guard: SeqGuard,
): RunPlan {
  const keyOf = itemKeyReader(tableNames);
  const body: TransactItem[] = [];
  const roles: ActionRole[] = [];
  // Item key -> index in body; a sender's last-send update is the one kind that merges.
  const taken = new Map<string, number>();
  const lastSends = new Set<string>();
  // Senders whose last send the meta item takes (see TimelineEffects.lastSendOnMetaAt), with its seq.
  const metaLastSends = new Map<string, number>();
  let count = 0;
  for (const [index, entry] of offered.entries()) {
    const { message } = entry;
    const effects = entry.effects ?? {};
    if (message.seq !== previous + index + 1)
      throw new Error(`planRun: entry ${index} is not at seq ${previous + index + 1}`);
    const lastSendOnMeta =
      guard.kind === 'optimistic' &&
      effects.sentBy !== undefined &&
      (effects.lastSendOnMetaAt === previous || (index === 0 && effects.directMembers !== undefined));
    const writes = effectWrites(tableNames, message.conversationId, message.seq, effects, lastSendOnMeta);
    const changesMeta = [
      writes.metaSet,
      writes.metaAdd,
      writes.metaAtMost,
      writes.metaContains,
      writes.metaRemove,
    ].some((m) => Object.keys(m).length > 0);
    const unwritable =
      ((effects.attachmentsSent?.length ?? 0) > 0 || (effects.attachmentsWithdrawn?.length ?? 0) > 0) &&
      tableNames.attachments === undefined;
    if (index > 0 && (changesMeta || unwritable)) break;

    const own: { item: TransactItem; role: ActionRole }[] = [
      { item: messagePut(tableNames, message), role: { kind: 'message' } },
      // Sends, and changes that came with a clientMessageId: a retry finds what it made.
      ...(message.clientMessageId !== undefined
        ? [{ item: claimPut(tableNames, message), role: { kind: 'claim' as const, entries: [index] } }]
        : []),
    ];
    const lastSend = effects.sentBy
      ? keyOf(memberWrites.send(tableNames.conversations, message.conversationId, effects.sentBy, message.seq))
      : undefined;
    const merges: { at: number; item: TransactItem }[] = [];
    for (const item of writes.items) {
      const key = keyOf(item);
      const at = taken.get(key);
      if (key === lastSend && at !== undefined && lastSends.has(key)) merges.push({ at, item });
      else own.push({ item, role: { kind: 'effect', entries: [index] } });
    }
    if (entry.parked) {
      const parkedKey = conversationKeys.parked(message.conversationId, message.seq);
      own.push({
        item: entry.refusal
          ? {
              Update: {
                TableName: tableNames.conversations,
                Key: parkedKey,
                UpdateExpression: 'SET outcome = :refusal',
                ExpressionAttributeValues: { ':refusal': entry.refusal },
              },
            }
          : { Delete: { TableName: tableNames.conversations, Key: parkedKey } },
        role: { kind: 'parked' },
      });
    }
    const keys = own.map(({ item }) => keyOf(item));
    const collides = keys.some((key, i) => taken.has(key) || keys.indexOf(key) !== i);
    if (index > 0 && (collides || 1 + body.length + own.length > MAX_TRANSACTION_ACTIONS)) break;

    for (const { at, item } of merges) {
      // A later seq of the same sender: the update moves lastSentSeq to it, under the same condition.
      body[at] = item;
      const role = roles[at];
      if (role?.kind === 'effect') role.entries.push(index);
    }
    for (const [i, { item, role }] of own.entries()) {
      taken.set(keys[i] as string, body.length);
      if (keys[i] === lastSend) lastSends.add(keys[i] as string);
      body.push(item);
      roles.push(role);
    }
    if (lastSendOnMeta && effects.sentBy !== undefined) metaLastSends.set(effects.sentBy, message.seq);
    count += 1;
  }
  const committed = offered.slice(0, count);
  const first = committed[0];
  if (!first) throw new Error('planRun: nothing to commit');
  const firstWrites = effectWrites(tableNames, first.message.conversationId, first.message.seq, first.effects ?? {});
  // Changes (edits, deletes, reactions) move neither the conversation's last message nor its activity time.
  const messages = committed.filter((entry) => !isChange(entry.message));
  const changes = committed.filter((entry) => isChange(entry.message));
  const progress: RunProgress = {
    // ISO times sort as text: the run's newest.
    lastMessageAt: messages
      .map((entry) => entry.message.createdAt)
      .sort()
      .at(-1),
    lastMessageSeq: messages.at(-1)?.message.seq,
    lastChangeSeq: changes.at(-1)?.message.seq,
  };
  const goesOn =
    guard.kind === 'queued' && guard.queueTail !== undefined && previous + count < guard.queueTail
      ? guard.leaseUntil
      : undefined;
  const lease = guard.kind === 'optimistic' ? undefined : (goesOn ?? ('clear' as const));
  const meta = metaUpdate(
    previous,
    previous + count,
    { ...progress, lastSends: metaLastSends },
    guard.kind,
    firstWrites,
    lease,
    guard.committedAt,
  );
  return {
    items: [
      {
        Update: {
          TableName: tableNames.conversations,
          Key: conversationKeys.meta(first.message.conversationId),
          ...meta,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      ...body,
    ],
    roles: [{ kind: 'meta' }, ...roles],
    count,
    leased: typeof lease === 'number',
  };
}

/** Why a run's transaction was cancelled. */
export type RunCancellation =
  | { readonly kind: 'conversationGone' }
  /** The seq after `previous` was not the run's to take (it moved, or is queued for). */
  | { readonly kind: 'notNext'; readonly lastSeq: number; readonly nextSeq: number }
  /** Entries (by index) whose own conditions failed; `original` is the claim a duplicate ran into. */
  | {
      readonly kind: 'refused';
      readonly refused: ReadonlyMap<number, Refusal>;
      readonly original?: Record<string, unknown>;
    }
  /** Another transaction held one of the items: nothing is known to be wrong, try again. */
  | { readonly kind: 'conflict' };

/** Reads the cancellation reasons of `plan`'s transaction (undefined: none that explains it). */
export function readCancellation(
  plan: RunPlan,
  offered: readonly RunEntry[],
  reasons: readonly CancellationReason[],
  previous: number,
  guard: SeqGuard['kind'],
): RunCancellation | undefined {
  const refused = new Map<number, Refusal>();
  let original: Record<string, unknown> | undefined;
  reasons.forEach((reason, i) => {
    const role = plan.roles[i];
    if (reason.Code !== 'ConditionalCheckFailed' || !role) return;
    if (role.kind === 'claim') {
      for (const entry of role.entries) refused.set(entry, 'duplicate');
      if (reason.Item) original ??= unmarshall(reason.Item);
    } else if (role.kind === 'effect') {
      for (const entry of role.entries) if (!refused.has(entry)) refused.set(entry, 'rejected');
    }
  });
  const metaReason = reasons[0];
  if (metaReason?.Code === 'ConditionalCheckFailed') {
    if (!metaReason.Item) return { kind: 'conversationGone' };
    const current = unmarshall(metaReason.Item);
    const lastSeq = Number(current.lastSeq ?? 0);
    const nextSeq = Math.max(lastSeq, Number(current.nextSeq ?? 0));
    const seqWasFree = lastSeq === previous && (guard === 'queued' || nextSeq === previous);
    // A retry of a sent message is answered with the original even when the seq moved too.
    if (!seqWasFree && !(guard === 'optimistic' && original)) return { kind: 'notNext', lastSeq, nextSeq };
    // The seq was the run's to take, so a bound in the first entry's meta change is what failed.
    const firstEffects = offered[0]?.effects;
    if (seqWasFree && (firstEffects?.memberLimit !== undefined || firstEffects?.directMembers !== undefined))
      refused.set(0, refused.get(0) ?? 'rejected');
    if (refused.size === 0) return { kind: 'notNext', lastSeq, nextSeq };
  }
  if (refused.size > 0) return { kind: 'refused', refused, ...(original ? { original } : {}) };
  if (reasons.some((reason) => reason.Code === 'TransactionConflict')) return { kind: 'conflict' };
  return undefined;
}

function messagePut(tableNames: TableNames, message: StoredMessage): TransactItem {
  return {
    Put: { TableName: tableNames.messages, Item: { ...message }, ConditionExpression: 'attribute_not_exists(seq)' },
  };
}

/** Only what a client sent carries a clientMessageId to claim; voids and system events do not. */
function claimPut(tableNames: TableNames, message: StoredMessage): TransactItem {
  if (message.clientMessageId === undefined) throw new Error('commit: clientMessageId is required');
  return {
    Put: {
      TableName: tableNames.idempotency,
      Item: {
        idempotencyKey: idempotencyKey(message.conversationId, message.senderId, message.clientMessageId),
        conversationId: message.conversationId,
        seq: message.seq,
        messageId: message.id,
        createdAt: message.createdAt,
      },
      ConditionExpression: 'attribute_not_exists(idempotencyKey)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The key an action touches, as `table key-json`: one transaction may touch an item once. */
function itemKeyReader(tableNames: TableNames) {
  const keyAttributes = new Map<string, readonly string[]>();
  for (const [table, name] of Object.entries(tableNames) as [keyof TableNames, string | undefined][]) {
    const spec = tables[table];
    if (name !== undefined) {
      keyAttributes.set(
        name,
        'sortKey' in spec ? [spec.partitionKey.name, spec.sortKey.name] : [spec.partitionKey.name],
      );
    }
  }
  return (item: TransactItem): string => {
    const request = item.Put ?? item.Update ?? item.Delete ?? item.ConditionCheck;
    if (!request) throw new Error('planRun: an action without a request');
    const record: Record<string, unknown> = ('Item' in request ? request.Item : request.Key) ?? {};
    const key = (keyAttributes.get(request.TableName ?? '') ?? []).map((attribute) => record[attribute]);
    return `${request.TableName} ${JSON.stringify(key)}`;
  };
}

/** What a run moves on the meta item besides lastSeq: the newest message (not change) and the newest change. */
interface RunProgress {
  readonly lastMessageAt: string | undefined;
  readonly lastMessageSeq: number | undefined;
  readonly lastChangeSeq: number | undefined;
  /** Senders' last sends kept on the meta item (a direct conversation's, uncontended). */
  readonly lastSends?: ReadonlyMap<string, number>;
}

/** The meta item's update: move lastSeq from `previous` to `lastSeq`, plus whatever the effects change. */
function metaUpdate(
  previous: number,
  lastSeq: number,
  progress: RunProgress,
  guard: SeqGuard['kind'],
  effects: Omit<ReturnType<typeof effectWrites>, 'items'>,
  lease: number | 'clear' | undefined,
  committedAt: number | undefined,
) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = { ':seq': lastSeq, ':previous': previous };
  const sets = guard === 'optimistic' ? ['lastSeq = :seq', 'nextSeq = :seq'] : ['lastSeq = :seq'];
  if (progress.lastMessageSeq !== undefined && progress.lastMessageAt !== undefined) {
    sets.push('lastMessageAt = :at', 'lastMessageSeq = :messageSeq');
    values[':at'] = progress.lastMessageAt;
    values[':messageSeq'] = progress.lastMessageSeq;
  } else {
    // Changes alone: a conversation from before changes existed had every seq up to `previous` a message.
    sets.push('lastMessageSeq = if_not_exists(lastMessageSeq, :previous)');
  }
  if (progress.lastChangeSeq !== undefined) {
    sets.push('lastChangeSeq = :changeSeq');
    values[':changeSeq'] = progress.lastChangeSeq;
  }
  if (typeof lease === 'number') {
    sets.push('runLeaseUntil = :lease');
    values[':lease'] = lease;
  }
  if (committedAt !== undefined) {
    sets.push('lastRunAt = :committedAt');
    values[':committedAt'] = committedAt;
  }
  [...(progress.lastSends ?? [])].forEach(([senderId, seq], i) => {
    names[`#sent${i}`] = metaLastSend.attribute(senderId);
    values[`:sent${i}`] = seq;
    sets.push(`#sent${i} = :sent${i}`);
  });
  const conditions =
    guard === 'optimistic'
      ? ['attribute_exists(pk)', 'lastSeq = :previous', 'nextSeq = :previous']
      : ['attribute_exists(pk)', 'lastSeq = :previous'];
  const adds: string[] = [];
  const bind = (prefix: string, index: number, attribute: string, value: unknown) => {
    names[`#${prefix}${index}`] = attribute;
    values[`:${prefix}${index}`] = value;
    return [`#${prefix}${index}`, `:${prefix}${index}`] as const;
  };
  Object.entries(effects.metaSet).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('set', i, attribute, value);
    sets.push(`${name} = ${placeholder}`);
  });
  Object.entries(effects.metaAdd).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('add', i, attribute, value);
    adds.push(`${name} ${placeholder}`);
  });
  Object.entries(effects.metaAtMost).forEach(([attribute, value], i) => {
    const [name, placeholder] = bind('max', i, attribute, value);
    conditions.push(`${name} <= ${placeholder}`);
  });
  Object.entries(effects.metaContains).forEach(([attribute, elements], i) => {
    names[`#has${i}`] = attribute;
    elements.forEach((element, k) => {
      values[`:has${i}_${k}`] = element;
      conditions.push(`contains(#has${i}, :has${i}_${k})`);
    });
  });
  const deletes = Object.entries(effects.metaRemove).map(([attribute, element], i) => {
    const [name, placeholder] = bind('del', i, attribute, new Set([element]));
    return `${name} ${placeholder}`;
  });
  return {
    UpdateExpression: [
      `SET ${sets.join(', ')}`,
      ...(adds.length > 0 ? [`ADD ${adds.join(', ')}`] : []),
      ...(deletes.length > 0 ? [`DELETE ${deletes.join(', ')}`] : []),
      ...(lease === 'clear' ? ['REMOVE runLeaseUntil'] : []),
    ].join(' '),
    ConditionExpression: conditions.join(' AND '),
    ExpressionAttributeValues: values,
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
  };
}
