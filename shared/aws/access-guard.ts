/**
 * IAM's view of a DynamoDB call: which actions it needs, on which tables. A client middleware hands
 * that to one process-wide guard before the request is sent. On Lambda the guard does nothing (IAM
 * itself decides); the local stack installs one that refuses what the function's grants in
 * shared/config/functions.ts do not allow, as IAM would on AWS, where DynamoDB Local checks nothing.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { processSlot } from './process-slot';

/** One IAM action on one table, as a policy would have to allow it. */
export interface DynamoDbAccess {
  /** Without the `dynamodb:` prefix: `PutItem`, `ConditionCheckItem`, ... */
  readonly action: string;
  readonly tableName: string;
}

/** Throws to refuse the call; it is then never sent. */
export type DynamoDbAccessGuard = (accesses: readonly DynamoDbAccess[]) => void;

const guardSlot = processSlot<DynamoDbAccessGuard>('parley.dynamodb.accessGuard');

/** Installs the process-wide guard (`undefined` removes it); returns the previous one. */
export function setDynamoDbAccessGuard(guard: DynamoDbAccessGuard | undefined): DynamoDbAccessGuard | undefined {
  return guardSlot.set(guard);
}

/** Each transaction item needs the action of its kind on its table (DynamoDB's IAM reference). */
const transactItemActions: Readonly<Record<string, string>> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};

/** The actions a call needs: per table for batches, per item for transactions, else the operation itself. */
export function requiredAccess(operation: string, input: Readonly<Record<string, unknown>>): DynamoDbAccess[] {
  if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
    const items = Array.isArray(input.TransactItems) ? (input.TransactItems as Record<string, unknown>[]) : [];
    return items.flatMap((item) =>
      Object.entries(item).flatMap(([kind, request]) => {
        const tableName = (request as { TableName?: unknown } | undefined)?.TableName;
        const action = transactItemActions[kind];
        return action !== undefined && typeof tableName === 'string' ? [{ action, tableName }] : [];
      }),
    );
  }
  if (typeof input.RequestItems === 'object' && input.RequestItems !== null) {
    return Object.keys(input.RequestItems).map((tableName) => ({ action: operation, tableName }));
  }
  return typeof input.TableName === 'string' ? [{ action: operation, tableName: input.TableName }] : [];
}

/** The API name of the call a middleware sees: `GetItem`, `Query`, `TransactWriteItems`, ... */
export function dynamoDbOperation(context: { readonly commandName?: string }): string {
  return (context.commandName ?? 'Unknown').replace(/Command$/, '');
}

/** Adds the guard's check to `client`'s middleware stack (shared by every document client built on it). */
export function addDynamoDbAccessGuard(client: DynamoDBClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const guard = guardSlot.get();
      if (guard !== undefined) {
        guard(requiredAccess(dynamoDbOperation(context), args.input as Readonly<Record<string, unknown>>));
      }
      return next(args);
    },
    // Initialize: once per call, before anything is sent or retried.
    { step: 'initialize', name: 'parleyAccessGuard', override: true },
  );
}
