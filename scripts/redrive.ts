/**
 * `npm run redrive`: re-processes stream records a trigger gave up on, once the handler is fixed
 * (docs/operations.md, "Dead letters and redrive").
 *
 * Local:  npm run redrive -- --local --data-dir <dir> [--function streamFanOut] [--sequence-number <n>] [--dry-run]
 *   Reads <dir>/dead-letters.jsonl (what a stack started with that data dir wrote), skips letters already in
 *   <dir>/dead-letters.redriven.jsonl, and invokes the handler of this checkout with each stored record, against
 *   the running stack described by <dir>/stack.json. A redriven letter is appended to dead-letters.redriven.jsonl.
 *
 * AWS:    npm run redrive -- --queue-url <url> [--trigger streamFanOut] [--function <name|arn>] [--max <n>] [--dry-run]
 *   Reads the trigger's SQS on-failure queue. Each message names a shard and a sequence number range: the
 *   records are read again with GetShardIterator(AT_SEQUENCE_NUMBER) + GetRecords (within the stream's 24 h),
 *   filtered like the trigger, and the function is invoked with them; the SQS message is deleted on success.
 *
 * Prints one JSON line (what was redriven, skipped or failed); exits 1 when anything failed.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message as QueueMessage,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { type FunctionName, functions, type StreamTriggerSpec, streamTriggers } from '#shared/config/functions';
import { tables } from '#shared/config/tables';
import { interpretBatchResponse } from '../local/batch-response';
import type { DeadLetter } from '../local/dead-letters';
import { applyHandlerEnvironment } from '../local/environment';
import { createLambdaRuntime } from '../local/lambda-runtime';
import { createLocalLogger } from '../local/log';
import { type LocalStackDescription, stackDescriptionFile } from '../local/stack';
import { passesFilters, toLambdaRecord } from '../local/stream-records';

export const deadLettersFile = 'dead-letters.jsonl';
export const redrivenFile = 'dead-letters.redriven.jsonl';

const usage = `Usage:
  npm run redrive -- --local --data-dir <dir> [--function <name>] [--sequence-number <n>] [--dry-run]
  npm run redrive -- --queue-url <sqs url> [--trigger streamFanOut] [--function <name|arn>] [--max <n>] [--dry-run]`;

export interface RedriveItem {
  /** function|shard|sequence number (stream) or function|bucket/key (S3). */
  readonly key: string;
  readonly outcome: 'redriven' | 'failed' | 'skipped' | 'dryRun';
  readonly error?: string;
}

export interface RedriveSummary {
  readonly mode: 'local' | 'aws';
  readonly letters: number;
  readonly redriven: number;
  readonly failed: number;
  readonly skipped: number;
  readonly items: readonly RedriveItem[];
}

// Local mode.

export interface LocalRedriveOptions {
  readonly dataDir: string;
  readonly functionName?: string;
  readonly sequenceNumber?: string;
  readonly dryRun?: boolean;
}

export function deadLetterKey(letter: DeadLetter): string {
  if (letter.source === 'stream') {
    return `${letter.function}|${letter.shardId}|${letter.record.dynamodb?.SequenceNumber ?? ''}`;
  }
  return `${letter.function}|${letter.record.s3.bucket.name}/${letter.record.s3.object.key}`;
}

export function readDeadLetters(dataDir: string): DeadLetter[] {
  return readJsonLines(join(dataDir, deadLettersFile)).filter(isDeadLetter);
}

export async function redriveLocal(options: LocalRedriveOptions): Promise<RedriveSummary> {
  const dataDir = resolve(options.dataDir);
  const descriptionPath = join(dataDir, stackDescriptionFile);
  if (!existsSync(descriptionPath)) {
    throw new Error(`${descriptionPath} is missing: start the stack with --data-dir ${options.dataDir} first`);
  }
  const description = JSON.parse(readFileSync(descriptionPath, 'utf8')) as LocalStackDescription;
  // The handlers of this checkout, with the running stack's tables and endpoints: "fixed" means redeployed.
  applyHandlerEnvironment(description.handlerEnvironment);
  const runtime = createLambdaRuntime({
    logger: createLocalLogger('WARN'),
    tableName: (key) => description.handlerEnvironment[tables[key].envVar] ?? '',
  });

  const letters = readDeadLetters(dataDir);
  const done = new Set(
    readJsonLines(join(dataDir, redrivenFile)).flatMap((line) => {
      const key: unknown = typeof line === 'object' && line !== null ? Reflect.get(line, 'key') : undefined;
      return typeof key === 'string' ? [key] : [];
    }),
  );
  const items: RedriveItem[] = [];
  for (const letter of letters) {
    const key = deadLetterKey(letter);
    const selected =
      (options.functionName === undefined || letter.function === options.functionName) &&
      (options.sequenceNumber === undefined ||
        (letter.source === 'stream' && letter.record.dynamodb?.SequenceNumber === options.sequenceNumber));
    if (!selected || done.has(key)) {
      items.push({ key, outcome: 'skipped' });
      continue;
    }
    if (options.dryRun === true) {
      items.push({ key, outcome: 'dryRun' });
      continue;
    }
    const error = await invokeLocally(runtime.invoke, letter);
    if (error === undefined) {
      appendFileSync(join(dataDir, redrivenFile), `${JSON.stringify({ key, at: new Date().toISOString() })}\n`);
      done.add(key);
      items.push({ key, outcome: 'redriven' });
    } else {
      items.push({ key, outcome: 'failed', error });
    }
  }
  return summarize('local', letters.length, items);
}

/** Undefined on success; the reason otherwise (a throw, or the record reported in batchItemFailures). */
async function invokeLocally(
  invoke: (functionName: FunctionName, event: unknown) => Promise<unknown>,
  letter: DeadLetter,
): Promise<string | undefined> {
  if (!isFunctionName(letter.function)) return `Unknown function ${letter.function}`;
  try {
    const response = await invoke(letter.function, { Records: [letter.record] });
    if (letter.source === 's3') return undefined;
    const outcome = interpretBatchResponse(response, [letter.record]);
    if (outcome.kind === 'success') return undefined;
    return outcome.kind === 'failure' ? outcome.error : 'The record was reported in batchItemFailures again';
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

// AWS mode.

export interface AwsRedriveOptions {
  readonly queueUrl: string;
  /** Catalog trigger whose filters apply to the re-read records. */
  readonly trigger: FunctionName;
  /** Overrides the function ARN the failure record names (e.g. a fixed alias). */
  readonly functionName?: string;
  readonly maxMessages: number;
  readonly dryRun: boolean;
}

/** The DynamoDB stream parts of Lambda's on-failure record (the SQS message body). */
interface StreamFailureRecord {
  readonly requestContext?: { readonly functionArn?: string; readonly condition?: string };
  readonly DDBStreamBatchInfo?: {
    readonly shardId?: string;
    readonly startSequenceNumber?: string;
    readonly endSequenceNumber?: string;
    readonly streamArn?: string;
    readonly batchSize?: number;
  };
}

export async function redriveAws(options: AwsRedriveOptions): Promise<RedriveSummary> {
  const trigger = streamTriggers.find((candidate) => candidate.function === options.trigger);
  if (trigger === undefined) throw new Error(`${options.trigger} has no stream trigger in the catalog`);
  const sqs = new SQSClient({});
  const streams = new DynamoDBStreamsClient({});
  const lambda = new LambdaClient({});
  const items: RedriveItem[] = [];
  let letters = 0;
  try {
    while (letters < options.maxMessages) {
      const { Messages: messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: Math.min(10, options.maxMessages - letters),
          WaitTimeSeconds: 1,
          // Long enough to re-read and invoke; a failure simply reappears later.
          VisibilityTimeout: 300,
        }),
      );
      if (messages.length === 0) break;
      for (const message of messages) {
        letters += 1;
        items.push(await redriveQueueMessage(message, { ...options, trigger }, { sqs, streams, lambda }));
      }
    }
  } finally {
    sqs.destroy();
    streams.destroy();
    lambda.destroy();
  }
  return summarize('aws', letters, items);
}

async function redriveQueueMessage(
  message: QueueMessage,
  options: Omit<AwsRedriveOptions, 'trigger'> & { readonly trigger: StreamTriggerSpec },
  clients: { readonly sqs: SQSClient; readonly streams: DynamoDBStreamsClient; readonly lambda: LambdaClient },
): Promise<RedriveItem> {
  const failure = JSON.parse(message.Body ?? '{}') as StreamFailureRecord;
  const info = failure.DDBStreamBatchInfo;
  const functionName = options.functionName ?? failure.requestContext?.functionArn;
  const key = `${functionName ?? '?'}|${info?.shardId ?? '?'}|${info?.startSequenceNumber ?? '?'}-${info?.endSequenceNumber ?? '?'}`;
  const release = async (): Promise<void> => {
    // Back in the queue at once, for another try or another tool.
    await clients.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: options.queueUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  };
  if (
    info?.shardId === undefined ||
    info.startSequenceNumber === undefined ||
    info.endSequenceNumber === undefined ||
    info.streamArn === undefined ||
    functionName === undefined
  ) {
    await release();
    return { key, outcome: 'failed', error: 'Not a DynamoDB stream on-failure record' };
  }
  let records: DynamoDBRecord[];
  try {
    records = await readRange(clients.streams, info.streamArn, info.shardId, {
      start: info.startSequenceNumber,
      end: info.endSequenceNumber,
    });
  } catch (error) {
    await release();
    const trimmed = error instanceof TrimmedDataAccessException;
    return {
      key,
      outcome: 'failed',
      error: trimmed
        ? 'The records are past the stream’s 24 h retention: replay them from the table by key (docs/operations.md)'
        : String(error),
    };
  }
  const batch = records.filter((record) => passesFilters(record, options.trigger.filters));
  if (options.dryRun) {
    await release();
    return { key, outcome: 'dryRun', error: `${batch.length} record(s) would be sent to ${functionName}` };
  }
  if (batch.length > 0) {
    const response = await clients.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify({ Records: batch })),
      }),
    );
    const payload: unknown =
      response.Payload === undefined ? null : JSON.parse(new TextDecoder().decode(response.Payload));
    const outcome =
      response.FunctionError === undefined
        ? interpretBatchResponse(payload, batch)
        : { kind: 'failure' as const, error: `${response.FunctionError}: ${JSON.stringify(payload)}` };
    if (outcome.kind !== 'success') {
      await release();
      return {
        key,
        outcome: 'failed',
        error: outcome.kind === 'failure' ? outcome.error : 'A record was reported in batchItemFailures again',
      };
    }
  }
  await clients.sqs.send(
    new DeleteMessageCommand({ QueueUrl: options.queueUrl, ReceiptHandle: message.ReceiptHandle }),
  );
  return { key, outcome: 'redriven' };
}

/** The records from `start` to `end` (inclusive) of one shard, read again from the stream. */
async function readRange(
  streams: DynamoDBStreamsClient,
  streamArn: string,
  shardId: string,
  range: { readonly start: string; readonly end: string },
): Promise<DynamoDBRecord[]> {
  const end = BigInt(range.end);
  let { ShardIterator: iterator } = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: streamArn,
      ShardId: shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: range.start,
    }),
  );
  const records: DynamoDBRecord[] = [];
  // Empty pages happen on an open shard; a few are enough to know the range has been read.
  for (let emptyPages = 0; iterator !== undefined && emptyPages < 5; ) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    iterator = page.NextShardIterator;
    const pageRecords = page.Records ?? [];
    if (pageRecords.length === 0) emptyPages += 1;
    for (const record of pageRecords) {
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      if (sequenceNumber === undefined) continue;
      if (BigInt(sequenceNumber) > end) return records;
      records.push(toLambdaRecord(record, streamArn));
    }
  }
  return records;
}

// Shared.

function summarize(mode: 'local' | 'aws', letters: number, items: RedriveItem[]): RedriveSummary {
  const count = (outcome: RedriveItem['outcome']) => items.filter((item) => item.outcome === outcome).length;
  return { mode, letters, redriven: count('redriven'), failed: count('failed'), skipped: count('skipped'), items };
}

function readJsonLines(path: string): unknown[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line): unknown => JSON.parse(line));
}

function isDeadLetter(value: unknown): value is DeadLetter {
  if (typeof value !== 'object' || value === null) return false;
  const source: unknown = Reflect.get(value, 'source');
  return (
    (source === 'stream' || source === 's3') &&
    typeof Reflect.get(value, 'function') === 'string' &&
    typeof Reflect.get(value, 'record') === 'object'
  );
}

function isFunctionName(name: string): name is FunctionName {
  return Object.hasOwn(functions, name);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      local: { type: 'boolean' },
      'data-dir': { type: 'string' },
      'queue-url': { type: 'string' },
      trigger: { type: 'string' },
      function: { type: 'string' },
      'sequence-number': { type: 'string' },
      max: { type: 'string' },
      'dry-run': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const dryRun = values['dry-run'] === true;
  let summary: RedriveSummary;
  if (values.local === true || values['data-dir'] !== undefined) {
    const dataDir = values['data-dir'] ?? process.env.PARLEY_DATA_DIR;
    if (dataDir === undefined || dataDir === '') throw new Error(`--local needs --data-dir <dir>\n${usage}`);
    summary = await redriveLocal({
      dataDir,
      dryRun,
      ...(values.function === undefined ? {} : { functionName: values.function }),
      ...(values['sequence-number'] === undefined ? {} : { sequenceNumber: values['sequence-number'] }),
    });
  } else if (values['queue-url'] !== undefined) {
    const trigger = values.trigger ?? 'streamFanOut';
    if (!isFunctionName(trigger)) throw new Error(`Unknown trigger function ${trigger}`);
    const max = Number(values.max ?? '100');
    if (!Number.isSafeInteger(max) || max < 1) throw new Error('--max must be a positive integer');
    summary = await redriveAws({
      queueUrl: values['queue-url'],
      trigger,
      maxMessages: max,
      dryRun,
      ...(values.function === undefined ? {} : { functionName: values.function }),
    });
  } else {
    throw new Error(usage);
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (summary.failed > 0) process.exitCode = 1;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  // The SDK nags on Node 20 at the first client; it would bury the one JSON line.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  main().catch((error: unknown) => {
    process.stderr.write(`redrive: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
