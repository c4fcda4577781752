import { DeleteCommand, type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { batchWriteAll } from './batch-write';

/** The item that lists whom one connection watches, in its own partition (a user id never holds `#`). */
const watchListKey = (connectionId: string) => ({
  watchedUserId: `CONNECTION#${connectionId}`,
  watcherConnectionId: 'WATCHING',
});

const watcherKey = (watchedUserId: string, connectionId: string) => ({
  watchedUserId,
  watcherConnectionId: connectionId,
});

/** A connection watching a user's presence: where to post, and whose connection it is. */
export interface PresenceWatcher {
  readonly connectionId: string;
  readonly userId: string;
}

/**
 * Presence subscriptions (shared/config/tables.ts `presenceWatchers`): one item per (watched user,
 * watching connection), so a user's change of presence is one Query of their partition, and one item
 * per watching connection listing whom it watches, so a new subscription replaces the last.
 */
export class PresenceWatcherRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Makes `watchedUserIds` the whole list `watcher` watches: one UpdateItem of its list (which answers
   * the list before), then one BatchWriteItem per 25 that puts the new watcher items and deletes the dropped.
   */
  async replace(
    watcher: PresenceWatcher,
    watchedUserIds: readonly string[],
    expiresAtEpochSeconds: number,
  ): Promise<void> {
    const before = await this.documentClient.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: watchListKey(watcher.connectionId),
        UpdateExpression: 'SET userIds = :userIds, expiresAt = :expiresAt',
        ExpressionAttributeValues: { ':userIds': [...watchedUserIds], ':expiresAt': expiresAtEpochSeconds },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    const previous: unknown = before.Attributes?.userIds;
    const kept = new Set(watchedUserIds);
    const dropped = Array.isArray(previous)
      ? previous.filter((userId): userId is string => typeof userId === 'string' && !kept.has(userId))
      : [];
    await batchWriteAll(this.documentClient, this.tableName, [
      ...dropped.map((userId) => ({ DeleteRequest: { Key: watcherKey(userId, watcher.connectionId) } })),
      ...watchedUserIds.map((userId) => ({
        PutRequest: {
          Item: {
            ...watcherKey(userId, watcher.connectionId),
            watcherUserId: watcher.userId,
            expiresAt: expiresAtEpochSeconds,
          },
        },
      })),
    ]);
  }

  /** Everyone watching `userId` (eventually consistent: a subscription a moment old may miss one change). */
  async watchersOf(userId: string, nowEpochSeconds: number): Promise<PresenceWatcher[]> {
    const watchers: PresenceWatcher[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.documentClient.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'watchedUserId = :userId',
          ExpressionAttributeValues: { ':userId': userId },
          ...(exclusiveStartKey === undefined ? {} : { ExclusiveStartKey: exclusiveStartKey }),
        }),
      );
      for (const item of page.Items ?? []) {
        // TTL deletes within days, not at once: an expired item's connection is past API Gateway's cap.
        if (Number(item.expiresAt) <= nowEpochSeconds) continue;
        watchers.push({ connectionId: String(item.watcherConnectionId), userId: String(item.watcherUserId) });
      }
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey !== undefined);
    return watchers;
  }

  /** A watcher whose connection answered 410: it watches nobody any more. */
  async removeWatcher(watchedUserId: string, connectionId: string): Promise<void> {
    await this.documentClient.send(
      new DeleteCommand({ TableName: this.tableName, Key: watcherKey(watchedUserId, connectionId) }),
    );
  }
}
