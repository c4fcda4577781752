import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { envVars } from '#shared/config/env';
import { type FunctionName, functions } from '#shared/config/functions';
import { tableKeys, tables } from '#shared/config/tables';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const functionNames = Object.keys(functions) as FunctionName[];

beforeAll(() => {
  // Handlers read their settings at import time, as they do at cold start.
  for (const key of tableKeys) process.env[tables[key].envVar] = `parley-test-${key}`;
  process.env[envVars.callbackUrl] = 'http://127.0.0.1:1';
  process.env[envVars.jwtIssuer] = 'https://issuer.example';
  process.env[envVars.jwtAudience] = 'x';
  process.env[envVars.jwksUri] = 'https://issuer.example/jwks.json';
  process.env[envVars.mediaBucket] = 'parley-test-media';
  process.env[envVars.mediaCdnUrl] = 'https://cdn.example';
  process.env[envVars.mediaKeyPairId] = 'K2TESTKEYPAIRID';
  process.env[envVars.mediaSigningKeySecret] =
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:parley-test-signing-key';
  process.env[envVars.vapidPublicKey] = 'BTestVapidPublicKey';
  process.env[envVars.vapidPrivateKeySecret] = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:parley-test-vapid';
  process.env[envVars.pushSendFunction] = 'parley-test-pushSend';
  process.env.AWS_REGION = 'us-east-1';
});

describe('handler modules', () => {
  it.each(functionNames)('%s exports the `handler` function the stack points Lambda at', async (name) => {
    const module: Record<string, unknown> = await import(
      pathToFileURL(`${repositoryRoot}${functions[name].entry}`).href
    );

    expect(typeof module.handler).toBe('function');
  });
});
