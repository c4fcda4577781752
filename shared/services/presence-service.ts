import pLimit from 'p-limit';
import type { ConnectionPoster } from '../aws/connection-poster';
import { type Clock, epochSeconds } from '../clock';
import { limits } from '../config/limits';
import { NotFoundError } from '../errors';
import type { PresenceState, ServerFrame } from '../protocol/frames';
import type { ConnectionRepository } from '../repositories/connection-repository';
import type { ConversationRepository } from '../repositories/conversation-repository';
import type { PresenceWatcher, PresenceWatcherRepository } from '../repositories/presence-watcher-repository';

/** The profile switch, read for many users at once (UserRepository.hidingPresence). */
export interface PresencePrivacy {
  hidingPresence(userIds: readonly string[]): Promise<Set<string>>;
}

/** The user's reach as presence reads it (ConnectionRepository.readPresence): only a switch turned on needs it. */
export interface PresenceReader {
  readPresence(
    userIds: readonly string[],
    nowEpochSeconds: number,
  ): Promise<Map<string, { online: boolean; lastSeenAt?: string }>>;
}

/** Lines carry ids and counts, never more. */
export interface PresenceLogger {
  warn(message: string, details: Record<string, unknown>): void;
}

/** What a user who hides presence, or was never seen, reads as. */
const unseen = (userId: string): PresenceState => ({ userId, online: false, lastSeenAt: null });

/** A user's presence as their reach item tells it (`lastSeenAt` only while offline); none read: never seen. */
function stateOf(userId: string, seen: { online: boolean; lastSeenAt?: string } | undefined): PresenceState {
  if (seen === undefined) return unseen(userId);
  return { userId, online: seen.online, lastSeenAt: seen.online ? null : (seen.lastSeenAt ?? null) };
}

/** Membership reads of watched users run this many at a time (a subscription names up to 100). */
const membershipReadConcurrency = 16;

/**
 * Presence, derived from the connections Parley keeps anyway: a user is online while the reach item
 * names an unexpired connection of any device, and `lastSeenAt` is written by the `$disconnect` that
 * already clears the device's entry. Only users who share a conversation with the viewer are answered;
 * `showPresence: false` makes a user read as offline and never seen, like one who never connected.
 */
export class PresenceService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly connections: ConnectionRepository,
    private readonly privacy: PresencePrivacy,
    private readonly clock: Clock,
    /** Only `subscribe` writes them; reads need no watchers table. */
    private readonly watchers?: PresenceWatcherRepository,
  ) {}

  /** `GET /users/{id}/presence`: a user the caller shares no conversation with answers 404, as an unknown one. */
  async probe(viewerId: string, userId: string): Promise<{ online: boolean; lastSeenAt: string | null }> {
    const [state] = await this.presenceOf(viewerId, [userId]);
    if (state === undefined) throw new NotFoundError('User not found');
    return { online: state.online, lastSeenAt: state.lastSeenAt };
  }

  /**
   * `subscribePresence`: the connection watches exactly the allowed users of `userIds` from now on (the
   * last list is replaced), and gets their presence now. Users it may not watch are left out, as unknown ones.
   */
  async subscribe(watcher: PresenceWatcher, userIds: readonly string[]): Promise<PresenceState[]> {
    if (this.watchers === undefined) throw new Error('PresenceService built without the watchers table');
    const states = await this.presenceOf(watcher.userId, userIds);
    const expiresAt = epochSeconds(this.clock.now()) + limits.connectionTtlSeconds;
    await this.watchers.replace(
      watcher,
      states.map((state) => state.userId),
      expiresAt,
    );
    return states;
  }

  /** The presence of each of `userIds` the viewer may see (themselves, or someone in a conversation with them), in order. */
  private async presenceOf(viewerId: string, userIds: readonly string[]): Promise<PresenceState[]> {
    const allowed = await this.sharingWith(viewerId, userIds);
    if (allowed.length === 0) return [];
    const [hidden, reach] = await Promise.all([
      this.privacy.hidingPresence(allowed.filter((userId) => userId !== viewerId)),
      this.connections.readPresence(allowed, epochSeconds(this.clock.now())),
    ]);
    return allowed.map((userId) => (hidden.has(userId) ? unseen(userId) : stateOf(userId, reach.get(userId))));
  }

  /**
   * Of `userIds`, the viewer and those sharing a current conversation with them: the viewer's memberships
   * (one Query of the byMember index), then each other user's, intersected. Queries only, never a Scan.
   */
  private async sharingWith(viewerId: string, userIds: readonly string[]): Promise<string[]> {
    const others = userIds.filter((userId) => userId !== viewerId);
    const shared = new Set<string>();
    if (others.length > 0) {
      const viewerConversations = new Set(await this.conversations.listConversationIdsOf(viewerId));
      if (viewerConversations.size > 0) {
        const readLimit = pLimit(membershipReadConcurrency);
        await Promise.all(
          others.map((userId) =>
            readLimit(async () => {
              const conversationIds = await this.conversations.listConversationIdsOf(userId);
              if (conversationIds.some((id) => viewerConversations.has(id))) shared.add(userId);
            }),
          ),
        );
      }
    }
    return userIds.filter((userId) => userId === viewerId || shared.has(userId));
  }
}

/**
 * Tells a user's watchers that they came online or went offline, only when it flips ($connect of the
 * first device, $disconnect of the last): one Query of the watchers, then (if any) one read of the
 * switch and a post per watcher. A user's connect costs nothing per contact, only per live watcher.
 */
export class PresenceAnnouncements {
  private readonly postLimit = pLimit(limits.postConcurrency);

  constructor(
    private readonly watchers: PresenceWatcherRepository,
    private readonly privacy: PresencePrivacy,
    private readonly poster: ConnectionPoster,
    private readonly logger: PresenceLogger,
    /** Only `announceVisibility` reads the user's reach (turning the switch on tells the state as it is). */
    private readonly reach?: PresenceReader,
  ) {}

  /** Never throws: a connect or disconnect must not fail for it (a watcher learns the state on its next subscription). */
  async announce(userId: string, online: boolean, at: Date): Promise<void> {
    try {
      const watchers = await this.watchers.watchersOf(userId, epochSeconds(at));
      if (watchers.length === 0) return;
      if ((await this.privacy.hidingPresence([userId])).has(userId)) return;
      const changedAt = at.toISOString();
      await this.tellAll(userId, watchers, {
        type: 'presence',
        userId,
        online,
        lastSeenAt: online ? null : changedAt,
        changedAt,
      });
    } catch (error) {
      this.logger.warn('presence announcement failed', { userId, online, error: String(error) });
    }
  }

  /**
   * The user turned `showPresence` off (`visible: false`: watchers get the hidden state, offline and never
   * seen, as a probe answers) or on (the state as it is now). Their own connections see through the switch,
   * so they get nothing. Never throws: the profile change stands either way.
   */
  async announceVisibility(userId: string, visible: boolean, at: Date): Promise<void> {
    try {
      const watchers = (await this.watchers.watchersOf(userId, epochSeconds(at))).filter(
        (watcher) => watcher.userId !== userId,
      );
      if (watchers.length === 0) return;
      const state = visible ? await this.stateNow(userId, at) : unseen(userId);
      await this.tellAll(userId, watchers, { type: 'presence', ...state, changedAt: at.toISOString() });
    } catch (error) {
      this.logger.warn('presence visibility announcement failed', { userId, visible, error: String(error) });
    }
  }

  private async stateNow(userId: string, at: Date): Promise<PresenceState> {
    if (this.reach === undefined) throw new Error('PresenceAnnouncements built without the reach reader');
    return stateOf(userId, (await this.reach.readPresence([userId], epochSeconds(at))).get(userId));
  }

  private async tellAll(userId: string, watchers: readonly PresenceWatcher[], frame: ServerFrame): Promise<void> {
    await Promise.all(watchers.map((watcher) => this.postLimit(() => this.tell(userId, watcher, frame))));
  }

  private async tell(userId: string, watcher: PresenceWatcher, frame: ServerFrame): Promise<void> {
    try {
      if ((await this.poster.post(watcher.connectionId, frame)) === 'gone')
        await this.watchers.removeWatcher(userId, watcher.connectionId);
    } catch (error) {
      this.logger.warn('presence post failed', { userId, error: String(error) });
    }
  }
}
