import { object, string } from 'zod/mini';
import type { Clock } from '../clock';
import { limits } from '../config/limits';
import { AppError, BadRequestError, ConflictError, ForbiddenError, NotFoundError } from '../errors';
import { cursorCodec } from '../protocol/cursor';
import {
  concurrentChangeError,
  type ProfileChanges,
  type UsernameRefusal,
  type UserProfile,
  type UserRepository,
} from '../repositories/user-repository';

/** What a client chooses; id and times are the server's. */
export type ProfileFields = Omit<
  UserProfile,
  'id' | 'createdAt' | 'updatedAt' | 'readReceipts' | 'showPresence' | 'pushPreview' | 'groupAdds'
> & {
  readonly readReceipts?: boolean;
  readonly showPresence?: boolean;
  readonly pushPreview?: boolean;
  readonly groupAdds?: UserProfile['groupAdds'];
};

/** What other users see: email and phone are private to the owner. */
export type PublicProfile = Pick<UserProfile, 'id' | 'name' | 'username'>;

/** A deleted user, as clients render the author of their old messages. */
export interface DeletedUser {
  readonly id: string;
  readonly deleted: true;
  readonly name: string;
}

export type UserView = UserProfile | PublicProfile | DeletedUser;

export const deletedUserName = 'Deleted user';

/** A page of people found by username, and where the next one starts. */
export interface UserSearchPage {
  readonly users: readonly PublicProfile[];
  readonly cursor?: string;
}

const searchCursor = cursorCodec(object({ after: string() }));

/** Reads again when a concurrent username change made the one read stale. */
const MAX_UPDATE_ATTEMPTS = 3;

/** Tells the user's presence watchers that `showPresence` changed (PresenceAnnouncements); never throws. */
export interface PresenceVisibilityAnnouncer {
  announceVisibility(userId: string, visible: boolean, at: Date): Promise<void>;
}

export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly clock: Clock,
    /** Only profile updates get it (and its grants): the other user routes never change the switch. */
    private readonly presence?: PresenceVisibilityAnnouncer,
  ) {}

  /** The caller's own profile; the username must be free and the caller must not have a profile yet. */
  async create(userId: string, fields: ProfileFields): Promise<UserProfile> {
    const now = this.clock.now().toISOString();
    const profile: UserProfile = {
      id: userId,
      name: fields.name,
      username: normalizeUsername(fields.username),
      ...(fields.email !== undefined ? { email: fields.email } : {}),
      ...(fields.phone !== undefined ? { phone: fields.phone } : {}),
      readReceipts: fields.readReceipts ?? true,
      showPresence: fields.showPresence ?? true,
      pushPreview: fields.pushPreview ?? true,
      groupAdds: fields.groupAdds ?? 'everyone',
      createdAt: now,
      updatedAt: now,
    };
    const outcome = await this.users.create(profile);
    if (outcome === 'profileExists') throw new ConflictError('Profile already exists');
    if (outcome !== 'created') throw usernameRefused(outcome);
    return profile;
  }

  /**
   * Live users whose username starts with `prefix` (case ignored), the caller left out, in username
   * order (an exact match first), `limits.userSearch.pageSize` to a page.
   */
  async search(callerId: string, prefix: string, cursor?: string): Promise<UserSearchPage> {
    const normalized = normalizeUsername(prefix);
    const after = cursor === undefined ? undefined : searchCursor.decode(cursor).after;
    if (after !== undefined && !after.startsWith(normalized)) throw new BadRequestError('Invalid cursor');
    const { matches, next } = await this.users.searchUsernames(normalized, limits.userSearch.pageSize, after);
    const profiles = new Map(
      (await this.users.activeProfiles(matches.map((match) => match.userId))).map((profile) => [profile.id, profile]),
    );
    const users = matches.flatMap(({ userId, username }) => {
      const profile = profiles.get(userId);
      // A claim the index still shows after a rename or deletion is not who the user is now.
      if (!profile || profile.username !== username || userId === callerId) return [];
      return [{ id: profile.id, name: profile.name, username: profile.username }];
    });
    return { users, ...(next === undefined ? {} : { cursor: searchCursor.encode({ after: next }) }) };
  }

  /** The owner gets the whole profile, anyone else the public view, and a deleted user a placeholder. */
  async get(callerId: string, userId: string): Promise<UserView> {
    const stored = await this.users.get(userId);
    if (stored === undefined) throw userNotFound();
    if (stored.status === 'deleted') return { id: stored.id, deleted: true, name: deletedUserName };
    const { profile } = stored;
    return profile.id === callerId ? profile : { id: profile.id, name: profile.name, username: profile.username };
  }

  /** Self only; answers the whole profile as it is after the change. */
  async update(callerId: string, userId: string, requested: ProfileChanges): Promise<UserProfile> {
    if (callerId !== userId) throw new ForbiddenError('Only the owner can change a profile');
    const changes =
      requested.username === undefined ? requested : { ...requested, username: normalizeUsername(requested.username) };
    for (let attempt = 1; attempt <= MAX_UPDATE_ATTEMPTS; attempt++) {
      const stored = await this.users.get(userId);
      if (stored?.status !== 'active') throw userNotFound();
      const now = this.clock.now();
      const updatedAt = now.toISOString();
      const outcome = await this.users.update(stored.profile, changes, updatedAt);
      if (outcome === 'updated') {
        // Only an actual change: the profile was read strongly consistent just before the write.
        if (changes.showPresence !== undefined && changes.showPresence !== stored.profile.showPresence)
          await this.presence?.announceVisibility(userId, changes.showPresence, now);
        return applyChanges(stored.profile, changes, updatedAt);
      }
      if (outcome === 'notFound') throw userNotFound();
      if (outcome !== 'stale') throw usernameRefused(outcome);
    }
    throw concurrentChangeError();
  }
}

/** Usernames ignore case: one lowercase form is stored and claimed. */
const normalizeUsername = (username: string) => username.toLowerCase();

const userNotFound = () => new NotFoundError('User not found');
function usernameRefused(refusal: UsernameRefusal): AppError {
  if (refusal === 'usernameTaken') return new ConflictError('Username is taken');
  return new AppError('username_confusable', `Username looks like ${refusal.lookAlikeOf}, which is taken`, {
    lookAlikeOf: refusal.lookAlikeOf,
  });
}

function applyChanges(profile: UserProfile, changes: ProfileChanges, updatedAt: string): UserProfile {
  const email = changes.email === undefined ? profile.email : changes.email;
  const phone = changes.phone === undefined ? profile.phone : changes.phone;
  return {
    id: profile.id,
    name: changes.name ?? profile.name,
    username: changes.username ?? profile.username,
    ...(typeof email === 'string' ? { email } : {}),
    ...(typeof phone === 'string' ? { phone } : {}),
    readReceipts: changes.readReceipts ?? profile.readReceipts,
    showPresence: changes.showPresence ?? profile.showPresence,
    pushPreview: changes.pushPreview ?? profile.pushPreview,
    groupAdds: changes.groupAdds ?? profile.groupAdds,
    createdAt: profile.createdAt,
    updatedAt,
  };
}
