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
      // A transaction holds its items for tens of milliseconds: 10-20, 20-40, 40-80 ms ...
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** attempt * (1 + Math.random())));
    }
  }
}
