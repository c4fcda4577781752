import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';

/** One action of a TransactWriteItems call: repositories compose them, services never see them. */
export type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
