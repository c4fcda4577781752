/**
 * `npm run redrive -- --queue-url …` (scripts/redrive.ts) against mocked AWS clients: the on-failure
 * message's sequence range is read again from the stream, filtered like the trigger, handed to the
 * function, and the queue message goes only when the function succeeds.
 */
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { Uint8ArrayBlobAdapter } from '@smithy/core/serde';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redriveAws } from '../../scripts/redrive';

const sqs = mockClient(SQSClient);
const streams = mockClient(DynamoDBStreamsClient);
const lambda = mockClient(LambdaClient);

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/failed-records';
const streamArn = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Messages/stream/2026-01-01T00:00:00.000';
const functionArn = 'arn:aws:lambda:eu-west-1:123456789012:function:parley-StreamFanOut';

const failureMessage = {
  MessageId: 'm-1',
  ReceiptHandle: 'receipt-1',
  Body: JSON.stringify({
    requestContext: { functionArn, condition: 'RetryAttemptsExhausted' },
    DDBStreamBatchInfo: {
      shardId: 'shardId-1',
      startSequenceNumber: '100',
      endSequenceNumber: '101',
      streamArn,
      batchSize: 2,
    },
  }),
};

function streamRecord(sequenceNumber: string, eventName: 'INSERT' | 'MODIFY'): StreamRecord {
  return {
    eventID: `e-${sequenceNumber}`,
    eventName,
    dynamodb: {
      SequenceNumber: sequenceNumber,
      Keys: { conversationId: { S: 'c1' }, seq: { N: sequenceNumber } },
      NewImage: { conversationId: { S: 'c1' }, seq: { N: sequenceNumber }, text: { S: 'hello' } },
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const encode = (value: unknown) => Uint8ArrayBlobAdapter.fromString(JSON.stringify(value));

function invokedSequenceNumbers(): string[] {
  const payload = lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload;
  const event = JSON.parse(new TextDecoder().decode(payload as Uint8Array)) as {
    Records: { dynamodb: { SequenceNumber: string } }[];
  };
  return event.Records.map((record) => record.dynamodb.SequenceNumber);
}

beforeEach(() => {
  sqs
    .on(ReceiveMessageCommand)
    .resolvesOnce({ Messages: [failureMessage] })
    .resolves({ Messages: [] });
  streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'iterator-1' });
  // The range, a MODIFY inside it (the fan-out's filter drops it), and the record after it.
  streams.on(GetRecordsCommand).resolves({
    Records: [streamRecord('100', 'INSERT'), streamRecord('101', 'MODIFY'), streamRecord('102', 'INSERT')],
    NextShardIterator: 'iterator-2',
  });
});

afterEach(() => {
  sqs.reset();
  streams.reset();
  lambda.reset();
});

describe('redriveAws', () => {
  it('re-reads the failed range at its sequence number, invokes the function with it and deletes the message', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode({ batchItemFailures: [] }) });

    const summary = await redriveAws({ queueUrl, trigger: 'streamFanOut', maxMessages: 10, dryRun: false });

    expect(summary).toMatchObject({ mode: 'aws', letters: 1, redriven: 1, failed: 0 });
    expect(streams.commandCalls(GetShardIteratorCommand)[0]?.args[0].input).toMatchObject({
      StreamArn: streamArn,
      ShardId: 'shardId-1',
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: '100',
    });
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input).toMatchObject({
      FunctionName: functionArn,
      InvocationType: 'RequestResponse',
    });
    expect(invokedSequenceNumbers()).toEqual(['100']);
    expect(sqs.commandCalls(DeleteMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: queueUrl,
      ReceiptHandle: 'receipt-1',
    });
  });

  it('keeps the message, visible again at once, when the function still reports the record', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: encode({ batchItemFailures: [{ itemIdentifier: '100' }] }),
    });

    const summary = await redriveAws({ queueUrl, trigger: 'streamFanOut', maxMessages: 10, dryRun: false });

    expect(summary).toMatchObject({ redriven: 0, failed: 1 });
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input).toMatchObject({ VisibilityTimeout: 0 });
  });

  it('invokes nothing on a dry run', async () => {
    const summary = await redriveAws({ queueUrl, trigger: 'streamFanOut', maxMessages: 10, dryRun: true });

    expect(summary.items[0]).toMatchObject({ outcome: 'dryRun' });
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(0);
    expect(sqs.commandCalls(DeleteMessageCommand)).toHaveLength(0);
  });
});
