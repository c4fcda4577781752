import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { AttachmentKind, AttachmentPart } from '../config/media';
import type { Attachment, AttachmentRejection, AttachmentStatus, ThumbnailInfo } from '../model';
import { batchGetAll } from './batch-get';
import type { TransactItem } from './transact-item';

/** What processing learnt from one part. */
export interface ProcessedPart {
  readonly part: AttachmentPart;
  /** Set by the original part: the confirmed type and the stored size and dimensions. */
  readonly contentType?: string;
  readonly size?: number;
  readonly width?: number;
  readonly height?: number;
  /** Set by the part the thumbnail was made from (an image's original, a video's poster). */
  readonly thumbnail?: ThumbnailInfo;
}

/**
 * Attachments, one item per upload keyed by its id. Unsent items carry a TTL; the send
 * transaction removes it, so an attachment that made it into a message is never reaped.
 */
export class AttachmentRepository {
  constructor(
    private readonly documentClient: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async create(attachment: Attachment, expiresAtEpochSeconds: number): Promise<void> {
    await this.documentClient.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...toItem(attachment), expiresAt: expiresAtEpochSeconds },
        ConditionExpression: 'attribute_not_exists(attachmentId)',
      }),
    );
  }

  async get(attachmentId: string): Promise<Attachment | undefined> {
    const result = await this.documentClient.send(
      // Strong: a client asks right after the upload or the send that changed it.
      new GetCommand({ TableName: this.tableName, Key: { attachmentId }, ConsistentRead: true }),
    );
    return result.Item ? toAttachment(result.Item) : undefined;
  }

  /** The listed attachments that exist, in one BatchGetItem (a message carries at most a few). */
  async getMany(attachmentIds: readonly string[]): Promise<Attachment[]> {
    const items = await batchGetAll(
      this.documentClient,
      this.tableName,
      attachmentIds.map((attachmentId) => ({ attachmentId })),
      true,
    );
    return items.map(toAttachment);
  }

  /**
   * Records a processed part while the attachment is pending and answers the item as it is now,
   * or undefined when it is no longer pending (a part processed twice, or after a rejection).
   */
  async recordPart(attachmentId: string, processed: ProcessedPart): Promise<Attachment | undefined> {
    const { part, ...found } = processed;
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':part': new Set([part]), ':pending': 'pending' };
    const assignments: string[] = [];
    for (const [field, value] of Object.entries(found)) {
      if (value === undefined) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = value;
      assignments.push(`#${field} = :${field}`);
    }
    try {
      const result = await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { attachmentId },
          UpdateExpression: `ADD processedParts :part${assignments.length > 0 ? ` SET ${assignments.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(attachmentId) AND #status = :pending',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes ? toAttachment(result.Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  /** pending -> ready or rejected; false when it had already left pending. */
  async settle(
    attachmentId: string,
    status: Exclude<AttachmentStatus, 'pending'>,
    rejection?: AttachmentRejection,
  ): Promise<boolean> {
    try {
      await this.documentClient.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { attachmentId },
          UpdateExpression: rejection ? 'SET #status = :status, rejection = :rejection' : 'SET #status = :status',
          ConditionExpression: 'attribute_exists(attachmentId) AND #status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':status': status,
            ':pending': 'pending',
            ...(rejection ? { ':rejection': rejection } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/**
 * The send transaction's write for one attachment: still ready, of this conversation and this
 * sender; records the first seq that carried it and removes the expiry.
 */
export function attachmentSendWrite(
  tableName: string,
  attachmentId: string,
  conversationId: string,
  senderId: string,
  seq: number,
): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: { attachmentId },
      UpdateExpression: 'SET sentSeq = if_not_exists(sentSeq, :seq) REMOVE expiresAt',
      ConditionExpression:
        'conversationId = :conversationId AND uploaderId = :senderId AND #status = :ready AND attribute_not_exists(withdrawnSeq)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':seq': seq,
        ':conversationId': conversationId,
        ':senderId': senderId,
        ':ready': 'ready',
      },
    },
  };
}

/** The delete transaction's write for one attachment of the deleted message: from now on it is not served. */
export function attachmentWithdrawWrite(tableName: string, attachmentId: string, seq: number): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: { attachmentId },
      UpdateExpression: 'SET withdrawnSeq = if_not_exists(withdrawnSeq, :seq)',
      ConditionExpression: 'attribute_exists(attachmentId)',
      ExpressionAttributeValues: { ':seq': seq },
    },
  };
}

function toItem(attachment: Attachment): Record<string, unknown> {
  const { id, processedParts, ...rest } = attachment;
  return {
    attachmentId: id,
    ...rest,
    // DynamoDB has no empty sets: an attachment with nothing processed has no attribute.
    ...(processedParts.length > 0 ? { processedParts: new Set(processedParts) } : {}),
  };
}

export function toAttachment(item: Record<string, unknown>): Attachment {
  const processed = item.processedParts;
  const optionalNumber = (name: string) => (item[name] === undefined ? {} : { [name]: Number(item[name]) });
  return {
    id: String(item.attachmentId),
    conversationId: String(item.conversationId),
    uploaderId: String(item.uploaderId),
    kind: item.kind as AttachmentKind,
    fileName: String(item.fileName),
    declaredContentType: String(item.declaredContentType),
    declaredSize: Number(item.declaredSize),
    ...(item.poster ? { poster: item.poster as Attachment['poster'] } : {}),
    parts: (item.parts as AttachmentPart[] | undefined) ?? ['original'],
    processedParts: processed instanceof Set ? ([...processed] as AttachmentPart[]) : [],
    status: item.status as AttachmentStatus,
    createdAt: String(item.createdAt),
    ...(item.contentType === undefined ? {} : { contentType: String(item.contentType) }),
    ...optionalNumber('size'),
    ...optionalNumber('width'),
    ...optionalNumber('height'),
    ...(item.thumbnail ? { thumbnail: toThumbnail(item.thumbnail as Record<string, unknown>) } : {}),
    ...(item.rejection === undefined ? {} : { rejection: item.rejection as AttachmentRejection }),
    ...optionalNumber('sentSeq'),
    ...optionalNumber('withdrawnSeq'),
  } as Attachment;
}

function toThumbnail(item: Record<string, unknown>): ThumbnailInfo {
  return { width: Number(item.width), height: Number(item.height), contentType: String(item.contentType) };
}
