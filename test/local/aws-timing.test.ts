/**
 * The Lambda runtime under the AWS timing profile: invoke overhead per invocation, and the DynamoDB
 * call delay inside an invocation only (none without the switch). Asserted on the draws, never on
 * elapsed time. The stream poller's schedule is in stream-poller.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type DynamoDbCallDelay, setDynamoDbCallDelay } from '#shared/aws/call-delay';
import { createTimingModel, type TimingModel } from '../../local/aws-timing';
import { awsTimingProfile, type LatencyName } from '../../local/aws-timing-profile';
import { createLambdaRuntime } from '../../local/lambda-runtime';
import { createLocalLogger } from '../../local/log';

const logger = createLocalLogger('SILENT');
const seed = 7;

/** The process-wide DynamoDB call delay the runtime installed, read without replacing it. */
function installedCallDelay(): DynamoDbCallDelay | undefined {
  const delay = setDynamoDbCallDelay(undefined);
  setDynamoDbCallDelay(delay);
  return delay;
}

describe('the Lambda runtime under AWS timing', () => {
  const delaysSeen: Array<number | undefined> = [];
  const overrides = {
    wsDefault: async () => {
      delaysSeen.push(installedCallDelay()?.('GetItem'));
      return null;
    },
  };

  it('adds nothing without the switch: no invoke overhead, no DynamoDB delay inside an invocation', async () => {
    delaysSeen.length = 0;
    const runtime = createLambdaRuntime({ logger, tableName: (key) => key, overrides });
    await runtime.invoke('wsDefault', {});
    expect(delaysSeen).toEqual([undefined]);
  });

  it("waits Lambda's invoke overhead per invocation and draws each DynamoDB call inside one, none outside", async () => {
    delaysSeen.length = 0;
    const drawn: LatencyName[] = [];
    const model = createTimingModel(awsTimingProfile, seed);
    const recording: TimingModel = {
      ...model,
      draw: (name) => {
        drawn.push(name);
        return model.draw(name);
      },
    };
    const runtime = createLambdaRuntime({ logger, tableName: (key) => key, overrides, timing: recording });
    await runtime.invoke('wsDefault', {});
    await runtime.invoke('wsDefault', {});

    expect(drawn).toEqual(['lambdaInvoke', 'lambdaInvoke']);
    const expected = createTimingModel(awsTimingProfile, seed);
    expect(delaysSeen).toEqual([expected.dynamoDbCallMs('GetItem'), expected.dynamoDbCallMs('GetItem')]);
    expect(installedCallDelay()?.('GetItem')).toBeUndefined();
  });
});
