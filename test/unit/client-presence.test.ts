import { describe, expect, it } from 'vitest';
import { limits } from '#shared/config/limits';
import { PresenceAndTyping } from '../../client/presence';
import type { PresenceEvent, TypingEvent } from '../../client/types';

/** A connection that records what it was asked to write, open or not. */
function harness(open = true) {
  const written: Record<string, unknown>[] = [];
  const presence: PresenceEvent[] = [];
  const typing: TypingEvent[] = [];
  let now = 1_000_000;
  const connection = { open, write: (frame: Record<string, unknown>) => connection.open && written.push(frame) > 0 };
  const part = new PresenceAndTyping(
    connection,
    (event) => presence.push(event),
    (event) => typing.push(event),
    () => now,
  );
  return { part, connection, written, presence, typing, advance: (ms: number) => (now += ms) };
}

describe('sendTyping', () => {
  it('writes one typing frame per conversation per window, and again once the window has passed', () => {
    const { part, written, advance } = harness();

    const first = part.sendTyping('c1');
    const repeat = part.sendTyping('c1');
    const other = part.sendTyping('c2');
    advance(limits.typingWindowMs);
    const later = part.sendTyping('c1');

    expect([first, repeat, other, later]).toEqual([true, false, true, true]);
    expect(written).toEqual([
      { action: 'typing', conversationId: 'c1' },
      { action: 'typing', conversationId: 'c2' },
      { action: 'typing', conversationId: 'c1' },
    ]);
  });

  it('does not spend the window while offline', () => {
    const { part, connection, written } = harness(false);

    const offline = part.sendTyping('c1');
    connection.open = true;
    const online = part.sendTyping('c1');

    expect([offline, online]).toEqual([false, true]);
    expect(written).toHaveLength(1);
  });
});

describe('presence', () => {
  it('sends the watched list again on each connect, and nothing for a client that never subscribed', () => {
    const idle = harness();
    const watching = harness();

    idle.part.resubscribe();
    watching.part.subscribe(['u1', 'u2', 'u1']);
    watching.part.resubscribe();

    expect(idle.written).toEqual([]);
    expect(watching.written).toEqual([
      { action: 'subscribePresence', userIds: ['u1', 'u2'] },
      { action: 'subscribePresence', userIds: ['u1', 'u2'] },
    ]);
    expect(() => watching.part.subscribe(Array.from({ length: 101 }, (_, i) => `u${i}`))).toThrow(RangeError);
  });

  it('emits the answer’s states and each change, dropping a change older than one already applied', () => {
    const { part, presence } = harness();

    part.receive({ type: 'presenceSubscribed', presence: [{ userId: 'u1', online: false, lastSeenAt: null }] });
    part.receive({ type: 'presence', userId: 'u1', online: false, lastSeenAt: 't2', changedAt: 't2' });
    part.receive({ type: 'presence', userId: 'u1', online: true, lastSeenAt: null, changedAt: 't1' });
    const handledTyping = part.receive({ type: 'typing', conversationId: 'c1', userId: 'u1' });
    const handledPong = part.receive({ type: 'pong' });

    expect(presence).toEqual([
      { userId: 'u1', online: false, lastSeenAt: null },
      { userId: 'u1', online: false, lastSeenAt: 't2' },
    ]);
    expect([handledTyping, handledPong]).toEqual([true, false]);
  });
});
