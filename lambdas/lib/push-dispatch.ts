import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { PushDispatcher } from '#shared/services/fan-out-service';
import type { PushJob } from '#shared/services/push-job';
import { tracer } from './observability';

/**
 * Hands each push to the push sender with an asynchronous invoke: Lambda queues the event (202) and
 * answers at once, so fan-out never waits on a push service, and Lambda's retries of a failed send
 * (with backoff, then the on-failure queue) happen outside the stream batch.
 */
export function createLambdaPushDispatcher(functionName: string): PushDispatcher {
  const lambda = tracer.captureAWSv3Client(new LambdaClient({}));
  return {
    async dispatch(job: PushJob) {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(job)),
        }),
      );
    },
  };
}
