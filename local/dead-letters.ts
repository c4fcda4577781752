import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DynamoDBRecord, S3EventRecord } from 'aws-lambda';
import type { LocalLogger } from './log';

/** Lambda's on-failure destination conditions. */
export type DeadLetterCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/** A stream record the trigger gave up on (on AWS its metadata would go to the SQS on-failure queue). */
export interface StreamDeadLetter {
  readonly source: 'stream';
  readonly function: string;
  readonly streamArn: string;
  readonly shardId: string;
  readonly condition: DeadLetterCondition;
  readonly attempts: number;
  readonly lastError?: string;
  readonly record: DynamoDBRecord;
  readonly at: string;
}

/** An asynchronous invocation (an S3 notification) that failed its retries (Lambda's async on-failure destination). */
export interface AsyncDeadLetter {
  readonly source: 's3';
  readonly function: string;
  readonly condition: 'RetriesExhausted';
  readonly attempts: number;
  readonly lastError?: string;
  readonly record: S3EventRecord;
  readonly at: string;
}

export type DeadLetter = StreamDeadLetter | AsyncDeadLetter;

export interface DeadLetterQueue {
  readonly entries: readonly DeadLetter[];
  add(letter: DeadLetter): void;
}

export interface DeadLetterQueueOptions {
  readonly logger: LocalLogger;
  /** Also append each letter here as a JSON line (when the stack persists its data). */
  readonly filePath?: string;
}

export function createDeadLetterQueue(options: DeadLetterQueueOptions): DeadLetterQueue {
  const entries: DeadLetter[] = [];
  if (options.filePath !== undefined) mkdirSync(dirname(options.filePath), { recursive: true });
  return {
    entries,
    add(letter) {
      entries.push(letter);
      options.logger.warn('record sent to the dead-letter list', {
        function: letter.function,
        source: letter.source,
        condition: letter.condition,
        record: letter.source === 'stream' ? letter.record.dynamodb?.SequenceNumber : letter.record.s3.object.key,
        attempts: letter.attempts,
        lastError: letter.lastError,
      });
      if (options.filePath !== undefined) appendFileSync(options.filePath, `${JSON.stringify(letter)}\n`);
    },
  };
}
