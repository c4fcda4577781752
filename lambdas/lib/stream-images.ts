/**
 * Stream records carry their images as DynamoDB JSON: decoded into domain types here, once for
 * every stream handler, so handlers never see item shapes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, AttributeValue as StreamAttributeValue } from 'aws-lambda';
import type { Attachment, StoredMessage } from '#shared/model';
import { toAttachment } from '#shared/repositories/attachment-repository';
import { toStoredMessage } from '#shared/repositories/message-repository';
import { type RecordedAcknowledgement, toRecordedAcknowledgement } from '#shared/repositories/receipt-repository';

function newImage(record: DynamoDBRecord): Record<string, unknown> | undefined {
  const image = record.dynamodb?.NewImage;
  // aws-lambda's stream AttributeValue and the SDK's are the same JSON shape, typed apart.
  return image
    ? unmarshall(image as Record<string, StreamAttributeValue> as Record<string, AttributeValue>)
    : undefined;
}

/** The message a Messages-table record inserted; undefined for a record without a new image. */
export function messageOf(record: DynamoDBRecord): StoredMessage | undefined {
  const item = newImage(record);
  return item ? toStoredMessage(item) : undefined;
}

/** The attachment as an Attachments-table record left it; undefined without a new image. */
export function attachmentOf(record: DynamoDBRecord): Attachment | undefined {
  const item = newImage(record);
  return item ? toAttachment(item) : undefined;
}

/** The acknowledgement a Receipts-table record first wrote; undefined for anything else. */
export function acknowledgementOf(record: DynamoDBRecord): RecordedAcknowledgement | undefined {
  const item = newImage(record);
  return item ? toRecordedAcknowledgement(item) : undefined;
}

/** The record's position in its shard: what `batchItemFailures` names to retry from. */
export const sequenceNumberOf = (record: DynamoDBRecord | undefined) => record?.dynamodb?.SequenceNumber;
