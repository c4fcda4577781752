/**
 * The tracer is loaded only where Powertools would record anything: on Lambda (AWS_EXECUTION_ENV)
 * unless POWERTOOLS_TRACE_ENABLED=false. Each case imports a fresh observability module, as a cold start does.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';

const onLambda = { AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' };
/** The middleware the X-Ray SDK puts on a captured SDK v3 client. */
const xrayMiddleware = 'XRaySDKInstrumentation';

async function coldStart(environment: Readonly<Record<string, string>>) {
  vi.resetModules();
  vi.stubEnv('AWS_EXECUTION_ENV', '');
  vi.stubEnv('POWERTOOLS_TRACE_ENABLED', '');
  for (const [name, value] of Object.entries(environment)) vi.stubEnv(name, value);
  return import('../../lambdas/lib/observability');
}

const capturedBy = (tracer: { captureAWSv3Client<Client>(client: Client): Client }) =>
  tracer.captureAWSv3Client(new DynamoDBClient({ region: 'us-east-1' })).middlewareStack.identify();

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('tracing', () => {
  it('on Lambda, wraps the handler in a trace segment and traces SDK calls', async () => {
    const { observed, tracer } = await coldStart(onLambda);

    expect(observed()).toHaveLength(2);
    expect(capturedBy(tracer).some((entry) => entry.startsWith(xrayMiddleware))).toBe(true);
  });

  it.each([
    ['off Lambda', {}],
    ['on Lambda with POWERTOOLS_TRACE_ENABLED=false', { ...onLambda, POWERTOOLS_TRACE_ENABLED: 'false' }],
  ])('%s, leaves the X-Ray SDK out: no segment, SDK clients untouched', async (_case, environment) => {
    const { observed, tracer } = await coldStart(environment);

    expect(observed()).toHaveLength(1);
    expect(capturedBy(tracer).some((entry) => entry.startsWith(xrayMiddleware))).toBe(false);
    expect(() => tracer.putAnnotation('correlationId', 'c-1')).not.toThrow();
  });
});

describe('log lines', () => {
  it('keep what names the line (level, time, function, request, cold start) and leave out what the log group repeats', async () => {
    const { logger } = await coldStart({});
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      logger.addContext({
        functionName: 'parley-wsSendMessage',
        awsRequestId: 'request-1',
        invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:parley-wsSendMessage',
        memoryLimitInMB: '1769',
      } as Parameters<typeof logger.addContext>[0]);
      logger.info('message accepted', { seq: 7 });
    } finally {
      write.mockRestore();
    }

    const line = JSON.parse(written.join('').trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({
      level: 'INFO',
      message: 'message accepted',
      function_name: 'parley-wsSendMessage',
      function_request_id: 'request-1',
      seq: 7,
    });
    expect(typeof line.timestamp).toBe('string');
    expect('cold_start' in line).toBe(true);
    for (const repeated of ['function_arn', 'function_memory_size', 'sampling_rate']) {
      expect(line).not.toHaveProperty(repeated);
    }
  });
});
