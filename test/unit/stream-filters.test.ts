import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type FunctionName, type StreamFilterPattern, streamTriggers } from '#shared/config/functions';
import { matchesPattern, passesFilters } from '../../local/stream-records';

type Image = Record<string, AttributeValue>;

/** A record as Lambda delivers it (NEW_AND_OLD_IMAGES), with only what the filters look at. */
function streamRecord(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  images: { newImage?: Image; oldImage?: Image },
): DynamoDBRecord {
  return {
    eventID: '1',
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/parley-attachments/stream/2024-01-01T00:00:00.000',
    dynamodb: {
      Keys: { pk: { S: 'ATT#1' } },
      ...(images.newImage === undefined ? {} : { NewImage: images.newImage }),
      ...(images.oldImage === undefined ? {} : { OldImage: images.oldImage }),
      SequenceNumber: '100',
      SizeBytes: 64,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

function filtersOf(name: FunctionName): readonly StreamFilterPattern[] {
  const trigger = streamTriggers.find((candidate) => candidate.function === name);
  if (trigger === undefined) throw new Error(`No stream trigger for ${name}`);
  return trigger.filters;
}

const pending: Image = { pk: { S: 'ATT#1' }, status: { S: 'ready' } };
const sent: Image = { ...pending, sentSeq: { N: '42' } };

describe('passesFilters', () => {
  it('lets every record through when there are no filters', () => {
    expect(passesFilters(streamRecord('REMOVE', { oldImage: pending }), [])).toBe(true);
  });

  it('passes a record that any one of several patterns matches', () => {
    const patterns = [{ eventName: ['REMOVE'] }, { eventName: ['INSERT'] }];

    expect(passesFilters(streamRecord('INSERT', { newImage: pending }), patterns)).toBe(true);
    expect(passesFilters(streamRecord('MODIFY', { newImage: pending, oldImage: pending }), patterns)).toBe(false);
  });

  describe('the fan-out trigger (messages: INSERT only)', () => {
    const filters = filtersOf('streamFanOut');

    it('passes inserts', () => {
      expect(passesFilters(streamRecord('INSERT', { newImage: pending }), filters)).toBe(true);
    });

    it.each(['MODIFY', 'REMOVE'] as const)('drops %s', (eventName) => {
      expect(passesFilters(streamRecord(eventName, { newImage: pending, oldImage: pending }), filters)).toBe(false);
    });
  });

  describe('the media retention trigger (attachments: first marked sent)', () => {
    const filters = filtersOf('mediaRetain');

    it('passes the change that first sets sentSeq', () => {
      expect(passesFilters(streamRecord('MODIFY', { oldImage: pending, newImage: sent }), filters)).toBe(true);
    });

    it('drops later changes to an attachment already sent', () => {
      const resent: Image = { ...sent, retention: { S: 'kept' } };

      expect(passesFilters(streamRecord('MODIFY', { oldImage: sent, newImage: resent }), filters)).toBe(false);
    });

    it('drops processing updates that never set sentSeq', () => {
      const processing: Image = { ...pending, status: { S: 'processing' } };

      expect(passesFilters(streamRecord('MODIFY', { oldImage: processing, newImage: pending }), filters)).toBe(false);
    });

    it('drops an insert that already carries sentSeq', () => {
      expect(passesFilters(streamRecord('INSERT', { newImage: sent }), filters)).toBe(false);
    });

    it('drops the removal of a sent attachment', () => {
      expect(passesFilters(streamRecord('REMOVE', { oldImage: sent }), filters)).toBe(false);
    });

    it('drops a change that clears sentSeq', () => {
      expect(passesFilters(streamRecord('MODIFY', { oldImage: sent, newImage: pending }), filters)).toBe(false);
    });

    it('does not take sentSeq stored as another attribute type for a number', () => {
      const stringSeq: Image = { ...pending, sentSeq: { S: '42' } };

      expect(passesFilters(streamRecord('MODIFY', { oldImage: pending, newImage: stringSeq }), filters)).toBe(false);
    });
  });
});

describe('matchesPattern', () => {
  it('matches exact string leaves, any of those listed', () => {
    expect(matchesPattern({ eventName: 'MODIFY' }, { eventName: ['INSERT', 'MODIFY'] })).toBe(true);
    expect(matchesPattern({ eventName: 'REMOVE' }, { eventName: ['INSERT', 'MODIFY'] })).toBe(false);
  });

  it('compares values exactly, not by prefix or case', () => {
    expect(matchesPattern({ eventName: 'insert' }, { eventName: ['INSERT'] })).toBe(false);
    expect(matchesPattern({ eventName: 'INSERTED' }, { eventName: ['INSERT'] })).toBe(false);
  });

  it('requires every field of the pattern', () => {
    const pattern = { eventName: ['MODIFY'], dynamodb: { StreamViewType: ['NEW_AND_OLD_IMAGES'] } };

    expect(matchesPattern({ eventName: 'MODIFY', dynamodb: { StreamViewType: 'NEW_AND_OLD_IMAGES' } }, pattern)).toBe(
      true,
    );
    expect(matchesPattern({ eventName: 'MODIFY', dynamodb: { StreamViewType: 'KEYS_ONLY' } }, pattern)).toBe(false);
    expect(matchesPattern({ eventName: 'MODIFY' }, pattern)).toBe(false);
  });

  it('matches a missing field only with exists: false', () => {
    expect(matchesPattern({}, { a: [{ exists: false }] })).toBe(true);
    expect(matchesPattern({}, { a: [{ exists: true }] })).toBe(false);
    expect(matchesPattern({}, { a: ['x'] })).toBe(false);
    expect(matchesPattern({ a: 'x' }, { a: [{ exists: false }] })).toBe(false);
    expect(matchesPattern({ a: 'x' }, { a: [{ exists: true }] })).toBe(true);
  });

  it('treats a field under a missing parent as missing', () => {
    const pattern = { dynamodb: { OldImage: { sentSeq: { N: [{ exists: false }] } } } };

    expect(matchesPattern({ dynamodb: {} }, pattern)).toBe(true);
    expect(matchesPattern({}, pattern)).toBe(true);
    expect(matchesPattern({ dynamodb: { OldImage: { sentSeq: { N: '1' } } } }, pattern)).toBe(false);
  });

  it('matches an array field when any element matches', () => {
    expect(matchesPattern({ tags: ['a', 'b'] }, { tags: ['b'] })).toBe(true);
    expect(matchesPattern({ tags: ['a', 'b'] }, { tags: ['c'] })).toBe(false);
  });

  it('does not match a nested pattern against a scalar', () => {
    expect(matchesPattern({ dynamodb: 'flat' }, { dynamodb: { NewImage: { a: ['x'] } } })).toBe(false);
  });
});
