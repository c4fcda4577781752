/**
 * Stands in for `@aws-sdk/credential-provider-node` in deployed bundles (shared/config/bundling.ts):
 * Lambda puts the execution role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, so the environment is the only link of the default chain a function uses.
 */
import { type FromEnvInit, fromEnv } from '@aws-sdk/credential-provider-env';

/** The SDK clients call this with their config, as they call the default chain. */
export const defaultProvider = (init: FromEnvInit = {}) => fromEnv(init);
