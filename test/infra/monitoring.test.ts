/**
 * Observability in the template: every stream trigger, dead-letter queue, function, table and API
 * has its alarm on the thresholds of shared/config/monitoring, every alarm notifies the encrypted
 * topic, the dashboard graphs the application metrics, and every handler is traced.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { bucketTriggers, type FunctionName, functions, streamTriggers } from '#shared/config/functions';
import { alarmThresholds, appMetrics, metricsNamespace } from '#shared/config/monitoring';
import { type TableKey, type TableSpec, tableKeys, tables } from '#shared/config/tables';
import { ParleyStack } from '../../infra/parley-stack';
import { buildParleyStack, logicalIdAt } from './parley-stack';

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
}

interface Dimension {
  readonly Name: string;
  readonly Value: unknown;
}

interface MetricDataQuery {
  readonly Id: string;
  readonly Expression?: string;
  readonly MetricStat?: {
    readonly Metric: { readonly Namespace: string; readonly MetricName: string; readonly Dimensions: Dimension[] };
    readonly Stat: string;
  };
}

interface AlarmProperties {
  readonly MetricName?: string;
  readonly Namespace?: string;
  readonly Dimensions?: Dimension[];
  readonly Statistic?: string;
  readonly Metrics?: MetricDataQuery[];
  readonly Threshold: number;
  readonly EvaluationPeriods: number;
  readonly ComparisonOperator: string;
  readonly TreatMissingData: string;
  readonly AlarmActions: unknown[];
  readonly OKActions: unknown[];
}

const functionNames = Object.keys(functions) as FunctionName[];

let stack: ParleyStack;
let resources: Record<string, TemplateResource>;
let alarms: AlarmProperties[];

beforeAll(() => {
  // Alarms, topics and dashboards do not depend on the bundles.
  stack = buildParleyStack({ bundle: false });
  resources = Template.fromStack(stack).toJSON().Resources as Record<string, TemplateResource>;
  alarms = resourcesOfType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties as unknown as AlarmProperties);
}, 300_000);

function resourcesOfType(type: string): [string, TemplateResource][] {
  return Object.entries(resources).filter(([, resource]) => resource.Type === type);
}

const ref = (logicalId: string) => ({ Ref: logicalId });
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
/** CloudFormation lists dimensions in any order; compare them as sets. */
const sameDimensions = (a: Dimension[] | undefined, b: Dimension[]) =>
  a !== undefined && sameJson(sortedByName(a), sortedByName(b));
const sortedByName = (dimensions: Dimension[]) => [...dimensions].sort((x, y) => x.Name.localeCompare(y.Name));
const functionId = (name: FunctionName) => logicalIdAt(stack, name.charAt(0).toUpperCase() + name.slice(1), 'Function');
const tableId = (key: TableKey) => logicalIdAt(stack, 'Data', tables[key].logicalName);
const minutes = (count: number) => count * 60;

/** Alarms on one plain metric with exactly these dimensions. */
function alarmsOn(namespace: string, metricName: string, dimensions: Dimension[]): AlarmProperties[] {
  return alarms.filter(
    (alarm) =>
      alarm.Namespace === namespace && alarm.MetricName === metricName && sameDimensions(alarm.Dimensions, dimensions),
  );
}

/** Alarms on a math expression that reads this metric with exactly these dimensions. */
function expressionAlarmsReading(namespace: string, metricName: string, dimensions: Dimension[]): AlarmProperties[] {
  return alarms.filter((alarm) =>
    (alarm.Metrics ?? []).some(
      (query) =>
        query.MetricStat?.Metric.Namespace === namespace &&
        query.MetricStat.Metric.MetricName === metricName &&
        sameDimensions(query.MetricStat.Metric.Dimensions, dimensions),
    ),
  );
}

function onlyOne(found: AlarmProperties[], what: string): AlarmProperties {
  expect(found, what).toHaveLength(1);
  return found[0] as AlarmProperties;
}

describe('Stream alarms', () => {
  it.each(streamTriggers.map((trigger) => [trigger.function, trigger.table] as const))(
    'alarms when %s falls more than the threshold behind the %s stream',
    (name) => {
      const alarm = onlyOne(
        alarmsOn('AWS/Lambda', 'IteratorAge', [{ Name: 'FunctionName', Value: ref(functionId(name)) }]),
        `iterator age alarm of ${name}`,
      );
      expect(alarm).toMatchObject({
        Statistic: 'Maximum',
        Period: 60,
        Threshold: alarmThresholds.streamIteratorAgeSeconds * 1000,
        EvaluationPeriods: alarmThresholds.streamIteratorAgeMinutes,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    },
  );

  it('alarms on the depth of every on-failure queue of a stream trigger', () => {
    const queueIds = resourcesOfType('AWS::Lambda::EventSourceMapping').map(([, mapping]) => {
      const destination = (mapping.Properties.DestinationConfig as { OnFailure: { Destination: unknown } }).OnFailure
        .Destination;
      return (destination as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    });
    expect(queueIds).toHaveLength(streamTriggers.length);

    for (const queueId of queueIds) {
      const alarm = onlyOne(
        alarmsOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } },
        ]),
        `depth alarm of ${queueId}`,
      );
      expect(alarm).toMatchObject({
        Statistic: 'Maximum',
        Threshold: alarmThresholds.deadLetterMessages,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    }
  });
});

describe('Function alarms', () => {
  it.each(functionNames)('alarms on errors and throttles of %s', (name) => {
    const dimensions = [{ Name: 'FunctionName', Value: ref(functionId(name)) }];
    const errors = onlyOne(alarmsOn('AWS/Lambda', 'Errors', dimensions), `errors alarm of ${name}`);
    const throttles = onlyOne(alarmsOn('AWS/Lambda', 'Throttles', dimensions), `throttles alarm of ${name}`);

    expect(errors).toMatchObject({
      Statistic: 'Sum',
      Period: minutes(alarmThresholds.periodMinutes),
      Threshold: alarmThresholds.lambdaErrors,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(throttles).toMatchObject({
      Statistic: 'Sum',
      Threshold: alarmThresholds.lambdaThrottles,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it.each(bucketTriggers.map((trigger) => trigger.function))('alarms when %s drops S3 notifications', (name) => {
    onlyOne(
      alarmsOn('AWS/Lambda', 'AsyncEventsDropped', [{ Name: 'FunctionName', Value: ref(functionId(name)) }]),
      `dropped events alarm of ${name}`,
    );
  });
});

describe('API alarms', () => {
  it('alarms on the HTTP API 4xx and 5xx rates, judged only above a minimum of requests', () => {
    const apiId = [{ Name: 'ApiId', Value: ref(logicalIdAt(stack, 'Http', 'Api')) }];
    const serverErrors = onlyOne(expressionAlarmsReading('AWS/ApiGateway', '5xx', apiId), '5xx rate alarm');
    const clientErrors = onlyOne(expressionAlarmsReading('AWS/ApiGateway', '4xx', apiId), '4xx rate alarm');

    for (const [alarm, threshold] of [
      [serverErrors, alarmThresholds.httpServerErrorPercent],
      [clientErrors, alarmThresholds.httpClientErrorPercent],
    ] as const) {
      expect(alarm.Threshold).toBe(threshold);
      const expression = alarm.Metrics?.find((query) => query.Expression !== undefined)?.Expression;
      expect(expression).toBe(`IF(requests >= ${alarmThresholds.httpMinRequests}, 100 * errors / requests, 0)`);
      expect(
        alarm.Metrics?.some(
          (query) =>
            query.MetricStat?.Metric.MetricName === 'Count' &&
            sameDimensions(query.MetricStat.Metric.Dimensions, apiId),
        ),
      ).toBe(true);
    }
  });

  it('alarms on WebSocket integration and execution errors of the prod stage', () => {
    const dimensions = [
      { Name: 'ApiId', Value: ref(logicalIdAt(stack, 'Realtime', 'Api')) },
      { Name: 'Stage', Value: 'prod' },
    ];
    const alarm = onlyOne(
      expressionAlarmsReading('AWS/ApiGateway', 'IntegrationError', dimensions),
      'WebSocket integration errors alarm',
    );
    expect(expressionAlarmsReading('AWS/ApiGateway', 'ExecutionError', dimensions)).toEqual([alarm]);
    expect(alarm.Threshold).toBe(alarmThresholds.webSocketIntegrationErrors);
  });
});

describe('DynamoDB alarms', () => {
  it.each(tableKeys)('alarms on read and write throttles of the %s table and each of its indexes', (key) => {
    const spec: TableSpec = tables[key];
    const table = { Name: 'TableName', Value: ref(tableId(key)) };
    const alarm = onlyOne(
      expressionAlarmsReading('AWS/DynamoDB', 'ReadThrottleEvents', [table]),
      `throttle alarm of ${key}`,
    );

    expect(expressionAlarmsReading('AWS/DynamoDB', 'WriteThrottleEvents', [table])).toEqual([alarm]);
    for (const index of spec.globalIndexes ?? []) {
      const dimensions = [table, { Name: 'GlobalSecondaryIndexName', Value: index.indexName }];
      expect(expressionAlarmsReading('AWS/DynamoDB', 'ReadThrottleEvents', dimensions)).toEqual([alarm]);
      expect(expressionAlarmsReading('AWS/DynamoDB', 'WriteThrottleEvents', dimensions)).toEqual([alarm]);
    }
    expect(alarm.Threshold).toBe(alarmThresholds.dynamoDbThrottleEvents);
  });
});

describe('Alarm notifications', () => {
  it('sends every alarm and recovery to the one topic, and reads no traffic as no trouble', () => {
    const topic = ref(logicalIdAt(stack, 'Monitoring', 'Alarms'));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
      expect(alarm.TreatMissingData).toBe('notBreaching');
    }
  });

  it('encrypts the topic with a rotated key CloudWatch may use, and refuses plain HTTP', () => {
    const topicId = logicalIdAt(stack, 'Monitoring', 'Alarms');
    const keyId = logicalIdAt(stack, 'Monitoring', 'AlarmsKey');
    expect(resources[topicId]?.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(resources[keyId]?.Properties.EnableKeyRotation).toBe(true);
    const keyPolicy = JSON.stringify(resources[keyId]?.Properties.KeyPolicy);
    expect(keyPolicy).toContain('cloudwatch.amazonaws.com');

    const policies = resourcesOfType('AWS::SNS::TopicPolicy').filter(([, candidate]) =>
      sameJson(candidate.Properties.Topics, [ref(topicId)]),
    );
    expect(policies).toHaveLength(1);
    const [, policy] = policies[0] as [string, TemplateResource];
    const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'sns:Publish',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
      }),
    );
  });

  it('subscribes no one by default, and the alarm email when one is given', () => {
    expect(resourcesOfType('AWS::SNS::Subscription')).toEqual([]);

    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const withEmail = new ParleyStack(app, 'WithEmail', { alarmEmail: 'ops@example.com' });
    const subscriptions = Template.fromStack(withEmail).findResources('AWS::SNS::Subscription');
    expect(Object.values(subscriptions).map((subscription) => subscription.Properties)).toEqual([
      expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
    ]);
  }, 120_000);
});

describe('Dashboard', () => {
  it('graphs messages sent and fanned out beside the alarmed metrics', () => {
    const dashboards = resourcesOfType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify((dashboards[0] as [string, TemplateResource])[1].Properties.DashboardBody);

    for (const name of [...Object.values(appMetrics), 'IteratorAge', 'ApproximateNumberOfMessagesVisible']) {
      expect(body).toContain(`\\"${name}\\"`);
    }
    expect(body).toContain(`\\"${metricsNamespace}\\"`);
    for (const name of ['Errors', 'Throttles', '4xx', '5xx', 'IntegrationError', 'ReadThrottleEvents']) {
      expect(body).toContain(`\\"${name}\\"`);
    }
    expect(body).toContain('alarm');
  });
});

describe('Lambda logs', () => {
  it.each(functionNames)('%s logs JSON, with only failed invocations writing platform lines', (name) => {
    expect(resources[functionId(name)]?.Properties.LoggingConfig).toMatchObject({
      LogFormat: 'JSON',
      SystemLogLevel: 'WARN',
    });
  });
});

describe('Tracing', () => {
  it.each(functionNames)('traces %s actively with X-Ray', (name) => {
    expect(resources[functionId(name)]?.Properties.TracingConfig).toEqual({ Mode: 'Active' });
  });
});
