/**
 * DynamoDB refuses a single-item write (PutItem, UpdateItem, DeleteItem) to an item an in-flight
 * transaction holds with TransactionConflictException, and the SDK does not retry it. The write
 * was not applied, so it is safe to make again once that transaction has finished.
 */
import { TransactionConflictException } from '@aws-sdk/client-dynamodb';

const attemptsBeforeGivingUp = 6;

/** Runs `write`, again after a short jittered pause each time it meets an in-flight transaction. */
export async function retryingTransactionConflicts<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!(error instanceof TransactionConflictException) || attempt >= attemptsBeforeGivingUp) throw error;
      await pauseAfterConflict(attempt);
    }
  }
}

/**
 * The pause before attempt `attempt + 1` of a write that met an in-flight transaction: a transaction
 * holds its items for tens of milliseconds, so 10-20, 20-40, 40-80 ms ... (asking again at once
 * meets the same transaction).
 */
export function pauseAfterConflict(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * (1 + Math.random())));
}
