import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { tables } from '../config/tables';
import { userKeys } from '../keys';
import type { Connection, Device, PushSubscription } from '../model';
import { batchGetAll } from './batch-get';
import { queryAll } from './query-all';

const BY_CONNECTION_ID = tables.users.globalIndexes[0].indexName;

/** The attribute of a user's reach item that holds one device (and its live connection, if any). */
const REACH_DEVICE_PREFIX = 'device#';

/** The attribute of a user's reach item that holds one device's Web Push subscription (beside its device row's copy). */
export const REACH_PUSH_PREFIX = 'push#';

/** A user's devices and live connections: what delivering a message to the user needs. */
export interface Reach {
  readonly devices: Device[];
  readonly connections: Connection[];
  /** Web Push subscriptions by device id, read with the rest at no extra cost. */
  readonly pushSubscriptions?: ReadonlyMap<string, PushSubscription>;
}

/**
 * Live WebSocket connections live in the users table, in the user's own partition beside the
 * devices (`USER#<userId>`/`CONNECTION#<connectionId>`), so one Query reads both. The user's reach
 * item (`USER#<userId>`/`REACH`) keeps the same in one item, each known device with its newest live
 * connection, so a whole group's reach is one BatchGetItem, not a Query per member. It counts as
 * complete once a connect has copied every device row into it (users who have not connected since
 * it was introduced have none, and are read by Query).
 */
export class ConnectionRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records the connection; answers whether the user's reach item already lists every device, and
   * whether this connect brought the user online (no device of theirs held a live connection before).
   */
  async put(
    connection: Connection,
    connectedAt: string,
    expiresAtEpochSeconds: number,
  ): Promise<{ reachComplete: boolean; cameOnline: boolean }> {
    const [, named] = await Promise.all([
      this.documentClient.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...userKeys.connection(connection.userId, connection.connectionId),
            userId: connection.userId,
            deviceId: connection.deviceId,
            connectionId: connection.connectionId,
            connectedAt,
            expiresAt: expiresAtEpochSeconds,
          },
        }),
      ),
      this.naming(connection, connectedAt, expiresAtEpochSeconds),
    ]);
    return named;
  }

  /**
   * Names the connection in the device's reach entry, unless a newer connection of the device is
   * named already: a connect whose write lands late (retried after a throttle, or resumed after its
   * handler failed and the device reconnected) must not hide the device's live connection behind a
   * dead one. Answers whether the reach item lists every device, and whether no device was live before
   * (the item as it was comes back with the write, so presence costs no extra read).
   */
  private async naming(
    connection: Connection,
    connectedAt: string,
    expiresAtEpochSeconds: number,
  ): Promise<{ reachComplete: boolean; cameOnline: boolean }> {
    try {
      const reach = await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKeys.reach(connection.userId),
          UpdateExpression: 'SET #device = :live, complete = if_not_exists(complete, :incomplete)',
          // ISO timestamps of one length compare as their times do.
          ConditionExpression: 'attribute_not_exists(#device.connectedAt) OR #device.connectedAt <= :connectedAt',
          ExpressionAttributeNames: { '#device': `${REACH_DEVICE_PREFIX}${connection.deviceId}` },
          ExpressionAttributeValues: {
            ':live': { connectionId: connection.connectionId, connectedAt, expiresAt: expiresAtEpochSeconds },
            ':connectedAt': connectedAt,
            ':incomplete': false,
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const before = reach.Attributes ?? {};
      const nowEpochSeconds = Math.floor(Date.parse(connectedAt) / 1000);
      return { reachComplete: before.complete === true, cameOnline: !hasLiveDevice(before, nowEpochSeconds) };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // A newer connection of this device is named: this one is already on its way out.
      return { reachComplete: error.Item?.complete?.BOOL === true, cameOnline: false };
    }
  }

  /** Adds devices known from their rows (offline unless already live) and marks the reach item complete. */
  async completeReach(userId: string, deviceIds: readonly string[]): Promise<void> {
    const names: Record<string, string> = {};
    const sets = deviceIds.map((deviceId, i) => {
      names[`#d${i}`] = `${REACH_DEVICE_PREFIX}${deviceId}`;
      return `#d${i} = if_not_exists(#d${i}, :offline)`;
    });
    await this.documentClient.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: userKeys.reach(userId),
        UpdateExpression: `SET ${[...sets, 'complete = :complete'].join(', ')}`,
        ...(deviceIds.length > 0 ? { ExpressionAttributeNames: names } : {}),
        ExpressionAttributeValues: { ':offline': {}, ':complete': true },
      }),
    );
  }

  /**
   * Removes the connection row; the device's reach entry goes offline while it still names this
   * connection. `deviceId`, when the caller knows it, clears the entry even if the row is already gone
   * (an earlier attempt deleted it and then failed on the entry), so a retry finishes the job.
   * `disconnectedAt` (the `$disconnect` path) is kept as the user's `lastSeenAt` in the same write.
   * Answers whether the user went offline: this entry was cleared and no other device is live.
   */
  async delete(
    userId: string,
    connectionId: string,
    deviceId?: string,
    disconnectedAt?: Date,
  ): Promise<{ wentOffline: boolean }> {
    const removed = await this.documentClient.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: userKeys.connection(userId, connectionId),
        ReturnValues: 'ALL_OLD',
      }),
    );
    const rowDeviceId = removed.Attributes?.deviceId;
    const entryDeviceId = typeof rowDeviceId === 'string' ? rowDeviceId : deviceId;
    if (entryDeviceId === undefined) return { wentOffline: false };
    try {
      const after = await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKeys.reach(userId),
          UpdateExpression:
            disconnectedAt === undefined
              ? 'SET #device = :offline'
              : 'SET #device = :offline, lastSeenAt = :lastSeenAt',
          ConditionExpression: '#device.connectionId = :connectionId',
          ExpressionAttributeNames: { '#device': `${REACH_DEVICE_PREFIX}${entryDeviceId}` },
          ExpressionAttributeValues: {
            ':connectionId': connectionId,
            ':offline': {},
            ...(disconnectedAt === undefined ? {} : { ':lastSeenAt': disconnectedAt.toISOString() }),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const nowEpochSeconds = Math.floor((disconnectedAt ?? new Date()).getTime() / 1000);
      return { wentOffline: !hasLiveDevice(after.Attributes ?? {}, nowEpochSeconds) };
    } catch (error) {
      // The device has connected again since: its entry names the newer connection and stays.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { wentOffline: false };
    }
  }

  /**
   * What presence needs of many users' reach items (one eventually consistent BatchGetItem per 100):
   * whether any device holds an unexpired connection, and when the user was last seen.
   */
  async readPresence(
    userIds: readonly string[],
    nowEpochSeconds: number,
  ): Promise<Map<string, { online: boolean; lastSeenAt?: string }>> {
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      [...new Set(userIds)].map((userId) => userKeys.reach(userId)),
    );
    const presence = new Map<string, { online: boolean; lastSeenAt?: string }>();
    for (const item of items) {
      const userId = userKeys.userIdOf(String(item.pk));
      if (userId === undefined) continue;
      presence.set(userId, {
        online: hasLiveDevice(item, nowEpochSeconds),
        ...(typeof item.lastSeenAt === 'string' ? { lastSeenAt: item.lastSeenAt } : {}),
      });
    }
    return presence;
  }

  /**
   * Many users' reach in one strongly consistent BatchGetItem per 100 (a device that just connected
   * is seen by the next send): each known device, with its newest connection unless expired. A user
   * whose reach item is missing or not yet complete maps to `undefined` (read them by Query).
   */
  readReach(userIds: readonly string[], nowEpochSeconds: number): Promise<Map<string, Reach | undefined>> {
    return this.readReachItems(userIds, nowEpochSeconds, { liveOnly: false, consistentRead: true });
  }

  /**
   * For posts that are best effort (the send's fast path, whose misses fan-out serves after its own
   * strong read; typing; receipts): the live connections, an incomplete reach item's included, read eventually
   * consistent at half the read units. A device that connected a moment ago may be missing, and a
   * connection closed a moment ago answers its post 410.
   */
  readLiveReach(userIds: readonly string[], nowEpochSeconds: number): Promise<Map<string, Reach | undefined>> {
    return this.readReachItems(userIds, nowEpochSeconds, { liveOnly: true, consistentRead: false });
  }

  private async readReachItems(
    userIds: readonly string[],
    nowEpochSeconds: number,
    { liveOnly, consistentRead }: { readonly liveOnly: boolean; readonly consistentRead: boolean },
  ): Promise<Map<string, Reach | undefined>> {
    const unique = [...new Set(userIds)];
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      unique.map((userId) => userKeys.reach(userId)),
      consistentRead,
    );
    const reaches = new Map<string, Reach | undefined>(unique.map((userId) => [userId, undefined]));
    for (const item of items) {
      const userId = userKeys.userIdOf(String(item.pk));
      if (userId === undefined || !reaches.has(userId) || (item.complete !== true && !liveOnly)) continue;
      reaches.set(userId, toReach(userId, item, nowEpochSeconds));
    }
    return reaches;
  }

  /**
   * Records that a user with no device and no connection has a complete (empty) reach, so fan-out
   * reads it in its batch instead of querying the user's partition for every message. Only where no
   * reach item exists: a connect that got there first already created one, and a connect after this
   * adds its device to it as to any complete reach.
   */
  async markReachEmpty(userId: string): Promise<void> {
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: userKeys.reach(userId),
          UpdateExpression: 'SET complete = :complete',
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeValues: { ':complete': true },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Forgets the user's reach item (account deletion, after every connection is gone). */
  async deleteReach(userId: string): Promise<void> {
    await this.documentClient.send(new DeleteCommand({ TableName: this.tableName, Key: userKeys.reach(userId) }));
  }

  /** Strongly consistent: a device that just connected must be seen by the next post to its user. */
  async listForUser(userId: string): Promise<Connection[]> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':prefix': userKeys.connectionPrefix },
      ProjectionExpression: 'deviceId, connectionId, connectedAt',
      ConsistentRead: true,
    });
    return items.map((item) => toConnection(userId, item));
  }

  /**
   * A user's devices and live connections in one strongly consistent Query: the sort-key range
   * `CONNECTION#…` to `DEVICE#…` of the user's partition (the profile sorts after it). Strong, so a
   * device that just connected is seen by the next fan-out.
   */
  async listDevicesAndConnections(userId: string): Promise<Reach> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': userKeys.userPartition(userId),
        ':from': userKeys.devicesAndConnectionsRange.from,
        ':to': userKeys.devicesAndConnectionsRange.to,
      },
      ProjectionExpression: 'sk, deviceId, connectionId, connectedAt, pushSubscription',
      ConsistentRead: true,
    });
    const devices: Device[] = [];
    const connections: Connection[] = [];
    const pushSubscriptions = new Map<string, PushSubscription>();
    for (const item of items) {
      const sk = String(item.sk);
      if (sk.startsWith(userKeys.connectionPrefix)) connections.push(toConnection(userId, item));
      else if (sk.startsWith(userKeys.devicePrefix)) {
        const deviceId = String(item.deviceId);
        devices.push({ userId, deviceId });
        const subscription = pushSubscriptionOf(item.pushSubscription);
        if (subscription) pushSubscriptions.set(deviceId, subscription);
      }
    }
    return { devices, connections, ...(pushSubscriptions.size > 0 ? { pushSubscriptions } : {}) };
  }

  /**
   * For a `$disconnect` that arrives without the authorizer's context: the sparse index (connection
   * rows only) projects the table keys, and the partition key names the owner.
   */
  async findOwner(connectionId: string): Promise<string | undefined> {
    const result = await this.documentClient.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_CONNECTION_ID,
        KeyConditionExpression: 'connectionId = :connectionId',
        ExpressionAttributeValues: { ':connectionId': connectionId },
        Limit: 1,
      }),
    );
    const pk = result.Items?.[0]?.pk;
    return typeof pk === 'string' ? userKeys.userIdOf(pk) : undefined;
  }
}

function toConnection(userId: string, item: Record<string, unknown>): Connection {
  return {
    userId,
    deviceId: String(item.deviceId),
    connectionId: String(item.connectionId),
    ...(typeof item.connectedAt === 'string' ? { connectedAt: item.connectedAt } : {}),
  };
}

/** Whether a reach item names an unexpired connection for any device: its user is online. */
function hasLiveDevice(item: Record<string, unknown>, nowEpochSeconds: number): boolean {
  return Object.entries(item).some(([attribute, value]) => {
    if (!attribute.startsWith(REACH_DEVICE_PREFIX) || typeof value !== 'object' || value === null) return false;
    const entry = value as { connectionId?: unknown; expiresAt?: unknown };
    return typeof entry.connectionId === 'string' && Number(entry.expiresAt) > nowEpochSeconds;
  });
}

/** A stored subscription map, or undefined for anything else. */
export function pushSubscriptionOf(value: unknown): PushSubscription | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { endpoint, p256dh, auth } = value as Record<string, unknown>;
  if (typeof endpoint !== 'string' || typeof p256dh !== 'string' || typeof auth !== 'string') return undefined;
  return { endpoint, p256dh, auth };
}

function toReach(userId: string, item: Record<string, unknown>, nowEpochSeconds: number): Reach {
  const devices: Device[] = [];
  const connections: Connection[] = [];
  const pushSubscriptions = new Map<string, PushSubscription>();
  for (const [attribute, value] of Object.entries(item)) {
    if (attribute.startsWith(REACH_PUSH_PREFIX)) {
      const subscription = pushSubscriptionOf(value);
      if (subscription) pushSubscriptions.set(attribute.slice(REACH_PUSH_PREFIX.length), subscription);
      continue;
    }
    if (!attribute.startsWith(REACH_DEVICE_PREFIX) || typeof value !== 'object' || value === null) continue;
    const deviceId = attribute.slice(REACH_DEVICE_PREFIX.length);
    devices.push({ userId, deviceId });
    const entry = value as { connectionId?: unknown; connectedAt?: unknown; expiresAt?: unknown };
    // Past its TTL the connection row is gone (a missed $disconnect): the device is offline.
    if (typeof entry.connectionId !== 'string' || Number(entry.expiresAt) <= nowEpochSeconds) continue;
    connections.push({
      userId,
      deviceId,
      connectionId: entry.connectionId,
      ...(typeof entry.connectedAt === 'string' ? { connectedAt: entry.connectedAt } : {}),
    });
  }
  return { devices, connections, ...(pushSubscriptions.size > 0 ? { pushSubscriptions } : {}) };
}
