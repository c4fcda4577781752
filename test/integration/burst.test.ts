/**
 * Many concurrent sends into one conversation (an SDK flushing its outbox on reconnect, a bot, a busy
 * group): queued sends park their entries and whoever is next in line commits them together. Whatever
 * the interleaving: seqs gap-free, each clientMessageId once, the stream in seq order, membership
 * checked at the seq each send lands on. No timing is asserted here (the bench measures it).
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { limits } from '#shared/config/limits';
import { NotFoundError } from '#shared/errors';
import { messageIds } from '#shared/keys';
import type { StoredMessage } from '#shared/model';
import { MessagingService, type SendMessageResult } from '#shared/services/messaging-service';
import { TimelineWriter } from '#shared/services/timeline-writer';
import { createLocalDynamoDbClient, createLocalStreamsClient } from '../../local/aws-local';
import { fixedClock, type TestTables, uniqueNames, useTestTables } from '../support/test-tables';

let db: TestTables;

beforeAll(async () => {
  db = await useTestTables('burst');
});

const names = uniqueNames('b');

/**
 * Sends as the handlers do, with room for a loaded test machine: no send gives up on its seq here (90
 * racing sends took 4.6 s on a quiet machine and over 45 s at load 9, where a 45 s budget answered busy).
 */
const sendBudgetMs = 150_000;
vi.setConfig({ testTimeout: sendBudgetMs + 30_000 });

function messaging(
  stallTimeoutMs: number = limits.seqStallTimeoutMs,
  queueAfterRunMs: number = limits.seqQueueAfterRunMs,
) {
  const writer = new TimelineWriter(db.repositories.messages, fixedClock, {
    budgetMs: sendBudgetMs,
    stallTimeoutMs,
    queueAfterRunMs,
  });
  return new MessagingService(db.repositories.conversations, writer, db.services.sendableAttachments);
}

async function direct() {
  const [alice, bob] = names('alice', 'bob');
  const { conversation } = await db.services.conversations.create({
    creatorId: alice,
    type: 'direct',
    memberIds: [bob],
  });
  return { conversationId: conversation.id, alice, bob };
}

async function group(size: number) {
  const members = names(...Array.from({ length: size }, (_, i) => `m${i}`));
  const [admin, ...others] = members as [string, ...string[]];
  const { conversation } = await db.services.conversations.create({
    creatorId: admin,
    type: 'group',
    name: 'Busy',
    memberIds: others,
  });
  return { conversationId: conversation.id, members };
}

/** The whole timeline, checked gap-free: the entry at index i holds seq i + 1, up to META's lastSeq. */
async function gapFreeTimeline(conversationId: string): Promise<StoredMessage[]> {
  const { conversation } = await db.repositories.conversations.getWithMembers(conversationId);
  const lastSeq = conversation?.lastSeq ?? 0;
  const entries = await db.timeline(conversationId, 1, lastSeq);
  expect(entries.map((entry) => entry.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
  for (const entry of entries) expect(entry.id).toBe(messageIds.format(conversationId, entry.seq));
  return entries;
}

/** The seqs of the conversation's INSERTs, in the order the messages table's stream carries them. */
async function streamedSeqs(conversationId: string): Promise<number[]> {
  const endpoint = inject('dynamoEndpoint');
  const { Table } = await createLocalDynamoDbClient(endpoint).send(
    new DescribeTableCommand({ TableName: db.tableName('messages') }),
  );
  const streams = createLocalStreamsClient(endpoint);
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: Table?.LatestStreamArn }));
  const seqs: number[] = [];
  for (const shard of StreamDescription?.Shards ?? []) {
    let iterator = (
      await streams.send(
        new GetShardIteratorCommand({
          StreamArn: Table?.LatestStreamArn,
          ShardId: shard.ShardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      )
    ).ShardIterator;
    while (iterator) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records = page.Records ?? [];
      for (const record of records) {
        const image = record.dynamodb?.NewImage;
        if (record.eventName === 'INSERT' && image?.conversationId?.S === conversationId) {
          seqs.push(Number(image.seq?.N));
        }
      }
      // An open shard always hands back another iterator: stop at the first empty page.
      iterator = records.length > 0 ? page.NextShardIterator : undefined;
    }
  }
  return seqs;
}

const textsOf = (entries: readonly StoredMessage[]) => entries.filter((entry) => entry.type === 'text');

function settledAnswers(outcomes: readonly PromiseSettledResult<SendMessageResult>[]) {
  const rejected = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason] : []));
  const answers = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
  return { answers, rejected };
}

describe('a burst into one conversation', () => {
  it('commits 100 concurrent sends from one device: gap-free, each clientMessageId once, streamed in seq order', async () => {
    const { conversationId, alice } = await direct();
    const sender = messaging();

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        sender.send({
          senderId: alice,
          senderDeviceId: 'phone',
          conversationId,
          clientMessageId: `c${i}`,
          text: `burst ${i}`,
        }),
      ),
    );

    expect(answers.filter((answer) => answer.duplicate)).toEqual([]);
    const entries = await gapFreeTimeline(conversationId);
    const texts = textsOf(entries);
    expect(texts.map((m) => m.clientMessageId).sort()).toEqual(answers.map((_, i) => `c${i}`).sort());
    // Each answer names the message its seq holds (a void fills any seq abandoned on the way).
    for (const { message } of answers) {
      expect(entries[message.seq - 1]).toMatchObject({ text: message.text, senderDeviceId: 'phone' });
    }
    expect(
      entries.filter((entry) => entry.type !== 'text' && entry.seq > 1).every((entry) => entry.type === 'void'),
    ).toBe(true);
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
    // The sender's row moved to its last send, once per run however many of its sends the run held.
    const { members } = await db.repositories.conversations.getWithMembers(conversationId);
    expect(members.find((m) => m.userId === alice)?.lastSentSeq).toBe(Math.max(...texts.map((m) => m.seq)));
  });

  it('commits 100 sends from 16 senders at once, each sender last-sent at its own last message', async () => {
    const { conversationId, members } = await group(16);
    const sender = messaging();

    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        sender.send({
          senderId: members[i % 16] as string,
          conversationId,
          clientMessageId: `c${i}`,
          text: `from ${i % 16}: ${i}`,
        }),
      ),
    );

    const entries = await gapFreeTimeline(conversationId);
    const texts = textsOf(entries);
    expect(texts).toHaveLength(100);
    expect(new Set(answers.map((answer) => answer.message.seq)).size).toBe(100);
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
    const { members: rows } = await db.repositories.conversations.getWithMembers(conversationId);
    for (const row of rows) {
      const last = Math.max(...texts.filter((m) => m.senderId === row.userId).map((m) => m.seq));
      expect(row.lastSentSeq).toBe(last);
    }
  });

  it('stores each clientMessageId once when every send of the burst races two retries of itself', async () => {
    const { conversationId, alice, bob } = await direct();
    const sender = messaging();

    const answers = await Promise.all(
      Array.from({ length: 90 }, (_, i) => {
        const k = i % 30;
        return sender.send({
          senderId: k % 2 === 0 ? alice : bob,
          conversationId,
          clientMessageId: `same-${k}`,
          text: `once ${k}`,
        });
      }),
    );

    const entries = await gapFreeTimeline(conversationId);
    const texts = textsOf(entries);
    expect(texts).toHaveLength(30);
    expect(new Set(texts.map((m) => m.clientMessageId)).size).toBe(30);
    // Any other seq a racing retry queued for holds a void.
    expect(entries.filter((m) => m.type !== 'text' && m.seq > 1).every((m) => m.type === 'void')).toBe(true);
    for (let k = 0; k < 30; k++) {
      const forK = answers.filter((answer) => answer.message.clientMessageId === `same-${k}`);
      expect(forK).toHaveLength(3);
      expect(new Set(forK.map((answer) => answer.message.id)).size).toBe(1);
      expect(forK.filter((answer) => !answer.duplicate)).toHaveLength(1);
      expect(entries[(forK[0]?.message.seq ?? 0) - 1]?.clientMessageId).toBe(`same-${k}`);
    }
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
  });

  it('answers a retry into a hot conversation with its original, stored once (its queued seq holds a void)', async () => {
    const { conversationId, alice, bob } = await direct();
    // However slow the machine: every send queues (none tries the optimistic commit, even before the
    // first run), and no slow ticket holder is taken for abandoned (its void would be a second one).
    const sender = messaging(sendBudgetMs, Number.POSITIVE_INFINITY);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sender.send({ senderId: alice, conversationId, clientMessageId: `c${i}`, text: `burst ${i}` }),
      ),
    );

    // The retry takes a ticket with no lookup first; its claim refuses it in the run.
    const [retry, other] = await Promise.all([
      sender.send({ senderId: alice, conversationId, clientMessageId: 'c3', text: 'burst 3' }),
      sender.send({ senderId: bob, conversationId, clientMessageId: 'other', text: 'other' }),
    ]);

    expect(retry).toEqual({ duplicate: true, message: burst[3]?.message });
    expect(other?.duplicate).toBe(false);
    const entries = await gapFreeTimeline(conversationId);
    expect(
      textsOf(entries)
        .map((m) => m.clientMessageId)
        .sort(),
    ).toEqual([...burst.map((answer) => answer.message.clientMessageId), 'other'].sort());
    expect(entries.filter((m) => m.type === 'void')).toHaveLength(1);
  });

  it('lands none of a removed sender’s queued sends after the removal', async () => {
    const [admin, evicted, other] = names('admin', 'evicted', 'other');
    const { conversation } = await db.services.conversations.create({
      creatorId: admin,
      type: 'group',
      name: 'Burst',
      memberIds: [evicted, other],
    });
    const sender = messaging();

    const sends = Array.from({ length: 60 }, (_, i) =>
      sender.send({ senderId: evicted, conversationId: conversation.id, clientMessageId: `e${i}`, text: `e ${i}` }),
    );
    // Another member's sends queue around the removal as well.
    const others = Array.from({ length: 20 }, (_, i) =>
      sender.send({ senderId: other, conversationId: conversation.id, clientMessageId: `o${i}`, text: `o ${i}` }),
    );
    await Promise.race(sends);
    await db.services.conversations.removeMember(conversation.id, admin, evicted);
    const { answers, rejected } = settledAnswers(await Promise.allSettled([...sends, ...others]));

    for (const reason of rejected) expect(reason).toBeInstanceOf(NotFoundError);
    const entries = await gapFreeTimeline(conversation.id);
    const removalSeq = entries.find((m) => m.event?.kind === 'memberRemoved')?.seq ?? Number.NaN;
    expect(removalSeq).toBeGreaterThan(1);
    const late = entries.filter((m) => m.senderId === evicted && m.type === 'text' && m.seq > removalSeq);
    expect(late.map((m) => `seq ${m.seq}: ${m.text}`)).toEqual([]);
    for (const { message } of answers) {
      expect(entries[message.seq - 1]).toMatchObject({ clientMessageId: message.clientMessageId, type: 'text' });
    }
    // Nothing of the other member's was refused.
    expect(textsOf(entries).filter((m) => m.senderId === other)).toHaveLength(20);
    expect(await streamedSeqs(conversation.id)).toEqual(entries.map((entry) => entry.seq));
  });

  it('voids the seq of a sender that took a ticket and died, while a burst queues behind it', async () => {
    const { conversationId, alice } = await direct();
    // A send queued for seq 2 and crashed before it parked its entry.
    const { ticket } = await db.repositories.messages.takeTicket(conversationId);
    const sender = messaging(300);

    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sender.send({ senderId: alice, conversationId, clientMessageId: `after-${i}`, text: `after ${i}` }),
      ),
    );

    const entries = await gapFreeTimeline(conversationId);
    expect(entries[ticket - 1]).toMatchObject({ type: 'void', seq: ticket });
    expect(textsOf(entries)).toHaveLength(20);
    expect(answers.every((answer) => answer.message.seq > ticket)).toBe(true);
  });

  it('commits the entry a sender parked before it died, once, and answers its retry with it', async () => {
    const { conversationId, alice } = await direct();
    const { ticket } = await db.repositories.messages.takeTicket(conversationId);
    const orphan: StoredMessage = {
      id: messageIds.format(conversationId, ticket),
      conversationId,
      seq: ticket,
      senderId: alice,
      type: 'text',
      text: 'parked, then the sender died',
      createdAt: fixedClock.now().toISOString(),
      clientMessageId: 'orphan',
    };
    await db.repositories.messages.park(orphan, { sentBy: alice });
    const sender = messaging(300);

    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        sender.send({ senderId: alice, conversationId, clientMessageId: `next-${i}`, text: `next ${i}` }),
      ),
    );
    const retry = await sender.send({ senderId: alice, conversationId, clientMessageId: 'orphan', text: 'again' });

    const entries = await gapFreeTimeline(conversationId);
    expect(entries[ticket - 1]).toEqual(orphan);
    expect(retry).toEqual({ duplicate: true, message: expect.objectContaining({ seq: ticket, text: orphan.text }) });
    expect(textsOf(entries).filter((m) => m.clientMessageId === 'orphan')).toHaveLength(1);
  });

  it('keeps membership events whole amid a burst: each once, the count and the limit right', async () => {
    const { conversationId, members } = await group(4);
    const [admin, a, b, c] = members as [string, string, string, string];
    const [x, y] = names('x', 'y');
    const sender = messaging();

    const sends = Array.from({ length: 60 }, (_, i) =>
      sender.send({
        senderId: [a, b, admin][i % 3] as string,
        conversationId,
        clientMessageId: `s${i}`,
        text: `s ${i}`,
      }),
    );
    const changes = [
      db.services.conversations.rename(conversationId, admin, 'Renamed mid-burst'),
      db.services.conversations.addMembers(conversationId, admin, [x, y]),
      db.services.conversations.removeMember(conversationId, admin, c),
    ];
    await Promise.all([...sends, ...changes]);

    const entries = await gapFreeTimeline(conversationId);
    const events = entries.flatMap((m) => (m.event ? [m.event.kind] : []));
    expect(events.sort()).toEqual(['created', 'memberRemoved', 'membersAdded', 'renamed']);
    expect(textsOf(entries)).toHaveLength(60);
    const { conversation, members: now } = await db.repositories.conversations.getWithMembers(conversationId);
    expect(conversation).toMatchObject({ name: 'Renamed mid-burst', memberCount: 5 });
    expect(now.map((m) => m.userId).sort()).toEqual([admin, a, b, x, y].sort());
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
  });
});

describe('a burst in one frame (sendMany)', () => {
  const burst = (prefix: string, count: number, from = 0) =>
    Array.from({ length: count }, (_, i) => ({
      clientMessageId: `${prefix}${from + i}`,
      text: `${prefix} ${from + i}`,
    }));

  it('commits a frame of 25 in the order sent, at consecutive seqs, in one transaction', async () => {
    const { conversationId, alice } = await direct();
    const writes = vi.spyOn(db.repositories.messages, 'commitMany');

    const sent = await messaging().sendMany({ senderId: alice, conversationId, messages: burst('f', 25) });

    expect(sent.map((one) => [one.message.clientMessageId, one.message.seq, one.duplicate])).toEqual(
      burst('f', 25).map((m, i) => [m.clientMessageId, i + 2, false]),
    );
    expect(writes).toHaveBeenCalledTimes(1);
    writes.mockRestore();
    const entries = await gapFreeTimeline(conversationId);
    expect(textsOf(entries).map((m) => m.text)).toEqual(burst('f', 25).map((m) => m.text));
    const { members } = await db.repositories.conversations.getWithMembers(conversationId);
    expect(members.find((m) => m.userId === alice)?.lastSentSeq).toBe(26);
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
  });

  it('answers a retried frame with the originals and closes up around the ones already sent', async () => {
    const { conversationId, alice, bob } = await direct();
    const sender = messaging();
    const first = await sender.sendMany({ senderId: alice, conversationId, messages: burst('r', 5) });
    await sender.send({ senderId: bob, conversationId, clientMessageId: 'between', text: 'between' });

    // Its answer lost, the client sends the frame again with more queued behind it.
    const again = await sender.sendMany({ senderId: alice, conversationId, messages: burst('r', 8) });

    expect(again.slice(0, 5)).toEqual(first.map((one) => ({ message: one.message, duplicate: true })));
    expect(again.slice(5).map((one) => [one.message.seq, one.duplicate])).toEqual([
      [8, false],
      [9, false],
      [10, false],
    ]);
    const entries = await gapFreeTimeline(conversationId);
    expect(textsOf(entries).map((m) => m.clientMessageId)).toEqual([
      ...burst('r', 5).map((m) => m.clientMessageId),
      'between',
      'r5',
      'r6',
      'r7',
    ]);
  });

  it('keeps each frame in its order when frames from two senders and single sends race', async () => {
    const { conversationId, members } = await group(3);
    const [a, b, c] = members as [string, string, string];
    const sender = messaging();

    await Promise.all([
      ...[0, 1, 2, 3].map((k) => sender.sendMany({ senderId: a, conversationId, messages: burst(`a${k}-`, 20) })),
      ...[0, 1, 2].map((k) => sender.sendMany({ senderId: b, conversationId, messages: burst(`b${k}-`, 25) })),
      ...Array.from({ length: 20 }, (_, i) =>
        sender.send({ senderId: c, conversationId, clientMessageId: `c${i}`, text: `c ${i}` }),
      ),
    ]);

    const entries = await gapFreeTimeline(conversationId);
    const ids = textsOf(entries).map((m) => String(m.clientMessageId));
    expect(ids).toHaveLength(4 * 20 + 3 * 25 + 20);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [prefix, count] of [
      ...[0, 1, 2, 3].map((k) => [`a${k}-`, 20] as const),
      ...[0, 1, 2].map((k) => [`b${k}-`, 25] as const),
    ]) {
      expect(ids.filter((id) => id.startsWith(prefix))).toEqual(burst(prefix, count).map((m) => m.clientMessageId));
    }
    expect(await streamedSeqs(conversationId)).toEqual(entries.map((entry) => entry.seq));
  });

  it('stores nothing for a sender who is not a member', async () => {
    const { conversationId } = await direct();
    const [mallory] = names('mallory');

    await expect(
      messaging().sendMany({ senderId: mallory, conversationId, messages: burst('m', 3) }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await gapFreeTimeline(conversationId)).toHaveLength(1);
  });
});
