import { Duration, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterCriteria, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type StreamTriggerSpec, streamTriggers } from '#shared/config/functions';
import type { TableKey } from '#shared/config/tables';
import type { Handlers } from './lambda-function';

/** One connected stream trigger: what monitoring watches (iterator age, dead letters). */
export interface ConnectedStreamTrigger {
  readonly trigger: StreamTriggerSpec;
  readonly handler: IFunction;
  /** The on-failure destination: records that exhausted their retries. */
  readonly failedRecords: Queue;
}

export interface FanOutProps {
  readonly handlers: Handlers;
  readonly tables: Readonly<Record<TableKey, ITable>>;
}

/**
 * Connects each `streamTriggers` entry: the table's stream feeds its handler with bounded
 * retries, bisection and partial-batch responses; records that still fail land in an SQS queue.
 */
export class FanOut extends Construct {
  readonly triggers: readonly ConnectedStreamTrigger[];

  constructor(scope: Construct, id: string, props: FanOutProps) {
    super(scope, id);
    const connected: ConnectedStreamTrigger[] = [];
    for (const trigger of streamTriggers) {
      const failedRecords = new Queue(this, `FailedRecords-${trigger.table}-${trigger.function}`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      Validations.of(failedRecords).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is itself the dead-letter destination of a stream trigger; it holds failed-record pointers for an operator to inspect and replay.',
      });

      const handler = props.handlers[trigger.function];
      handler.addEventSource(
        new DynamoEventSource(props.tables[trigger.table], {
          startingPosition: StartingPosition[trigger.startingPosition],
          batchSize: trigger.batchSize,
          maxBatchingWindow: Duration.seconds(trigger.maxBatchingWindowSeconds),
          retryAttempts: trigger.retryAttempts,
          maxRecordAge: Duration.seconds(trigger.maxRecordAgeSeconds),
          bisectBatchOnError: trigger.bisectBatchOnError,
          reportBatchItemFailures: trigger.reportBatchItemFailures,
          parallelizationFactor: trigger.parallelizationFactor,
          onFailure: new SqsDlq(failedRecords),
          filters: trigger.filters.map((pattern) => FilterCriteria.filter(pattern)),
        }),
      );
      if (handler.role) {
        Validations.of(handler.role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            'dynamodb:ListStreams, part of the stream read grant, supports no resource-level permissions; every other stream action is scoped to the stream ARN.',
        });
      }
      connected.push({ trigger, handler, failedRecords });
    }
    this.triggers = connected;
  }
}
