import { beforeAll, describe, expect, it, vi } from 'vitest';
import { epochSeconds } from '#shared/clock';
import { limits } from '#shared/config/limits';
import type { Message } from '#shared/model';
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

async function park(device: { userId: string; deviceId: string }, messages: Message[]) {
  for (const m of messages) await db.repositories.inbox.park(m, [device], epochSeconds(fixedClock.now()));
}

describe('InboxService', () => {
  it('syncs parked messages in seq order within each conversation', async () => {
    const device = { userId: 'bob', deviceId: 'sync-order' };
    await park(device, [message('c1', 10), message('c2', 1), message('c1', 9), message('c1', 100)]);
    const poster = new RecordingPoster();

    const result = await new InboxService(db.repositories.inbox, poster).sync(device, 'conn-1');

    expect(result).toEqual({ delivered: 4, connectionGone: false });
    expect(poster.textsPostedTo('conn-1')).toEqual(['c1 #9', 'c1 #10', 'c1 #100', 'c2 #1']);
  });

  it('reads the inbox strongly: an item parked a moment before the sync is never missed', async () => {
    const device = { userId: 'bob', deviceId: 'sync-strong' };
    await park(device, [message('c1', 1)]);
    const send = vi.spyOn(db.documentClient, 'send');

    const page = await db.repositories.inbox.readPage(device, 10);

    expect(page.messages.map((m) => m.seq)).toEqual([1]);
    expect(send.mock.calls.map(([command]) => command.input)).toContainEqual(
      expect.objectContaining({ ConsistentRead: true }),
    );
    send.mockRestore();
  });

  it('keeps items until acked, then removes exactly those up to the seq in that conversation', async () => {
    const device = { userId: 'bob', deviceId: 'ack' };
    await park(device, [message('c1', 1), message('c1', 2), message('c1', 3), message('c2', 1)]);
    const inbox = new InboxService(db.repositories.inbox, new RecordingPoster());

    const removed = await inbox.ack(device, 'c1', 2);
    const again = await inbox.ack(device, 'c1', 2);

    expect(removed).toBe(2);
    expect(again).toBe(0);
    const left = await db.repositories.inbox.readPage(device, 10);
    expect(left.messages.map((m) => m.id)).toEqual(['c1-3', 'c2-1']);
  });

  it('stops replaying when the connection is gone', async () => {
    const device = { userId: 'bob', deviceId: 'gone' };
    await park(device, [message('c1', 1), message('c1', 2)]);

    const result = await new InboxService(db.repositories.inbox, new RecordingPoster({ gone: ['conn-gone'] })).sync(
      device,
      'conn-gone',
    );

    expect(result).toEqual({ delivered: 0, connectionGone: true });
  });

  it('continues a long replay with a cursor', async () => {
    const device = { userId: 'bob', deviceId: 'long' };
    await db.repositories.inbox.park(message('c1', 1), [device], epochSeconds(fixedClock.now()));
    await Promise.all(
      Array.from({ length: 1100 }, (_, i) =>
        db.repositories.inbox.park(message('c1', i + 2), [device], epochSeconds(fixedClock.now())),
      ),
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
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        db.repositories.inbox.park(message('c2', i + 1), [device], epochSeconds(fixedClock.now())),
      ),
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
    const long = (seq: number): Message => ({ ...message('c3', seq), text: `${'x'.repeat(1500)} #${seq}` });
    await Promise.all(
      Array.from({ length: 250 }, (_, i) =>
        db.repositories.inbox.park(long(i + 1), [device], epochSeconds(fixedClock.now())),
      ),
    );
    const poster = new RecordingPoster();

    const result = await new InboxService(db.repositories.inbox, poster).sync(device, 'conn-paged', { pages: true });

    expect(result).toEqual({ delivered: 250, connectionGone: false });
    const frames = poster.framesTo('conn-paged');
    expect(frames.every((frame) => frame.type === 'messages')).toBe(true);
    for (const frame of frames) {
      expect(new TextEncoder().encode(JSON.stringify(frame)).length).toBeLessThanOrEqual(limits.syncFrameMaxBytes);
    }
    // About 1.6 KB a message, 20 to a 32 KB frame: 5 frames for each Query page of 100, 3 for the last 50.
    expect(frames).toHaveLength(13);
    const seqs = frames.flatMap((frame) => (frame.type === 'messages' ? frame.messages.map((m) => m.seq) : []));
    expect(seqs).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
  });

  it('sends a message too large to share a page alone, and counts only what reached a connection', async () => {
    const device = { userId: 'bob', deviceId: 'paged-large' };
    const large: Message = { ...message('c4', 2), text: 'y'.repeat(limits.syncFrameMaxBytes) };
    await park(device, [message('c4', 1), large, message('c4', 3)]);
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
    await park(device, [message('c5', 1), message('c5', 2), message('c5', 3), message('c6', 7)]);
    const lines: Record<string, unknown>[] = [];
    const logger = { info: (text: string, details: Record<string, unknown>) => lines.push({ text, ...details }) };

    await new InboxService(db.repositories.inbox, new RecordingPoster(), logger).sync(device, 'conn-lines', {
      pages: true,
    });

    expect(lines).toEqual([
      { text: 'replayed from inbox', correlation_id: 'c5-3', conversationId: 'c5', seq: 3, fromSeq: 1, count: 3 },
      { text: 'replayed from inbox', correlation_id: 'c6-7', conversationId: 'c6', seq: 7 },
    ]);
  });
});
