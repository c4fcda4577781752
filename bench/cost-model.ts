/**
 * Turns measured per-message work into dollars at AWS list prices (us-east-1, on-demand, no free
 * tier, first volume tier). Quantities come from the run; only the prices and the Lambda memory
 * sizes (the catalog's) are inputs. docs/performance.md explains the model and its limits.
 */
import { type FunctionName, type FunctionSpec, functionDefaults, functions } from '#shared/config/functions';
import { round } from './capacity-tally';

export const prices = {
  apiGatewayMessage: {
    usd: 1.0 / 1e6,
    unit: 'WebSocket message (per 32 KB, either direction)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  apiGatewayConnectionMinute: {
    usd: 0.25 / 1e6,
    unit: 'WebSocket connection minute',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'Lambda request', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondArm64: {
    usd: 0.0000133334,
    unit: 'Lambda GB-second, arm64',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  dynamoDbWriteUnit: {
    usd: 0.625 / 1e6,
    unit: 'DynamoDB on-demand write request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoDbReadUnit: {
    usd: 0.125 / 1e6,
    unit: 'DynamoDB on-demand read request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  s3StandardGbMonth: { usd: 0.023, unit: 'S3 Standard GB-month', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Put: { usd: 0.005 / 1000, unit: 'S3 PUT request', source: 'https://aws.amazon.com/s3/pricing/' },
  s3Get: { usd: 0.0004 / 1000, unit: 'S3 GET request', source: 'https://aws.amazon.com/s3/pricing/' },
  cloudFrontGb: {
    usd: 0.085,
    unit: 'CloudFront data transfer out, GB (first 10 TB, US)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
  },
  cloudFrontHttpsRequest: {
    usd: 0.01 / 10_000,
    unit: 'CloudFront HTTPS request (US)',
    source: 'https://aws.amazon.com/cloudfront/pricing/',
  },
} as const;

/** What the cost model needs of a phase's per-message cost (bench/meters.ts `costBetween`). */
export interface MeasuredPerMessage {
  readonly dynamoDb: { readonly readUnits: number; readonly writeUnits: number };
  readonly postToConnection: number;
  readonly lambdaInvocations: {
    readonly byFunction: Readonly<Record<string, { readonly perMessage: number; readonly meanMs: number }>>;
  };
}

export interface CostLine {
  readonly item: string;
  readonly quantityPerMessage: number;
  readonly usdPerMillionMessages: number;
}

/**
 * Dollars per million messages. `framesInPerMessage` counts the client frames and route responses
 * API Gateway bills besides the posts (a send: the sendMessage frame and its messageAccepted answer).
 */
export function dollarsPerMillion(measured: MeasuredPerMessage, framesInPerMessage: number) {
  const million = 1e6;
  const lines: CostLine[] = [];
  const apiMessages = framesInPerMessage + measured.postToConnection;
  lines.push({
    item: 'API Gateway WebSocket messages (frames in, route responses, postToConnection)',
    quantityPerMessage: round(apiMessages, 3),
    usdPerMillionMessages: apiMessages * prices.apiGatewayMessage.usd * million,
  });
  const functionsUsed = Object.entries(measured.lambdaInvocations.byFunction);
  const invocations = functionsUsed.reduce((sum, [, f]) => sum + f.perMessage, 0);
  lines.push({
    item: 'Lambda requests',
    quantityPerMessage: round(invocations, 3),
    usdPerMillionMessages: invocations * prices.lambdaRequest.usd * million,
  });
  const gbSeconds = functionsUsed.reduce((sum, [name, f]) => {
    const spec: FunctionSpec | undefined = functions[name as FunctionName];
    const memoryGb = (spec?.memoryMb ?? functionDefaults.memoryMb) / 1024;
    // Lambda bills duration in 1 ms steps; the local mean stands in for the AWS duration.
    return sum + f.perMessage * (Math.ceil(f.meanMs) / 1000) * memoryGb;
  }, 0);
  lines.push({
    item: 'Lambda compute (GB-s, arm64; local mean durations)',
    quantityPerMessage: round(gbSeconds, 5),
    usdPerMillionMessages: gbSeconds * prices.lambdaGbSecondArm64.usd * million,
  });
  lines.push({
    item: 'DynamoDB write request units',
    quantityPerMessage: round(measured.dynamoDb.writeUnits, 3),
    usdPerMillionMessages: measured.dynamoDb.writeUnits * prices.dynamoDbWriteUnit.usd * million,
  });
  lines.push({
    item: 'DynamoDB read request units',
    quantityPerMessage: round(measured.dynamoDb.readUnits, 3),
    usdPerMillionMessages: measured.dynamoDb.readUnits * prices.dynamoDbReadUnit.usd * million,
  });
  const total = lines.reduce((sum, line) => sum + line.usdPerMillionMessages, 0);
  return {
    lines: lines.map((line) => ({ ...line, usdPerMillionMessages: round(line.usdPerMillionMessages, 3) })),
    usdPerMillionMessages: round(total, 2),
  };
}
