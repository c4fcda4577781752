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
