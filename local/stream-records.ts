import type { AttributeValue as SdkAttributeValue, _Record as SdkStreamRecord } from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue, DynamoDBRecord, StreamRecord } from 'aws-lambda';
import type { StreamFilterPattern, StreamFilterValue } from '#shared/config/functions';
import { localRegion } from './aws-local';

/** How DynamoDB Local names a TTL delete: the Java SDK's placeholder for an enum value it lacks. */
const dynamoDbLocalTtlEventName = 'UNKNOWN_TO_SDK_VERSION';

/** Turns a GetRecords record (SDK shape: Dates, byte arrays) into the JSON Lambda receives. */
export function toLambdaRecord(record: SdkStreamRecord, streamArn: string): DynamoDBRecord {
  // The SDK passes unknown enum values through as they came, whatever its types say.
  const isTtlDelete = (record.eventName as string | undefined) === dynamoDbLocalTtlEventName;
  const eventName = isTtlDelete ? 'REMOVE' : record.eventName;
  const change = record.dynamodb;
  const dynamodb: StreamRecord = {
    ...(change?.ApproximateCreationDateTime === undefined
      ? {}
      : { ApproximateCreationDateTime: Math.floor(change.ApproximateCreationDateTime.getTime() / 1000) }),
    ...(change?.Keys === undefined ? {} : { Keys: toLambdaImage(change.Keys) }),
    ...(change?.NewImage === undefined ? {} : { NewImage: toLambdaImage(change.NewImage) }),
    ...(change?.OldImage === undefined ? {} : { OldImage: toLambdaImage(change.OldImage) }),
    ...(change?.SequenceNumber === undefined ? {} : { SequenceNumber: change.SequenceNumber }),
    ...(change?.SizeBytes === undefined ? {} : { SizeBytes: change.SizeBytes }),
    ...(change?.StreamViewType === undefined ? {} : { StreamViewType: change.StreamViewType }),
  };
  return {
    ...(record.eventID === undefined ? {} : { eventID: record.eventID }),
    ...(eventName === 'INSERT' || eventName === 'MODIFY' || eventName === 'REMOVE' ? { eventName } : {}),
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    // DynamoDB Local says "ddblocal"; handlers should see the region the stack pretends to be in.
    awsRegion: localRegion,
    eventSourceARN: streamArn,
    dynamodb,
    // On AWS a TTL delete carries this identity; handlers tell expiry from a user delete by it.
    ...(isTtlDelete ? { userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' } } : {}),
  };
}

function toLambdaImage(image: Record<string, SdkAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaAttribute(value)]));
}

/** Lambda's JSON carries binary as base64 strings. */
function toLambdaAttribute(value: SdkAttributeValue): AttributeValue {
  if (value.S !== undefined) return { S: value.S };
  if (value.N !== undefined) return { N: value.N };
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BOOL !== undefined) return { BOOL: value.BOOL };
  if (value.NULL !== undefined) return { NULL: value.NULL };
  if (value.SS !== undefined) return { SS: value.SS };
  if (value.NS !== undefined) return { NS: value.NS };
  if (value.BS !== undefined) return { BS: value.BS.map((item) => Buffer.from(item).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaAttribute) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  throw new Error(`Unsupported stream attribute value ${JSON.stringify(value)}`);
}

/** Lambda filter criteria: a record is delivered if any pattern matches (no patterns: all are). */
export function passesFilters(record: DynamoDBRecord, patterns: readonly StreamFilterPattern[]): boolean {
  return patterns.length === 0 || patterns.some((pattern) => matchesPattern(record, pattern));
}

/**
 * Every field of the pattern must match: a leaf lists allowed exact values or `{ exists }`, an
 * object nests. A missing field matches only `{ exists: false }`.
 */
export function matchesPattern(value: unknown, pattern: StreamFilterPattern): boolean {
  if (value !== undefined && (typeof value !== 'object' || value === null)) return false;
  const fields = (value ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([field, expected]) => {
    // Own fields only: a pattern naming `constructor` must not match the prototype's.
    const actual: unknown = Object.hasOwn(fields, field) ? fields[field] : undefined;
    if (!isLeaf(expected)) return matchesPattern(actual, expected);
    // An array in the record matches when any of its elements does (EventBridge pattern semantics).
    const candidates: readonly unknown[] = Array.isArray(actual) ? actual : [actual];
    return expected.some((allowed) =>
      typeof allowed === 'string'
        ? candidates.some((candidate) => candidate === allowed)
        : allowed.exists === (actual !== undefined),
    );
  });
}

function isLeaf(
  expected: readonly StreamFilterValue[] | StreamFilterPattern,
): expected is readonly StreamFilterValue[] {
  return Array.isArray(expected);
}
