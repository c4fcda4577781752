import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { limits } from '../config/limits';
import { BadRequestError, UnauthorizedError } from '../errors';
import { userKeys } from '../keys';
import { batchGetAll } from '../repositories/batch-get';
import { queryAll } from '../repositories/query-all';
import type { Clock } from '../services/clock';

/** Whether a user may open a connection for a device. */
export type ConnectStanding =
  | { readonly kind: 'allowed' }
  /** The profile is a tombstone: the account was deleted, its unexpired tokens no longer count. */
  | { readonly kind: 'deleted' }
  /** A new device while `maxDevicesPerUser` others were active within the activity window. */
  | { readonly kind: 'deviceLimit'; readonly activeDevices: number };

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * What a valid token cannot tell: whether its user still exists (tombstones of deleted accounts)
 * and how many devices they already have. Reads the users table only; every read is strongly
 * consistent, so a deletion is honoured as soon as `DELETE /users/{id}` has answered.
 */
export class AccountStanding {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
  ) {}

  /**
   * One Query of the user's own partition gives both the profile (tombstone or not) and the device rows.
   * It starts at the device prefix: the connection rows (`CONNECTION#…`) sort before it and are not read,
   * and only `DEVICE#…` rows count as devices below.
   */
  async forConnect(userId: string, deviceId: string): Promise<ConnectStanding> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk >= :from',
      ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':from': userKeys.devicePrefix },
      ProjectionExpression: 'sk, deleted, lastConnectedAt',
      ConsistentRead: true,
    });
    const profileSk = userKeys.profile(userId).sk;
    if (items.some((item) => item.sk === profileSk && item.deleted === true)) return { kind: 'deleted' };

    const thisDevice = userKeys.device(userId, deviceId).sk;
    const activeSince = new Date(this.clock.now().getTime() - limits.deviceActivityWindowDays * DAY_MS).toISOString();
    const devices = items.filter((item) => String(item.sk).startsWith(userKeys.devicePrefix));
    // A device already known reconnects whatever the count: the limit only stops new ones.
    if (devices.some((item) => item.sk === thisDevice)) return { kind: 'allowed' };
    const activeDevices = devices.filter((item) => String(item.lastConnectedAt ?? '') >= activeSince).length;
    return activeDevices >= limits.maxDevicesPerUser ? { kind: 'deviceLimit', activeDevices } : { kind: 'allowed' };
  }

  /** Refuses a caller whose account was deleted (401: the token outlived its user). */
  async refuseDeletedCaller(userId: string): Promise<void> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableName,
        Key: userKeys.profile(userId),
        ProjectionExpression: 'deleted',
        ConsistentRead: true,
      }),
    );
    if (result.Item?.deleted === true) throw deletedCaller();
  }

  /**
   * Before a membership change: a deleted caller gets 401, a deleted user named as a member 400.
   * A deleted account has left every conversation; this keeps anyone from adding it back.
   */
  async refuseDeletedParticipants(callerId: string, memberIds: readonly string[]): Promise<void> {
    const ids = [...new Set([callerId, ...memberIds])];
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      ids.map((id) => userKeys.profile(id)),
      true,
    );
    const deleted = new Set(items.filter((item) => item.deleted === true).map((item) => String(item.id)));
    if (deleted.has(callerId)) throw deletedCaller();
    const deletedMembers = memberIds.filter((id) => deleted.has(id));
    if (deletedMembers.length > 0) {
      throw new BadRequestError('Deleted users cannot join a conversation', { userIds: [...new Set(deletedMembers)] });
    }
  }
}

const deletedCaller = () => new UnauthorizedError('This account has been deleted');
