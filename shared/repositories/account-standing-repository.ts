import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { userKeys } from '../keys';
import type { GroupAdds } from '../protocol/users-http';
import { batchGetAll } from './batch-get';
import { queryAll } from './query-all';

/** What a connect must know of a user: a tombstone, and when each known device last connected. */
export interface ConnectRecord {
  readonly deleted: boolean;
  readonly devices: readonly { readonly deviceId: string; readonly lastConnectedAt?: string }[];
}

export interface ParticipantStanding {
  readonly deleted: boolean;
  readonly groupAdds: GroupAdds;
}

/**
 * The few users-table reads the security checks make, apart from UserRepository so the
 * authorizer bundles nothing else. Every read is strongly consistent: a deletion counts at once.
 */
export class AccountStandingRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * One Query of the user's own partition gives both the profile (tombstone or not) and the device rows.
   * It starts at the device prefix: the connection rows (`CONNECTION#…`) sort before it and are not read.
   */
  async connectRecord(userId: string): Promise<ConnectRecord> {
    const items = await queryAll(this.documentClient, {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk >= :from',
      ExpressionAttributeValues: { ':pk': userKeys.userPartition(userId), ':from': userKeys.devicePrefix },
      ProjectionExpression: 'sk, deleted, lastConnectedAt',
      ConsistentRead: true,
    });
    const profileSk = userKeys.profile(userId).sk;
    return {
      deleted: items.some((item) => item.sk === profileSk && item.deleted === true),
      devices: items
        .filter((item) => String(item.sk).startsWith(userKeys.devicePrefix))
        .map((item) => ({
          deviceId: String(item.sk).slice(userKeys.devicePrefix.length),
          ...(typeof item.lastConnectedAt === 'string' ? { lastConnectedAt: item.lastConnectedAt } : {}),
        })),
    };
  }

  async isDeleted(userId: string): Promise<boolean> {
    const result = await this.documentClient.send(
      new GetCommand({
        TableName: this.tableName,
        Key: userKeys.profile(userId),
        ProjectionExpression: 'deleted',
        ConsistentRead: true,
      }),
    );
    return result.Item?.deleted === true;
  }

  /**
   * What a membership change must know of the users it names, in one BatchGetItem per 100: who is a
   * deleted account, and who lets whom add them to a group. Users with no profile are left out.
   */
  async participantsAmong(userIds: readonly string[]): Promise<Map<string, ParticipantStanding>> {
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      userIds.map((id) => userKeys.profile(id)),
      true,
    );
    return new Map(
      items.map((item) => [String(item.id), { deleted: item.deleted === true, groupAdds: groupAddsOf(item) }]),
    );
  }
}

/** The setting a profile item holds; profiles written before it existed let everyone add them, the default. */
export function groupAddsOf(item: Record<string, unknown>): GroupAdds {
  return item.groupAdds === 'directChats' || item.groupAdds === 'nobody' ? item.groupAdds : 'everyone';
}
