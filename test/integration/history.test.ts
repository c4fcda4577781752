import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError } from '#shared/errors';
import { messageIds } from '#shared/keys';
import type { HistoryVisibility, StoredMessage } from '#shared/model';
import { voidMessage } from '#shared/repositories/message-repository';
import { type HistoryPage, HistoryService, type HistoryStart } from '#shared/services/history-service';
import { fixedClock, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;
let history: HistoryService;
const createdAt = fixedClock.now().toISOString();

beforeAll(async () => {
  db = await useTestTables('history');
  history = new HistoryService(db.repositories.conversations, db.repositories.messages);
});

/** A group whose members joined at the given seqs (as if added by a later timeline event). */
async function groupWith(
  joinedSeqs: Readonly<Record<string, number>>,
  historyVisibility: HistoryVisibility = 'joined',
): Promise<string> {
  const id = ulid();
  const userIds = Object.keys(joinedSeqs);
  await db.repositories.messages.createConversation(
    {
      id,
      type: 'group',
      name: 'History',
      historyVisibility,
      createdBy: userIds[0] ?? 'nobody',
      createdAt,
      lastSeq: 0,
      memberCount: userIds.length,
    },
    userIds.map((userId) => ({
      conversationId: id,
      userId,
      role: 'member',
      joinedAt: createdAt,
      joinedSeq: joinedSeqs[userId] ?? 1,
    })),
    undefined,
  );
  return id;
}

function textMessage(conversationId: string, seq: number): StoredMessage {
  return {
    id: messageIds.format(conversationId, seq),
    conversationId,
    seq,
    senderId: 'alice',
    senderDeviceId: 'phone',
    type: 'text',
    text: `message ${seq}`,
    createdAt,
    clientMessageId: `c-${seq}`,
  };
}

/** Stores seqs 1..count in order; the seqs in `voids` hold void placeholders, as abandoned sends leave them. */
async function appendMessages(conversationId: string, count: number, voids: readonly number[] = []): Promise<void> {
  for (let seq = 1; seq <= count; seq++) {
    const entry = voids.includes(seq) ? voidMessage(conversationId, seq, createdAt) : textMessage(conversationId, seq);
    const outcome = await db.repositories.messages.commit(entry);
    expect(outcome.kind).toBe('stored');
  }
}

/** Follows cursors from `start` until a page comes back without one. */
async function readAllPages(
  conversationId: string,
  callerId: string,
  start: HistoryStart,
  limit: number,
): Promise<HistoryPage[]> {
  const pages: HistoryPage[] = [];
  let next: HistoryStart | undefined = start;
  // Bounded, so a cursor that never ends fails the test instead of hanging it.
  while (next !== undefined && pages.length < 100) {
    const page = await history.list({ conversationId, callerId, start: next, limit });
    pages.push(page);
    next = page.cursor === undefined ? undefined : { kind: 'cursor', cursor: page.cursor };
  }
  return pages;
}

const seqsOf = (pages: readonly HistoryPage[]) => pages.flatMap((page) => page.messages.map((message) => message.seq));
const range = (from: number, to: number) =>
  Array.from({ length: Math.abs(to - from) + 1 }, (_, i) => (from <= to ? from + i : from - i));

function cursorWith(content: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(content)).toString('base64url');
}

describe('HistoryService.list paging', () => {
  let conversationId: string;

  beforeAll(async () => {
    conversationId = await groupWith({ alice: 1, bob: 1 });
    await appendMessages(conversationId, 57, [20]);
  });

  it('returns every message exactly once, in seq order, following cursors up from after=0', async () => {
    const pages = await readAllPages(conversationId, 'bob', { kind: 'after', seq: 0 }, 10);

    expect(seqsOf(pages)).toEqual(range(1, 57));
    expect(pages.map((page) => page.messages.length)).toEqual([10, 10, 10, 10, 10, 7]);
  });

  it('returns every message exactly once, newest first, following cursors down from the newest page', async () => {
    const pages = await readAllPages(conversationId, 'bob', { kind: 'newest' }, 10);

    expect(seqsOf(pages)).toEqual(range(57, 1));
    expect(pages.map((page) => page.messages.length)).toEqual([10, 10, 10, 10, 10, 7]);
  });

  it('starts after or before the given seq and ends with no cursor once nothing is left', async () => {
    const before = await history.list({
      conversationId,
      callerId: 'bob',
      start: { kind: 'before', seq: 25 },
      limit: 5,
    });
    const after = await history.list({ conversationId, callerId: 'bob', start: { kind: 'after', seq: 54 }, limit: 5 });
    const pastTheEnd = await history.list({
      conversationId,
      callerId: 'bob',
      start: { kind: 'after', seq: 57 },
      limit: 5,
    });

    expect(before.messages.map((message) => message.seq)).toEqual([24, 23, 22, 21, 20]);
    expect(before.cursor).toBeDefined();
    expect(after.cursor).toBeUndefined();
    expect(after.messages.map((message) => message.seq)).toEqual([55, 56, 57]);
    expect(pastTheEnd).toEqual({ messages: [] });
  });

  it('includes void placeholders with their type, and never storage-only fields', async () => {
    const page = await history.list({ conversationId, callerId: 'bob', start: { kind: 'after', seq: 18 }, limit: 3 });

    expect(page.messages.map((message) => [message.seq, message.type])).toEqual([
      [19, 'text'],
      [20, 'void'],
      [21, 'text'],
    ]);
    expect(page.messages[0]).toEqual({
      id: messageIds.format(conversationId, 19),
      conversationId,
      seq: 19,
      senderId: 'alice',
      type: 'text',
      text: 'message 19',
      createdAt,
      clientMessageId: 'c-19',
    });
  });
});

describe('HistoryService.list visibility', () => {
  it('shows a member who joined at seq 5 nothing before seq 5, in either direction', async () => {
    const conversationId = await groupWith({ ann: 1, dave: 5 });
    await appendMessages(conversationId, 8);

    const newest = await readAllPages(conversationId, 'dave', { kind: 'newest' }, 3);
    const fromStart = await readAllPages(conversationId, 'dave', { kind: 'after', seq: 0 }, 3);
    const beforeJoin = await history.list({
      conversationId,
      callerId: 'dave',
      start: { kind: 'before', seq: 5 },
      limit: 3,
    });
    const asFounder = await readAllPages(conversationId, 'ann', { kind: 'after', seq: 0 }, 10);

    expect(seqsOf(newest)).toEqual([8, 7, 6, 5]);
    expect(seqsOf(fromStart)).toEqual([5, 6, 7, 8]);
    expect(beforeJoin).toEqual({ messages: [] });
    expect(seqsOf(asFounder)).toEqual(range(1, 8));
  });

  it("shows a later member the whole history when the conversation's historyVisibility is 'all'", async () => {
    const conversationId = await groupWith({ ann: 1, dave: 5 }, 'all');
    await appendMessages(conversationId, 8);

    const pages = await readAllPages(conversationId, 'dave', { kind: 'after', seq: 0 }, 3);

    expect(seqsOf(pages)).toEqual(range(1, 8));
  });
});

describe('HistoryService.list refusals', () => {
  it('refuses a non-member exactly as it refuses a conversation that does not exist', async () => {
    const conversationId = await groupWith({ ann: 1, ben: 1 });
    await appendMessages(conversationId, 2);

    const [asStranger, unknown] = await Promise.allSettled([
      history.list({ conversationId, callerId: 'mallory', start: { kind: 'newest' }, limit: 10 }),
      history.list({ conversationId: ulid(), callerId: 'mallory', start: { kind: 'newest' }, limit: 10 }),
    ]);

    expect(asStranger.status === 'rejected' && asStranger.reason).toBeInstanceOf(NotFoundError);
    expect(asStranger).toEqual(unknown);
    expect(asStranger.status === 'rejected' && asStranger.reason.message).toBe('Conversation not found');
  });

  it("refuses another conversation's cursor, a tampered cursor and a malformed one as bad requests", async () => {
    const first = await groupWith({ ann: 1 });
    const second = await groupWith({ ann: 1 });
    await appendMessages(first, 3);
    const issued = await history.list({ conversationId: first, callerId: 'ann', start: { kind: 'newest' }, limit: 1 });
    expect(issued.cursor).toBeDefined();
    const attempts: [string, string][] = [
      [second, String(issued.cursor)],
      [second, cursorWith({ conversationId: second, direction: 'sideways', seq: 2 })],
      [first, cursorWith({ conversationId: first, direction: 'descending', seq: -3 })],
      [first, 'bm90LWpzb24'],
      [first, ''],
    ];

    const outcomes = await Promise.allSettled(
      attempts.map(([conversationId, cursor]) =>
        history.list({ conversationId, callerId: 'ann', start: { kind: 'cursor', cursor }, limit: 1 }),
      ),
    );

    for (const outcome of outcomes) {
      expect(outcome.status === 'rejected' && outcome.reason).toBeInstanceOf(BadRequestError);
    }
  });
});

describe('HistoryService.get', () => {
  let conversationId: string;

  beforeAll(async () => {
    conversationId = await groupWith({ ann: 1, dave: 3 });
    await appendMessages(conversationId, 4);
  });

  it('answers a member with the message as clients see it', async () => {
    const message = await history.get(messageIds.format(conversationId, 3), 'dave');

    expect(message).toEqual({
      id: messageIds.format(conversationId, 3),
      conversationId,
      seq: 3,
      senderId: 'alice',
      type: 'text',
      text: 'message 3',
      createdAt,
      clientMessageId: 'c-3',
    });
  });

  it('answers the same not_found for a seq before the floor, a non-member, an unknown seq or conversation, and a malformed id', async () => {
    const attempts: [string, string][] = [
      [messageIds.format(conversationId, 2), 'dave'],
      [messageIds.format(conversationId, 3), 'mallory'],
      [messageIds.format(conversationId, 99), 'ann'],
      [messageIds.format(ulid(), 1), 'ann'],
      [`${conversationId}-x`, 'ann'],
      [conversationId, 'ann'],
    ];

    const outcomes = await Promise.allSettled(
      attempts.map(([messageId, callerId]) => history.get(messageId, callerId)),
    );

    for (const outcome of outcomes) {
      expect(outcome.status === 'rejected' && outcome.reason).toBeInstanceOf(NotFoundError);
      expect(outcome.status === 'rejected' && outcome.reason.message).toBe('Message not found');
    }
    expect(await history.get(messageIds.format(conversationId, 2), 'ann')).toMatchObject({ seq: 2 });
  });
});
