import { describe, expect, it } from 'vitest';
import { messageIds } from '#shared/keys';
import type { StoredMessage } from '#shared/model';
import { planRun, type RunEntry, readCancellation } from '#shared/repositories/timeline-run';
import type { TransactItem } from '#shared/repositories/transact-item';

const tables = { conversations: 'Conversations', messages: 'Messages', idempotency: 'Idempotency', attachments: 'Att' };
/** Tickets handed out up to seq 40. */
const queued = { kind: 'queued', leaseUntil: 1_000, queueTail: 40 } as const;

function send(seq: number, senderId: string, extra: { attachments?: string[]; clientMessageId?: string } = {}) {
  const message: StoredMessage = {
    id: messageIds.format('c', seq),
    conversationId: 'c',
    seq,
    senderId,
    type: 'text',
    text: `text ${seq}`,
    createdAt: `2026-01-01T00:00:${String(seq % 60).padStart(2, '0')}.000Z`,
    clientMessageId: extra.clientMessageId ?? `m${seq}`,
  };
  return {
    message,
    effects: { sentBy: senderId, ...(extra.attachments ? { attachmentsSent: extra.attachments } : {}) },
    parked: true,
  } satisfies RunEntry;
}

const sends = (from: number, count: number, senderOf: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => send(from + i, senderOf(i)));

const keyOf = (item: TransactItem) => JSON.stringify((item.Update ?? item.Delete)?.Key ?? item.Put?.Item);

describe('planRun', () => {
  it('commits consecutive entries with one meta update and one last-send update per sender, at its last seq', () => {
    // The whole queue: no ticket waits beyond the run.
    const plan = planRun(
      tables,
      10,
      sends(11, 5, (i) => (i % 2 === 0 ? 'ann' : 'ben')),
      { ...queued, queueTail: 15 },
    );

    expect(plan.count).toBe(5);
    const meta = plan.items[0]?.Update;
    expect(meta?.ExpressionAttributeValues).toMatchObject({ ':seq': 15, ':previous': 10 });
    expect(meta?.UpdateExpression).toContain('REMOVE runLeaseUntil');
    const lastSends = plan.items.filter((item) => item.Update?.UpdateExpression === 'SET lastSentSeq = :seq');
    expect(lastSends.map((item) => [item.Update?.Key?.sk, item.Update?.ExpressionAttributeValues?.[':seq']])).toEqual([
      ['MEMBER#ann', 15],
      ['MEMBER#ben', 14],
    ]);
    // Per entry: the message, its claim, its parked item; plus the meta and two last-send updates.
    expect(plan.items).toHaveLength(1 + 5 * 3 + 2);
    expect(new Set(plan.items.map(keyOf)).size).toBe(plan.items.length);
  });

  it("keeps a direct sender's last send on the meta item only when the run commits right after the membership read", () => {
    const entries = (readAt: number) =>
      [11, 12].map((seq) => {
        const { message, effects } = send(seq, 'ann');
        return { message, effects: { ...effects, lastSendOnMetaAt: readAt } } satisfies RunEntry;
      });
    const memberRows = (plan: ReturnType<typeof planRun>) =>
      plan.items.filter((item) => item.Update?.Key?.sk === 'MEMBER#ann');

    const onMeta = planRun(tables, 10, entries(10), { kind: 'optimistic' });
    expect(onMeta.count).toBe(2);
    expect(memberRows(onMeta)).toEqual([]);
    const meta = onMeta.items[0]?.Update;
    expect(meta?.UpdateExpression).toContain('#sent0 = :sent0');
    expect(meta?.ExpressionAttributeNames).toMatchObject({ '#sent0': 'lastSentSeq#ann' });
    expect(meta?.ExpressionAttributeValues).toMatchObject({ ':sent0': 12 });
    // Per entry the message and its claim, and the meta item: no member row.
    expect(onMeta.items).toHaveLength(1 + 2 * 2);

    // Something committed since the read (9 -> 10), or the seqs were queued: the member row proves membership.
    for (const plan of [
      planRun(tables, 10, entries(9), { kind: 'optimistic' }),
      planRun(tables, 10, entries(10), { kind: 'queued' }),
    ]) {
      expect(memberRows(plan).map((item) => item.Update?.ExpressionAttributeValues?.[':seq'])).toEqual([12]);
      expect(plan.items[0]?.Update?.UpdateExpression).not.toContain('#sent');
    }
  });

  it('stops at 100 actions, and takes the lease as tickets wait beyond the run', () => {
    const plan = planRun(
      tables,
      0,
      sends(1, 40, () => 'ann'),
      queued,
    );

    expect(plan.items.length).toBeLessThanOrEqual(100);
    expect(plan.count).toBe(32);
    expect(plan.leased).toBe(true);
    expect(plan.items[0]?.Update?.ExpressionAttributeValues).toMatchObject({ ':lease': 1_000 });
  });

  it('stops before an entry that would touch an item of the run again', () => {
    const sameAttachment = [
      send(1, 'ann', { attachments: ['a1'] }),
      send(2, 'ann'),
      send(3, 'ann', { attachments: ['a1'] }),
    ];
    const sameClaim = [send(1, 'ann', { clientMessageId: 'x' }), send(2, 'ann', { clientMessageId: 'x' })];

    expect(planRun(tables, 0, sameAttachment, queued).count).toBe(2);
    expect(planRun(tables, 0, sameClaim, queued).count).toBe(1);
  });

  it('lets only the first entry change the meta item, and keeps a member row to one change', () => {
    const { clientMessageId: _none, ...text } = send(2, 'ann').message;
    const removal: RunEntry = {
      message: { ...text, type: 'system' },
      effects: {
        leaves: { conversationId: 'c', userId: 'ben', role: 'member', joinedAt: 'then', joinedSeq: 1 },
      },
    };

    expect(planRun(tables, 0, [send(1, 'ann'), removal], queued).count).toBe(1);
    expect(planRun(tables, 1, [removal, send(3, 'ann'), send(4, 'ben')], queued).count).toBe(2);
  });
});

describe('readCancellation', () => {
  const offered = [send(1, 'ann'), send(2, 'ben'), send(3, 'ann')];
  const plan = planRun(tables, 0, offered, queued);
  const reasons = (failing: (item: TransactItem) => boolean) =>
    plan.items.map((item) => ({ Code: failing(item) ? 'ConditionalCheckFailed' : 'None' }));

  it("refuses every entry of a sender whose last-send update failed (the sender's membership)", () => {
    const cancellation = readCancellation(
      plan,
      offered,
      reasons((item) => item.Update?.Key?.sk === 'MEMBER#ann'),
      0,
      'queued',
    );

    expect(cancellation).toEqual({
      kind: 'refused',
      refused: new Map([
        [0, 'rejected'],
        [2, 'rejected'],
      ]),
    });
  });

  it('calls a failed claim a duplicate, and a moved seq not the run’s whatever else failed', () => {
    const claimOf2 = (item: TransactItem) => item.Put?.Item?.idempotencyKey === 'c#ben#m2';
    expect(readCancellation(plan, offered, reasons(claimOf2), 0, 'queued')).toMatchObject({
      kind: 'refused',
      refused: new Map([[1, 'duplicate']]),
    });

    const moved = reasons((item) => item === plan.items[0] || claimOf2(item)).map((reason, i) =>
      i === 0 ? { ...reason, Item: { lastSeq: { N: '3' }, nextSeq: { N: '5' } } } : reason,
    );
    expect(readCancellation(plan, offered, moved, 0, 'queued')).toEqual({ kind: 'notNext', lastSeq: 3, nextSeq: 5 });
  });
});
