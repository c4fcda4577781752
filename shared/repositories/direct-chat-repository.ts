import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conversationKeys } from '../keys';
import { batchGetAll } from './batch-get';
import { metaLastSend } from './conversation-repository';

/**
 * Direct chats between two users as a consent signal: whether a user took part in one with someone
 * (started it, or wrote in it). Only being written to does not count: anyone may start a direct chat
 * with anyone, so that alone would let anyone through a `directChats` setting.
 */
export class DirectChatRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Those of `userIds` who started or wrote in a direct chat with `otherId` they still belong to:
   * one BatchGetItem of the pair claims, one of the found conversations' meta and member rows.
   */
  async takingPartWith(otherId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const claims = await batchGetAll(
      this.documentClient,
      this.tableName,
      userIds.map((userId) => conversationKeys.directPair(otherId, userId)),
      true,
    );
    const chats = claims.flatMap((claim) => {
      const conversationId = String(claim.conversationId);
      const userId = userIds.find((id) => claim.pk === conversationKeys.directPair(otherId, id).pk);
      return userId === undefined ? [] : [{ userId, conversationId }];
    });
    if (chats.length === 0) return new Set();
    const rows = await batchGetAll(
      this.documentClient,
      this.tableName,
      chats.flatMap(({ userId, conversationId }) => [
        conversationKeys.meta(conversationId),
        conversationKeys.member(conversationId, userId),
      ]),
      true,
    );
    const row = (key: { pk: string; sk: string }) => rows.find((item) => item.pk === key.pk && item.sk === key.sk);
    return new Set(
      chats
        .filter(({ userId, conversationId }) => {
          const member = row(conversationKeys.member(conversationId, userId));
          if (member === undefined || member.leftSeq !== undefined) return false;
          const meta = row(conversationKeys.meta(conversationId));
          return (
            meta?.createdBy === userId ||
            member.lastSentSeq !== undefined ||
            metaLastSend.of(meta, userId) !== undefined
          );
        })
        .map(({ userId }) => userId),
    );
  }
}
