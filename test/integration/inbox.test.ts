import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '#shared/clock';
import { limits } from '#shared/config/limits';
import { conversationKeys, inboxKeys } from '#shared/keys';
import type { Message } from '#shared/model';
import { batchWriteAll } from '#shared/repositories/batch-write';
import { InboxService } from '#shared/services/inbox-service';
import { fixedClock, RecordingPoster, type TestTables, useTestTables } from '../support/test-tables';

let db: TestTables;

beforeAll(async () => {
  db = await useTestTables('inbox');
});

const message = (conversationId: string, seq: number): Message => ({
  id: `${conversationId}-${seq}`,
  conversationId,
  seq,
  senderId: 'alice',
  type: 'text',
  text: `${conversationId} #${seq}`,
  createdAt: fixedClock.now().toISOString(),
});

/**
 * A conversation as the inbox meets it: its messages stored (the last one's seq on the meta item)
 * and the device's user a member from seq 1 (`leftSeq` when they left).
 */
async function conversationOf(messages: Message[], member: { userId: string; leftSeq?: number }) {
  const conversationId = (messages[0] as Message).conversationId;
  await batchWriteAll(
    db.documentClient,
    db.tableName('messages'),
    messages.map((m) => ({ PutRequest: { Item: { ...m } } })),
  );
  const lastSeq = Math.max(...messages.map((m) => m.seq));
  await db.documentClient.send(
    new PutCommand({
      TableName: db.tableName('conversations'),
      Item: { ...conversationKeys.meta(conversationId), conversationId, lastSeq },
    }),
  );
  await db.documentClient.send(
    new PutCommand({
      TableName: db.tableName('conversations'),
      Item: {
        ...conversationKeys.member(conversationId, member.userId),
        conversationId,
        memberUserId: member.userId,
        role: 'member',
        joinedAt: fixedClock.now().toISOString(),
        joinedSeq: 1,
        ...(member.leftSeq === undefined ? {} : { leftSeq: member.leftSeq }),
      },
    }),
  );
}

/** Fan-out's park of each message, in order, for one offline device. */
async function park(device: { userId: string; deviceId: string }, messages: Message[]) {
  const conversationIds = [...new Set(messages.map((m) => m.conversationId))];
  for (const id of conversationIds) {
    await conversationOf(
      messages.filter((m) => m.conversationId === id),
      { userId: device.userId },
    );
  }
  for (const m of [...messages].sort((a, b) => a.seq - b.seq)) {
    await db.repositories.inbox.park(m, [device], epochSeconds(fixedClock.now()));
  }
}

describe('InboxService', () => {
  it('syncs parked messages in seq order within each conversation', async () => {
    const device = { userId: 'bob', deviceId: 'sync-order' };
    await park(device, [message('order-1', 10), message('order-2', 1), message('order-1', 9), message('order-1', 100)]);
    const poster = new RecordingPoster();

    const result = await new InboxService(db.repositories.inbox, poster).sync(device, 'conn-1');

    expect(result).toEqual({ delivered: 4, connectionGone: false });
    expect(poster.textsPostedTo('conn-1')).toEqual(['order-1 #9', 'order-1 #10', 'order-1 #100', 'order-2 #1']);
  });

  it('parks a conversation once per offline device: one pointer, from the first seq it missed', async () => {
    const device = { userId: 'bob', deviceId: 'pointer' };
    await park(device, [message('pointer-1', 4), message('pointer-1', 5), message('pointer-1', 6)]);

    expect(await db.inboxItems(device)).toMatchObject([
      { position: inboxKeys.pointer('pointer-1'), conversationId: 'pointer-1', fromSeq: 4 },
    ]);
  });

  it("moves a fading pointer's expiry on at the next park, and writes it again if it went meanwhile", async () => {
    const device = { userId: 'bob', deviceId: 'fading' };
    const retention = limits.inboxRetentionDays * 86_400;
    const start = epochSeconds(fixedClock.now());
    await park(device, [message('fading-1', 1)]);
    await conversationOf(
      [1, 2, 3].map((seq) => message('fading-1', seq)),
      { userId: 'bob' },
    );

    // Past half its retention: the next park moves its expiry on, and keeps its first seq.
    const later = start + Math.ceil(retention * 0.6);
    // Moved on, not written: the device was owed the conversation all along (fan-out reads it no more).
    expect(await db.repositories.inbox.park(message('fading-1', 2), [device], later)).toEqual(new Set());
    expect(await db.inboxItems(device)).toMatchObject([{ fromSeq: 1, expiresAt: later + retention }]);

    // TTL takes it between the park's read and its update: it is written again from the seq parked.
    const muchLater = later + Math.ceil(retention * 0.6);
    const send = db.documentClient.send.bind(db.documentClient);
    const takenByTtl = async (command: unknown) => {
      if (command instanceof UpdateCommand) {
        spy.mockRestore();
        await send(new DeleteCommand({ TableName: db.tableName('inbox'), Key: command.input.Key }));
      }
      return send(command as Parameters<typeof send>[0]);
    };
    const spy = vi.spyOn(db.documentClient, 'send').mockImplementation(takenByTtl as unknown as typeof send);
    const written = await db.repositories.inbox.park(message('fading-1', 3), [device], muchLater);
    spy.mockRestore();
    expect(await db.inboxItems(device)).toMatchObject([{ fromSeq: 3, expiresAt: muchLater + retention }]);
    // Written again: a sync may have found no pointer, so fan-out reads this device's connections again.
    expect(written).toEqual(new Set(['bob#fading']));
  });

  it('reads the inbox strongly: an item parked a moment before the sync is never missed', async () => {
    const device = { userId: 'bob', deviceId: 'sync-strong' };
    await park(device, [message('strong-1', 1)]);
    const send = vi.spyOn(db.documentClient, 'send');

    const page = await db.repositories.inbox.readPage(device, 10);

    expect(page.messages.map((m) => m.seq)).toEqual([1]);
    const inputs = send.mock.calls.map(([command]) => command.input as { ConsistentRead?: boolean });
    // The device's items, the member row and the timeline: all strongly consistent.
    expect(inputs).toHaveLength(3);
    expect(inputs.every((input) => input.ConsistentRead === true)).toBe(true);
    send.mockRestore();
  });

  it('keeps what is owed until acked: an ack short of the last seq moves the pointer past it, one up to it removes it', async () => {
    const device = { userId: 'bob', deviceId: 'ack' };
    await park(device, [message('ack-1', 1), message('ack-1', 2), message('ack-1', 3), message('ack-2', 1)]);
    const inbox = new InboxService(db.repositories.inbox, new RecordingPoster());

    await inbox.ack(device, 'ack-1', 2);
    await inbox.ack(device, 'ack-1', 2);
    const left = await db.repositories.inbox.readPage(device, 10);
    expect(left.messages.map((m) => m.id)).toEqual(['ack-1-3', 'ack-2-1']);
    expect(await db.inboxItems(device)).toMatchObject([
      { conversationId: 'ack-1', fromSeq: 3 },
      { conversationId: 'ack-2' },
    ]);

    await inbox.ack(device, 'ack-1', 3);
    expect((await db.repositories.inbox.readPage(device, 10)).messages.map((m) => m.id)).toEqual(['ack-2-1']);
    expect(await db.inboxItems(device)).toMatchObject([{ conversationId: 'ack-2', fromSeq: 1 }]);
  });

  it('keeps the pointer when the conversation went on past the ack: a fan-out that found it parked nothing new', async () => {
    const device = { userId: 'bob', deviceId: 'ack-race' };
    await park(device, [message('race-1', 1), message('race-1', 2)]);
    // Seq 3 commits; its fan-out finds the pointer and writes nothing. The device acks what it has, 2.
    await conversationOf([message('race-1', 1), message('race-1', 2), message('race-1', 3)], { userId: 'bob' });
    await db.repositories.inbox.park(message('race-1', 3), [device], epochSeconds(fixedClock.now()));

    await new InboxService(db.repositories.inbox, new RecordingPoster()).ack(device, 'race-1', 2);

    expect((await db.repositories.inbox.readPage(device, 10)).messages.map((m) => m.seq)).toEqual([3]);
  });

  it('replays a member who left up to their removal and not past it, then drops the pointer that leads nowhere', async () => {
    const device = { userId: 'bob', deviceId: 'left' };
    await park(device, [message('left-1', 1), message('left-1', 2)]);
    await conversationOf(
      [1, 2, 3, 4].map((seq) => message('left-1', seq)),
      { userId: 'bob', leftSeq: 3 },
    );

    const page = await db.repositories.inbox.readPage(device, 10);
    expect(page.messages.map((m) => m.seq)).toEqual([1, 2, 3]);

    await new InboxService(db.repositories.inbox, new RecordingPoster()).ack(device, 'left-1', 3);
    expect(await db.inboxItems(device)).toMatchObject([{ fromSeq: 4 }]);
    expect((await db.repositories.inbox.readPage(device, 10)).messages).toEqual([]);
    expect(await db.inboxItems(device)).toEqual([]);
  });

  it('drops at the sync a pointer left past the last seq (an ack that kept meeting a transaction moved it there)', async () => {
    const device = { userId: 'bob', deviceId: 'past-last' };
    await park(device, [message('past-1', 1), message('past-1', 2)]);
    await db.documentClient.send(
      new UpdateCommand({
        TableName: db.tableName('inbox'),
        Key: { deviceKey: inboxKeys.device(device.userId, device.deviceId), position: inboxKeys.pointer('past-1') },
        UpdateExpression: 'SET fromSeq = :next',
        ExpressionAttributeValues: { ':next': 3 },
      }),
    );

    expect((await db.repositories.inbox.readPage(device, 10)).messages).toEqual([]);
    expect(await db.inboxItems(device)).toEqual([]);
  });

  it("never replays the device's own sends", async () => {
    const device = { userId: 'bob', deviceId: 'own' };
    const own: Message = { ...message('own-1', 2), senderId: 'bob' };
    await park(device, [message('own-1', 1), message('own-1', 3)]);
    await conversationOf([message('own-1', 1), { ...own, senderDeviceId: 'own' } as Message, message('own-1', 3)], {
      userId: 'bob',
    });

    const page = await db.repositories.inbox.readPage(device, 10);

    expect(page.messages.map((m) => m.seq)).toEqual([1, 3]);
  });

  it('replays and acks copies parked one per message (before pointers) as before', async () => {
    const device = { userId: 'bob', deviceId: 'copies' };
    await batchWriteAll(
      db.documentClient,
      db.tableName('inbox'),
      [1, 2, 3].map((seq) => ({
        PutRequest: {
          Item: {
            deviceKey: inboxKeys.device(device.userId, device.deviceId),
            position: inboxKeys.position('copies-1', seq),
            message: message('copies-1', seq),
            expiresAt: epochSeconds(fixedClock.now()) + 3600,
          },
        },
      })),
    );
    await park(device, [message('copies-2', 1)]);
    const poster = new RecordingPoster();
    const inbox = new InboxService(db.repositories.inbox, poster);

    await inbox.sync(device, 'conn-copies');
    expect(poster.textsPostedTo('conn-copies')).toEqual(['copies-1 #1', 'copies-1 #2', 'copies-1 #3', 'copies-2 #1']);

    expect(await inbox.ack(device, 'copies-1', 2)).toBe(2);
    expect((await db.repositories.inbox.readPage(device, 10)).messages.map((m) => m.id)).toEqual([
      'copies-1-3',
      'copies-2-1',
    ]);
  });

  it('stops replaying when the connection is gone', async () => {
    const device = { userId: 'bob', deviceId: 'gone' };
    await park(device, [message('gone-1', 1), message('gone-1', 2)]);

    const result = await new InboxService(db.repositories.inbox, new RecordingPoster({ gone: ['conn-gone'] })).sync(
      device,
      'conn-gone',
    );

    expect(result).toEqual({ delivered: 0, connectionGone: true });
  });

  it('continues a long replay with a cursor', async () => {
    const device = { userId: 'bob', deviceId: 'long' };
    await park(
      device,
      Array.from({ length: 1101 }, (_, i) => message('long-1', i + 1)),
    );
    const poster = new RecordingPoster();
    const inbox = new InboxService(db.repositories.inbox, poster);

    const first = await inbox.sync(device, 'conn-long');
    const second = await inbox.sync(device, 'conn-long', { cursor: first.cursor });

    expect(first.cursor).toBeDefined();
    expect(second.cursor).toBeUndefined();
    expect(first.delivered + second.delivered).toBe(1101);
    const seqs = poster.framesTo('conn-long').map((frame) => (frame.type === 'message' ? frame.message.seq : -1));
    expect(seqs).toEqual(Array.from({ length: 1101 }, (_, i) => i + 1));
  });

  it('answers with a cursor at a page boundary once the invocation runs short of time, and goes on from it', async () => {
    const device = { userId: 'bob', deviceId: 'slow' };
    await park(
      device,
      Array.from({ length: 250 }, (_, i) => message('slow-1', i + 1)),
    );
    const poster = new RecordingPoster();
    const inbox = new InboxService(db.repositories.inbox, poster);
    // Short of time from the start: one page still goes (the check runs between pages), so every sync progresses.
    const first = await inbox.sync(device, 'conn-slow', { outOfTime: () => true });
    const rest = await inbox.sync(device, 'conn-slow', { cursor: first.cursor });

    expect(first).toEqual({ delivered: limits.syncPageSize, connectionGone: false, cursor: expect.any(String) });
    expect(rest).toEqual({ delivered: 250 - limits.syncPageSize, connectionGone: false });
    const seqs = poster.framesTo('conn-slow').map((frame) => (frame.type === 'message' ? frame.message.seq : -1));
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('replays as pages when asked: in order, every message once, each frame within the limit', async () => {
    const device = { userId: 'bob', deviceId: 'paged' };
    const long = (seq: number): Message => ({ ...message('paged-1', seq), text: `${'x'.repeat(1500)} #${seq}` });
    await park(
      device,
      Array.from({ length: 250 }, (_, i) => long(i + 1)),
    );
    const poster = new RecordingPoster();

    const result = await new InboxService(db.repositories.inbox, poster).sync(device, 'conn-paged', { pages: true });

    expect(result).toEqual({ delivered: 250, connectionGone: false });
    const frames = poster.framesTo('conn-paged');
    expect(frames.every((frame) => frame.type === 'messages')).toBe(true);
    for (const frame of frames) {
      expect(new TextEncoder().encode(JSON.stringify(frame)).length).toBeLessThanOrEqual(limits.syncFrameMaxBytes);
    }
    // About 1.6 KB a message, some 20 to a 32 KB frame, every frame as full as the first: that many
    // frames for each page of 100 read, and for the last 50.
    const perFrame = frames[0]?.type === 'messages' ? frames[0].messages.length : 0;
    expect(perFrame).toBeGreaterThanOrEqual(18);
    expect(frames).toHaveLength(2 * Math.ceil(100 / perFrame) + Math.ceil(50 / perFrame));
    const seqs = frames.flatMap((frame) => (frame.type === 'messages' ? frame.messages.map((m) => m.seq) : []));
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('sends a message too large to share a page alone, and counts only what reached a connection', async () => {
    const device = { userId: 'bob', deviceId: 'paged-large' };
    const large: Message = { ...message('large-1', 2), text: 'y'.repeat(limits.syncFrameMaxBytes) };
    await park(device, [message('large-1', 1), large, message('large-1', 3)]);
    const poster = new RecordingPoster();

    const result = await new InboxService(db.repositories.inbox, poster).sync(device, 'conn-large', { pages: true });

    expect(result).toEqual({ delivered: 3, connectionGone: false });
    const pages = poster
      .framesTo('conn-large')
      .map((frame) => (frame.type === 'messages' ? frame.messages.map((m) => m.seq) : []));
    expect(pages).toEqual([[1], [2], [3]]);

    const gone = await new InboxService(db.repositories.inbox, new RecordingPoster({ gone: ['conn-gone'] })).sync(
      device,
      'conn-gone',
      { pages: true },
    );
    expect(gone).toEqual({ delivered: 0, connectionGone: true });
  });

  it('logs a paged replay once per conversation of a frame, naming its last message and the range', async () => {
    const device = { userId: 'bob', deviceId: 'paged-lines' };
    await park(device, [message('lines-5', 1), message('lines-5', 2), message('lines-5', 3), message('lines-6', 7)]);
    const lines: Record<string, unknown>[] = [];
    const logger = { info: (text: string, details: Record<string, unknown>) => lines.push({ text, ...details }) };

    await new InboxService(db.repositories.inbox, new RecordingPoster(), logger).sync(device, 'conn-lines', {
      pages: true,
    });

    expect(lines).toEqual([
      {
        text: 'replayed from inbox',
        correlation_id: 'lines-5-3',
        conversationId: 'lines-5',
        seq: 3,
        fromSeq: 1,
        count: 3,
      },
      { text: 'replayed from inbox', correlation_id: 'lines-6-7', conversationId: 'lines-6', seq: 7 },
    ]);
  });
});
