import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '../../lambdas/lib/lambda-credentials';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the credential provider deployed bundles use in place of the default chain', () => {
  it("reads the execution role's credentials from the variables Lambda sets", async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'session');

    await expect(defaultProvider()()).resolves.toMatchObject({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'session',
    });
  });

  it('fails plainly where there are none, rather than trying other sources', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');

    await expect(defaultProvider()()).rejects.toThrow(/environment/i);
  });
});
