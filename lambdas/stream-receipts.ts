import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { logger, observed } from './lib/observability';
import { acknowledgementOf, sequenceNumberOf } from './lib/stream-images';
import { createReceiptAnnouncer } from './lib/wiring';

const announcer = createReceiptAnnouncer();

/**
 * Receipts stream (INSERT only, by the trigger's filter): each new history item is an acknowledgement
 * that moved a member's delivered or read mark. The senders of the messages it covers hear of the
 * batch's acknowledgements in one `receipts` frame per device. A failed batch is retried whole (a
 * repeated receipt changes nothing on a device).
 */
export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
  .use(observed())
  .handler(async (event) => {
    const acknowledgements = event.Records.flatMap((record) => {
      const acknowledgement = acknowledgementOf(record);
      return acknowledgement ? [acknowledgement] : [];
    });
    try {
      await announcer.announce(acknowledgements);
      return { batchItemFailures: [] };
    } catch (error) {
      logger.error('announcing receipts failed', { error: error as Error, acknowledgements: acknowledgements.length });
      const first = sequenceNumberOf(event.Records[0]);
      return { batchItemFailures: first ? [{ itemIdentifier: first }] : [] };
    }
  });
