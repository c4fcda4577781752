import {
  type CancellationReason,
  ConditionalCheckFailedException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { ConflictError } from '../errors';
import { userKeys } from '../keys';
import type { Device, PushSubscription } from '../model';
import { usernameSkeleton } from '../protocol/username-skeleton';
import type { GroupAdds } from '../protocol/users-http';
import { groupAddsOf } from './account-standing-repository';
import { batchGetAll } from './batch-get';
import { pushSubscriptionOf } from './connection-repository';

export interface UserProfile {
  readonly id: string;
  readonly name: string;
  /** Lowercase, and held by no other user (its claim item says whose it is). */
  readonly username: string;
  readonly email?: string;
  readonly phone?: string;
  /** Whether others see this user's reads (WhatsApp's privacy setting); their own devices always do. */
  readonly readReceipts: boolean;
  /** Whether others see when this user is online and was last seen; their own devices always do. */
  readonly showPresence: boolean;
  /** Whether the user's push notifications show a short preview of the message, or only who wrote. */
  readonly pushPreview: boolean;
  /** Who may add this user to a group. */
  readonly groupAdds: GroupAdds;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A live profile, or the tombstone a deleted user leaves so their old messages still name someone. */
export type StoredUser =
  | { readonly status: 'active'; readonly profile: UserProfile }
  | { readonly status: 'deleted'; readonly id: string; readonly deletedAt: string };

/** Fields to change; `null` removes an optional one. */
export interface ProfileChanges {
  readonly name?: string;
  readonly username?: string;
  readonly email?: string | null;
  readonly phone?: string | null;
  readonly readReceipts?: boolean;
  readonly showPresence?: boolean;
  readonly pushPreview?: boolean;
  readonly groupAdds?: GroupAdds;
}

/** The username is someone else's, or looks like someone else's (the same skeleton): `lookAlikeOf` names theirs. */
export type UsernameRefusal = 'usernameTaken' | { readonly lookAlikeOf: string };

export type CreateProfileOutcome = 'created' | 'profileExists' | UsernameRefusal;

/**
 * `notFound`: no profile, or a tombstone. `stale`: the profile's username is no longer the one
 * the caller read (a concurrent update moved it); read again and retry.
 */
export type UpdateProfileOutcome = 'updated' | 'notFound' | 'stale' | UsernameRefusal;

export type MarkDeletedOutcome = 'deleted' | 'alreadyDeleted' | 'noProfile';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

const changeableFields = [
  'name',
  'username',
  'email',
  'phone',
  'readReceipts',
  'showPresence',
  'pushPreview',
  'groupAdds',
] as const;
const MAX_ATTEMPTS = 5;
const LIVE_PROFILE = 'attribute_exists(pk) AND attribute_not_exists(#deleted)';

/** Profiles (`USER#id`/`PROFILE`) and username claims (`USERNAME#name`/`USERNAME`) in the users table. */
export class UserRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Live usernames starting with `prefix` (lowercase, at least `usernameSearchPrefixLength`
   * characters), in username order (an exact match first), a page at a time. The index is
   * eventually consistent: a username claimed a moment ago may show a moment later.
   */
  async searchUsernames(
    prefix: string,
    limit: number,
    after?: string,
  ): Promise<{ readonly matches: { readonly userId: string; readonly username: string }[]; readonly next?: string }> {
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'byUsernamePrefix',
        KeyConditionExpression: 'searchPrefix = :bucket AND begins_with(searchName, :prefix)',
        ExpressionAttributeValues: { ':bucket': prefix.slice(0, usernameSearchPrefixLength), ':prefix': prefix },
        Limit: limit,
        ...(after === undefined
          ? {}
          : {
              ExclusiveStartKey: {
                ...userKeys.usernameClaim(after),
                searchPrefix: after.slice(0, usernameSearchPrefixLength),
                searchName: after,
              },
            }),
      }),
    );
    const matches = (result.Items ?? []).map((item) => ({
      userId: String(item.userId),
      username: String(item.searchName),
    }));
    const last = result.LastEvaluatedKey?.searchName;
    return { matches, ...(typeof last === 'string' ? { next: last } : {}) };
  }

  /** Profiles of many users (eventually consistent, as search results are): missing and deleted ones are left out. */
  async activeProfiles(userIds: readonly string[]): Promise<UserProfile[]> {
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      userIds.map((userId) => userKeys.profile(userId)),
    );
    return items.map(toStoredUser).flatMap((stored) => (stored.status === 'active' ? [stored.profile] : []));
  }

  /**
   * What a push needs, in one eventually consistent BatchGetItem: the live profiles of `userIds` and the
   * device's Web Push subscription as its row holds it now (undefined: no row, or no subscription).
   */
  async profilesAndPushSubscription(
    userIds: readonly string[],
    device: Device,
  ): Promise<{ profiles: UserProfile[]; subscription: PushSubscription | undefined }> {
    const deviceKey = userKeys.device(device.userId, device.deviceId);
    const items = await batchGetAll(this.documentClient, this.tableName, [
      ...[...new Set(userIds)].map((userId) => userKeys.profile(userId)),
      deviceKey,
    ]);
    const deviceRow = items.find((item) => item.pk === deviceKey.pk && item.sk === deviceKey.sk);
    const profiles = items
      .filter((item) => item !== deviceRow)
      .map(toStoredUser)
      .flatMap((stored) => (stored.status === 'active' ? [stored.profile] : []));
    return { profiles, subscription: pushSubscriptionOf(deviceRow?.pushSubscription) };
  }

  /** Strongly consistent, so an owner reads their own update right after making it. */
  async get(userId: string): Promise<StoredUser | undefined> {
    const result = await this.documentClient.send(
      new GetCommand({ TableName: this.tableName, Key: userKeys.profile(userId), ConsistentRead: true }),
    );
    return result.Item ? toStoredUser(result.Item) : undefined;
  }

  /** Whether others may see the user's reads: a user with no profile keeps the default (yes). */
  async sharesReads(userId: string): Promise<boolean> {
    const stored = await this.get(userId);
    return stored?.status !== 'active' || stored.profile.readReceipts;
  }

  /**
   * Of `userIds`, those whose presence others may not see: `showPresence` off, or a deleted account (a
   * user with no profile keeps the default, shown). One eventually consistent BatchGetItem per 100: a
   * switch flipped a moment ago may lag that long.
   */
  async hidingPresence(userIds: readonly string[]): Promise<Set<string>> {
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      [...new Set(userIds)].map((userId) => userKeys.profile(userId)),
      false,
      'id, showPresence, deleted',
    );
    return new Set(
      items.filter((item) => item.deleted === true || item.showPresence === false).map((item) => String(item.id)),
    );
  }

  /**
   * Profile, username claim and skeleton claim together, each only if absent: one profile per user,
   * one user per username, and per look of a username.
   */
  async create(profile: UserProfile): Promise<CreateProfileOutcome> {
    const reasons = await this.transact([
      {
        Put: {
          TableName: this.tableName,
          Item: { ...userKeys.profile(profile.id), ...profile },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: claimItem(profile.username, profile.id),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      putSkeletonClaim(this.tableName, profile.username, profile.id),
    ]);
    if (reasons === undefined) return 'created';
    const [profileItem, claim, skeletonClaim] = reasons;
    if (failedCondition(profileItem)) return 'profileExists';
    return usernameRefusal(claim, skeletonClaim);
  }

  /**
   * Writes only the changed fields, so concurrent edits of other fields are not lost. A new
   * username moves the claim in the same transaction: the old claim goes only if it is still this
   * user's, the new one is put only if free, the profile changes only if it still has the old one.
   */
  async update(current: UserProfile, changes: ProfileChanges, updatedAt: string): Promise<UpdateProfileOutcome> {
    const assignment = updateAssignment(changes, updatedAt);
    if (changes.username === undefined || changes.username === current.username) {
      try {
        await this.documentClient.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: userKeys.profile(current.id),
            ...assignment,
            ConditionExpression: LIVE_PROFILE,
            ExpressionAttributeNames: { ...assignment.ExpressionAttributeNames, '#deleted': 'deleted' },
          }),
        );
        return 'updated';
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'notFound';
        throw error;
      }
    }

    // The skeleton claim moves only when the look changes; `a1ice` to `alice` keeps it and renames it.
    const skeletonMoves = usernameSkeleton(changes.username) !== usernameSkeleton(current.username);
    const releasesOldLook = skeletonMoves && (await this.holdsLookOf(current.username, current.id));
    const reasons = await this.transact([
      {
        Delete: {
          TableName: this.tableName,
          Key: userKeys.usernameClaim(current.username),
          ConditionExpression: 'userId = :userId',
          ExpressionAttributeValues: { ':userId': current.id },
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: claimItem(changes.username, current.id),
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      ...(releasesOldLook ? [deleteSkeletonClaim(this.tableName, current.username, current.id)] : []),
      putSkeletonClaim(this.tableName, changes.username, current.id, skeletonMoves ? 'free' : 'ownedOrFree'),
      {
        Update: {
          TableName: this.tableName,
          Key: userKeys.profile(current.id),
          ...assignment,
          ConditionExpression: `${LIVE_PROFILE} AND #username = :readUsername`,
          ExpressionAttributeNames: {
            ...assignment.ExpressionAttributeNames,
            '#deleted': 'deleted',
            '#username': 'username',
          },
          ExpressionAttributeValues: { ...assignment.ExpressionAttributeValues, ':readUsername': current.username },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
    ]);
    if (reasons === undefined) return 'updated';
    const [oldClaim, newClaim] = reasons;
    const [oldSkeletonClaim, newSkeletonClaim] = releasesOldLook ? reasons.slice(2, 4) : [undefined, reasons[2]];
    const profile = reasons.at(-1);
    if (failedCondition(profile)) {
      const stored = profile?.Item ? unmarshall(profile.Item) : undefined;
      return stored === undefined || stored.deleted === true ? 'notFound' : 'stale';
    }
    // A stale read first: the "taken" username may be the one this user moved to meanwhile.
    if (failedCondition(oldClaim) || failedCondition(oldSkeletonClaim)) return 'stale';
    if (failedCondition(newClaim) || failedCondition(newSkeletonClaim))
      return usernameRefusal(newClaim, newSkeletonClaim);
    throw new Error('User update cancelled without a failed condition');
  }

  /**
   * Replaces the profile with a tombstone (`deleted: true`, no name or username) and frees the
   * username, in one transaction. Reads again when the profile changed in between.
   */
  async markDeleted(userId: string, deletedAt: string): Promise<MarkDeletedOutcome> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const stored = await this.get(userId);
      if (stored === undefined) return 'noProfile';
      if (stored.status === 'deleted') return 'alreadyDeleted';
      const { username } = stored.profile;
      const releasesLook = await this.holdsLookOf(username, userId);
      const reasons = await this.transact([
        {
          Put: {
            TableName: this.tableName,
            Item: { ...userKeys.profile(userId), id: userId, deleted: true, deletedAt },
            ConditionExpression: `${LIVE_PROFILE} AND #username = :readUsername`,
            ExpressionAttributeNames: { '#deleted': 'deleted', '#username': 'username' },
            ExpressionAttributeValues: { ':readUsername': username },
          },
        },
        {
          Delete: {
            TableName: this.tableName,
            Key: userKeys.usernameClaim(username),
            ConditionExpression: 'userId = :userId',
            ExpressionAttributeValues: { ':userId': userId },
          },
        },
        ...(releasesLook ? [deleteSkeletonClaim(this.tableName, username, userId)] : []),
      ]);
      if (reasons === undefined) return 'deleted';
    }
    throw concurrentChangeError();
  }

  /**
   * Whether the user holds the skeleton claim of their username: a username claimed before skeleton
   * claims existed may have none, or a look-alike claimed since may hold it, and freeing it must
   * neither fail on the first nor take the second's.
   */
  private async holdsLookOf(username: string, userId: string): Promise<boolean> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableName,
        Key: userKeys.usernameSkeletonClaim(usernameSkeleton(username)),
        ConsistentRead: true,
      }),
    );
    return result.Item?.userId === userId;
  }

  /**
   * Runs a transaction; answers the cancellation reasons when a condition failed. A cancellation
   * only because another transaction held the same items (TransactionConflict) is retried, so the
   * caller sees the real outcome once that one has committed.
   */
  private async transact(items: TransactItems): Promise<readonly CancellationReason[] | undefined> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        await this.documentClient.send(new TransactWriteCommand({ TransactItems: items }));
        return undefined;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some(failedCondition)) return reasons;
        if (!reasons.some((reason) => reason.Code === 'TransactionConflict')) throw error;
        await sleep(10 * attempt * (0.5 + Math.random()));
      }
    }
    throw concurrentChangeError();
  }
}

/** What a caller gets when its change keeps losing races to others on the same profile. */
export const concurrentChangeError = () => new ConflictError('The profile is being changed by another request; retry');

const failedCondition = (reason: CancellationReason | undefined) => reason?.Code === 'ConditionalCheckFailed';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function claimItem(username: string, userId: string): Record<string, unknown> {
  return {
    ...userKeys.usernameClaim(username),
    userId,
    searchPrefix: username.slice(0, usernameSearchPrefixLength),
    searchName: username,
  };
}

/**
 * The claim on a username's look, with whose it is and the username that holds it (what a refused
 * look-alike is told). Not in the search index: it carries no search attributes. `free`: only if
 * nobody holds the look; `ownedOrFree`: also over the user's own claim, renaming it (a username
 * claimed before skeleton claims existed gets its claim then).
 */
function putSkeletonClaim(tableName: string, username: string, userId: string, when: 'free' | 'ownedOrFree' = 'free') {
  return {
    Put: {
      TableName: tableName,
      Item: { ...userKeys.usernameSkeletonClaim(usernameSkeleton(username)), userId, username },
      ...(when === 'free'
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'attribute_not_exists(pk) OR userId = :userId',
            ExpressionAttributeValues: { ':userId': userId },
          }),
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    },
  };
}

/** Frees a look the user holds (holdsLookOf said so; the condition holds it to that). */
function deleteSkeletonClaim(tableName: string, username: string, userId: string) {
  return {
    Delete: {
      TableName: tableName,
      Key: userKeys.usernameSkeletonClaim(usernameSkeleton(username)),
      ConditionExpression: 'userId = :userId',
      ExpressionAttributeValues: { ':userId': userId },
    },
  };
}

/** Taken when the exact username is claimed; else a look-alike of the username holding the skeleton. */
function usernameRefusal(
  claim: CancellationReason | undefined,
  skeletonClaim: CancellationReason | undefined,
): UsernameRefusal {
  if (failedCondition(claim) || !failedCondition(skeletonClaim)) return 'usernameTaken';
  const holder = skeletonClaim?.Item ? unmarshall(skeletonClaim.Item) : undefined;
  return typeof holder?.username === 'string' ? { lookAlikeOf: holder.username } : 'usernameTaken';
}

/** Searches name at least this many characters; the index is partitioned by a username's first this many. */
export const usernameSearchPrefixLength = 3;

/** `SET` for the given fields and updatedAt, `REMOVE` for the nulled ones; names aliased (`name` is reserved). */
function updateAssignment(changes: ProfileChanges, updatedAt: string) {
  const names: Record<string, string> = { '#updatedAt': 'updatedAt' };
  const values: Record<string, unknown> = { ':updatedAt': updatedAt };
  const sets = ['#updatedAt = :updatedAt'];
  const removes: string[] = [];
  for (const field of changeableFields) {
    const value = changes[field];
    if (value === undefined) continue;
    names[`#${field}`] = field;
    if (value === null) {
      removes.push(`#${field}`);
    } else {
      values[`:${field}`] = value;
      sets.push(`#${field} = :${field}`);
    }
  }
  return {
    UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function toStoredUser(item: Record<string, unknown>): StoredUser {
  const id = String(item.id);
  if (item.deleted === true) return { status: 'deleted', id, deletedAt: String(item.deletedAt) };
  return {
    status: 'active',
    profile: {
      id,
      name: String(item.name),
      username: String(item.username),
      ...(typeof item.email === 'string' ? { email: item.email } : {}),
      ...(typeof item.phone === 'string' ? { phone: item.phone } : {}),
      // Profiles written before the setting existed share reads, the default.
      readReceipts: item.readReceipts !== false,
      // Likewise presence is shown unless switched off.
      showPresence: item.showPresence !== false,
      // Likewise for previews in push notifications.
      pushPreview: item.pushPreview !== false,
      groupAdds: groupAddsOf(item),
      createdAt: String(item.createdAt),
      updatedAt: String(item.updatedAt),
    },
  };
}
