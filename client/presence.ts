/**
 * Presence subscriptions and typing for the client: the watched list is kept here and sent again on
 * every connect (a subscription lives on one connection), presence frames that arrive out of order are
 * dropped, and typing is throttled per conversation as the server does, so a keystroke handler may
 * call `sendTyping` on every key.
 */
import { limits } from '#shared/config/limits';
import type { PresenceState, ServerFrame } from '#shared/protocol/frames';
import type { PresenceEvent, TypingEvent } from './types';

/** What presence and typing need of the connection: write a frame when open. */
export interface FrameWriter {
  write(frame: Record<string, unknown>): boolean;
}

export class PresenceAndTyping {
  /** Undefined until `subscribe` was called: a client that never watches sends nothing on connect. */
  private watched: readonly string[] | undefined;
  /** Per user, the `changedAt` of the newest change applied: an older frame that raced it is dropped. */
  private readonly changedAt = new Map<string, string>();
  private readonly typingSentAt = new Map<string, number>();

  constructor(
    private readonly connection: FrameWriter,
    private readonly emitPresence: (presence: PresenceEvent) => void,
    private readonly emitTyping: (typing: TypingEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Watches exactly these users (at most 100, who share a conversation with the caller); [] stops. */
  subscribe(userIds: readonly string[]): void {
    const unique = [...new Set(userIds)];
    if (unique.length > limits.maxPresenceSubscriptions)
      throw new RangeError(`At most ${limits.maxPresenceSubscriptions} users can be watched`);
    this.watched = unique;
    this.resubscribe();
  }

  /** After every connect: the new connection watches nobody until told. */
  resubscribe(): void {
    if (this.watched === undefined) return;
    this.connection.write({ action: 'subscribePresence', userIds: this.watched });
  }

  /** Sends `typing` unless one went out for this conversation within the window; answers whether it did. */
  sendTyping(conversationId: string): boolean {
    const now = this.now();
    const last = this.typingSentAt.get(conversationId);
    if (last !== undefined && now - last < limits.typingWindowMs) return false;
    if (!this.connection.write({ action: 'typing', conversationId })) return false;
    this.typingSentAt.set(conversationId, now);
    return true;
  }

  /** Takes the frames of presence and typing; answers whether the frame was one. */
  receive(frame: ServerFrame): boolean {
    switch (frame.type) {
      case 'presenceSubscribed':
        if (!Array.isArray(frame.presence)) return true;
        for (const state of frame.presence) if (isPresenceState(state)) this.emitPresence({ ...state });
        return true;
      case 'presence': {
        if (!isPresenceState(frame) || typeof frame.changedAt !== 'string') return true;
        const newest = this.changedAt.get(frame.userId);
        if (newest !== undefined && frame.changedAt < newest) return true;
        this.changedAt.set(frame.userId, frame.changedAt);
        this.emitPresence({ userId: frame.userId, online: frame.online, lastSeenAt: frame.lastSeenAt });
        return true;
      }
      case 'typing':
        if (typeof frame.conversationId === 'string' && typeof frame.userId === 'string')
          this.emitTyping({ conversationId: frame.conversationId, userId: frame.userId });
        return true;
      default:
        return false;
    }
  }
}

function isPresenceState(value: unknown): value is PresenceState {
  if (typeof value !== 'object' || value === null) return false;
  const { userId, online, lastSeenAt } = value as Record<string, unknown>;
  return (
    typeof userId === 'string' && typeof online === 'boolean' && (lastSeenAt === null || typeof lastSeenAt === 'string')
  );
}
