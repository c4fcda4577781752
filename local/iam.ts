/**
 * The local stack's stand-in for IAM on DynamoDB: a handler may use only the table actions its
 * catalog entry grants (shared/config/functions.ts, from which the CDK stack writes the policies).
 * DynamoDB Local checks nothing, so without this a missing grant would first show on AWS.
 */
import type { DynamoDbAccess, DynamoDbAccessGuard } from '#shared/aws/access-guard';
import { type FunctionName, type FunctionSpec, functions } from '#shared/config/functions';
import type { TableKey } from '#shared/config/tables';
import { localAccountId, localRegion } from './aws-local';
import type { LocalLogger } from './log';

/** What AWS answers when no policy allows the action (an AccessDeniedException, HTTP 400). */
export class AccessDeniedError extends Error {
  override readonly name = 'AccessDeniedException';
  readonly $fault = 'client';
}

/**
 * Refuses, as IAM would, any access `functionName`'s grants do not name (tables outside the stack
 * included), and logs it: on AWS the call would fail the same way, whatever the handler makes of it.
 */
export function dynamoDbGuardFor(
  functionName: FunctionName,
  nameOfTable: (key: TableKey) => string,
  logger: LocalLogger,
): DynamoDbAccessGuard {
  const spec: FunctionSpec = functions[functionName];
  const allowed = new Set(
    spec.tables.flatMap((grant) => grant.actions.map((action) => `${nameOfTable(grant.table)} ${action}`)),
  );
  return (accesses: readonly DynamoDbAccess[]) => {
    const refused = accesses.find(({ action, tableName }) => !allowed.has(`${tableName} ${action}`));
    if (refused === undefined) return;
    const error = new AccessDeniedError(
      `User: arn:aws:sts::${localAccountId}:assumed-role/parley-local-${functionName}/parley-local-${functionName} ` +
        `is not authorized to perform: dynamodb:${refused.action} on resource: ` +
        `arn:aws:dynamodb:${localRegion}:${localAccountId}:table/${refused.tableName} because no identity-based ` +
        `policy allows the dynamodb:${refused.action} action (grant it to ${functionName} in shared/config/functions.ts)`,
    );
    logger.error('IAM would refuse this DynamoDB call', { function: functionName, error });
    throw error;
  };
}
