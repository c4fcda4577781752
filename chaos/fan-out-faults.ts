/**
 * Fan-out failures for the chaos run: a `handlerOverrides` entry that wraps the real stream handler.
 * A batch holding a flaky message throws at random (Lambda bisects and retries it); a batch holding
 * the poison message has everything before it delivered by the real handler and reports the poison
 * as failed, every time, until its retries run out and it is dead-lettered.
 */
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { LambdaHandler } from '../local/lambda-runtime';

export const flakyMarker = '[flaky]';
export const poisonMarker = '[poison]';

export interface FanOutFaults {
  /** Chance a batch with a flaky message throws; the harness sets 0 before it checks. */
  flakyFailure: number;
  /** Set: the next batch holding a flaky message throws whatever the dice say (then it is unset). */
  failNextFlaky: boolean;
  readonly counts: { flakyFailures: number; poisonFailures: number };
  /** The streamFanOut override. */
  readonly handler: LambdaHandler;
}

type RealHandler = (
  event: DynamoDBStreamEvent,
  context: Parameters<LambdaHandler>[1],
) => Promise<DynamoDBBatchResponse>;

export function createFanOutFaults(random: () => number, flakyFailure: number): FanOutFaults {
  // Imported on first use: the module reads its tables from the environment the stack sets at start.
  let real: Promise<RealHandler> | undefined;
  const realHandler = (): Promise<RealHandler> => {
    real ??= import('../lambdas/stream-fan-out').then((module) => module.handler);
    return real;
  };

  const faults: FanOutFaults = {
    flakyFailure,
    failNextFlaky: false,
    counts: { flakyFailures: 0, poisonFailures: 0 },
    async handler(event, context) {
      if (!isStreamEvent(event)) throw new TypeError('streamFanOut expects a DynamoDB stream event');
      const records = event.Records;
      const flaky = faults.flakyFailure > 0 && records.some((record) => textOf(record).includes(flakyMarker));
      if (flaky && (faults.failNextFlaky || random() < faults.flakyFailure)) {
        faults.failNextFlaky = false;
        faults.counts.flakyFailures += 1;
        throw new Error('Injected fan-out failure (flaky record)');
      }
      const deliver = await realHandler();
      const poisonIndex = records.findIndex((record) => textOf(record).includes(poisonMarker));
      if (poisonIndex < 0) return deliver(event, context);
      faults.counts.poisonFailures += 1;
      if (poisonIndex > 0) {
        // What precedes the poison goes through as it would before a real crash on it.
        const head = await deliver({ Records: records.slice(0, poisonIndex) }, context);
        if (head.batchItemFailures.length > 0) return head;
      }
      const poisonSequenceNumber = records[poisonIndex]?.dynamodb?.SequenceNumber ?? '';
      return { batchItemFailures: [{ itemIdentifier: poisonSequenceNumber }] };
    },
  };
  return faults;
}

function isStreamEvent(event: unknown): event is DynamoDBStreamEvent {
  return typeof event === 'object' && event !== null && Array.isArray(Reflect.get(event, 'Records'));
}

/** The message text in a Messages stream record's new image ('' for anything else). */
export function textOf(record: DynamoDBRecord): string {
  return record.dynamodb?.NewImage?.text?.S ?? '';
}
