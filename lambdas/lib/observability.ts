import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/** One logger and one metrics emitter per container; POWERTOOLS_* env settings tune them. */
export const logger = new Logger({ serviceName: 'parley' });
export const metrics = new Metrics({ namespace: 'Parley', serviceName: 'parley' });
