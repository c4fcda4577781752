import type { DynamoDBRecord } from 'aws-lambda';

/** What a stream function's answer means for its batch (Lambda's ReportBatchItemFailures). */
export type BatchOutcome =
  | { readonly kind: 'success' }
  | { readonly kind: 'partialFailure'; readonly firstFailedIndex: number }
  | { readonly kind: 'failure'; readonly error: string };

export function sequenceNumberOf(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}

/**
 * ReportBatchItemFailures: the lowest failed record is the checkpoint. A malformed response (not a list,
 * an identifier that is not in the batch) fails the whole batch, as on Lambda.
 */
export function interpretBatchResponse(response: unknown, batch: readonly DynamoDBRecord[]): BatchOutcome {
  if (typeof response !== 'object' || response === null || !('batchItemFailures' in response)) {
    return { kind: 'success' };
  }
  const reported: unknown = response.batchItemFailures;
  if (reported === null || reported === undefined) return { kind: 'success' };
  if (!Array.isArray(reported)) return { kind: 'failure', error: 'batchItemFailures is not a list' };
  const failures: readonly unknown[] = reported;
  if (failures.length === 0) return { kind: 'success' };
  const sequenceNumbers = batch.map(sequenceNumberOf);
  let firstFailedIndex = batch.length;
  for (const failure of failures) {
    const identifier =
      typeof failure === 'object' && failure !== null && 'itemIdentifier' in failure
        ? failure.itemIdentifier
        : undefined;
    const index = typeof identifier === 'string' ? sequenceNumbers.indexOf(identifier) : -1;
    if (index < 0) return { kind: 'failure', error: `Unknown itemIdentifier ${JSON.stringify(identifier)}` };
    firstFailedIndex = Math.min(firstFailedIndex, index);
  }
  return { kind: 'partialFailure', firstFailedIndex };
}
