import { Aws, Duration } from 'aws-cdk-lib';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  type IMetric,
  MathExpression,
  Metric,
  Stats,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { bucketTriggers, type FunctionName } from '#shared/config/functions';
import {
  type AlarmThresholds,
  alarmThresholds,
  appMetrics,
  metricsNamespace,
  serviceName,
} from '#shared/config/monitoring';
import { type TableKey, type TableSpec, tableKeys, tables as tableSpecs } from '#shared/config/tables';
import type { ConnectedStreamTrigger } from './fan-out';
import type { Handlers } from './lambda-function';

export interface MonitoringProps {
  readonly handlers: Handlers;
  readonly tables: Readonly<Record<TableKey, ITable>>;
  /** Stream triggers as FanOut connected them: each has an iterator age and a dead-letter queue to watch. */
  readonly streamTriggers: readonly ConnectedStreamTrigger[];
  readonly httpApi: IHttpApi;
  /** The WebSocket API and the stage clients use. */
  readonly webSocket: { readonly apiId: string; readonly stageName: string };
  /**
   * Also mail every alarm and recovery here (the address confirms the subscription first).
   * @default no subscription: subscribe to the topic by other means
   */
  readonly alarmEmail?: string;
  /**
   * Overrides of single thresholds.
   * @default `alarmThresholds` in shared/config/monitoring.ts
   */
  readonly thresholds?: Partial<AlarmThresholds>;
}

/** What an operator opens first: runbook pointers in every alarm description. */
const runbook = 'See docs/operations.md.';

/**
 * Alarms on everything that loses, delays or refuses messages, all notifying one encrypted SNS
 * topic, and a dashboard with the same metrics beside messages sent and fanned out.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];
  private readonly thresholds: AlarmThresholds;
  private readonly period: Duration;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.thresholds = { ...alarmThresholds, ...props.thresholds };
    this.period = Duration.minutes(this.thresholds.periodMinutes);
    this.topic = this.createTopic(props.alarmEmail);
    this.action = new SnsAction(this.topic);

    const streams = this.streamAlarms(props.streamTriggers);
    const functions = this.functionAlarms(props.handlers);
    const apis = this.apiAlarms(props.httpApi, props.webSocket);
    const tables = this.tableAlarms(props.tables);

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new TextWidget({
            markdown: `# Parley\nAlarms notify the SNS topic of this stack. Following one message through the logs: docs/operations.md.`,
            width: 24,
            height: 2,
          }),
        ],
        [
          this.graph('Messages sent', [
            appMetric(appMetrics.messagesSent, this.period),
            appMetric(appMetrics.duplicateSends, this.period),
          ]),
          this.graph('Messages fanned out', [
            appMetric(appMetrics.messagesFannedOut, this.period),
            appMetric(appMetrics.postsToConnections, this.period),
            appMetric(appMetrics.inboxItemsParked, this.period),
            appMetric(appMetrics.staleConnections, this.period),
          ]),
        ],
        [
          this.graph('Direct delivery (the fast path)', [
            appMetric(appMetrics.devicesReachedDirectly, this.period),
            appMetric(appMetrics.directPostsMissed, this.period),
            appMetric(appMetrics.fanOutSkippedDirect, this.period),
            appMetric(appMetrics.directChatViewsHeld, this.period),
            appMetric(appMetrics.directChatViewsRefused, this.period),
          ]),
          this.graph('Media', [
            appMetric(appMetrics.uploadsStarted, this.period),
            appMetric(appMetrics.mediaKept, this.period),
            appMetric(appMetrics.sentMediaMissing, this.period),
          ]),
        ],
        [
          this.graph('Web Push', [
            appMetric(appMetrics.pushesScheduled, this.period),
            appMetric(appMetrics.pushesSent, this.period),
            appMetric(appMetrics.pushSubscriptionsGone, this.period),
            appMetric(appMetrics.pushesRefused, this.period),
            appMetric(appMetrics.pushesUnsubscribed, this.period),
            appMetric(appMetrics.pushesRetried, this.period),
          ]),
        ],
        [
          this.graph('Stream iterator age (max, ms)', streams.iteratorAge),
          this.graph('Dead-letter queue depth', streams.deadLetters),
        ],
        [this.graph('HTTP API requests and errors', apis.http), this.graph('WebSocket API', apis.webSocket)],
        [this.graph('Lambda errors', functions.errors), this.graph('Lambda throttles', functions.throttles)],
        [this.graph('DynamoDB throttle events', tables), this.graph('Lambda duration p99 (ms)', functions.duration)],
        ...chunks(this.alarms, 100).map((alarms, index) => [
          new AlarmStatusWidget({ title: `Alarms (${index + 1})`, alarms, width: 24, height: 6 }),
        ]),
      ],
    });
  }

  /** Encrypted with a key CloudWatch may use, SSL only: alarm notifications name resources and states. */
  private createTopic(alarmEmail: string | undefined): Topic {
    const key = new Key(this, 'AlarmsKey', {
      description: 'Parley: encrypts the alarm notifications topic',
      enableKeyRotation: true,
    });
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    key.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    const topic = new Topic(this, 'Alarms', {
      displayName: 'Parley alarms',
      masterKey: key,
      enforceSSL: true,
    });
    // The topic policy CDK writes for enforceSSL replaces SNS's default one: CloudWatch is let in explicitly.
    topic.addToResourcePolicy(
      new PolicyStatement({
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*` },
        },
      }),
    );
    if (alarmEmail !== undefined) topic.addSubscription(new EmailSubscription(alarmEmail));
    return topic;
  }

  private streamAlarms(triggers: readonly ConnectedStreamTrigger[]) {
    const t = this.thresholds;
    const iteratorAge: IMetric[] = [];
    const deadLetters: IMetric[] = [];
    for (const { trigger, handler, failedRecords } of triggers) {
      const name = `${trigger.table}-${trigger.function}`;
      // Labels only on the graphs: a labelled metric turns the alarm into a metric-math one.
      const age = handler.metric('IteratorAge', { statistic: Stats.MAXIMUM, period: Duration.minutes(1) });
      iteratorAge.push(age.with({ label: name }));
      this.alarm(`IteratorAge-${name}`, {
        metric: age,
        threshold: t.streamIteratorAgeSeconds * 1000,
        evaluationPeriods: t.streamIteratorAgeMinutes,
        description: `${trigger.function} is more than ${t.streamIteratorAgeSeconds} s behind the ${trigger.table} stream for ${t.streamIteratorAgeMinutes} minutes: deliveries are late.`,
      });

      const depth = failedRecords.metricApproximateNumberOfMessagesVisible({
        statistic: Stats.MAXIMUM,
        period: this.period,
      });
      deadLetters.push(depth.with({ label: name }));
      this.alarm(`DeadLetters-${name}`, {
        metric: depth,
        threshold: t.deadLetterMessages,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${trigger.table} stream records failed every retry of ${trigger.function} and wait in its dead-letter queue: redrive them once the cause is fixed.`,
      });
    }
    return { iteratorAge, deadLetters };
  }

  private functionAlarms(handlers: Handlers) {
    const t = this.thresholds;
    const errors: IMetric[] = [];
    const throttles: IMetric[] = [];
    const duration: IMetric[] = [];
    for (const name of Object.keys(handlers) as FunctionName[]) {
      const fn = handlers[name];
      const failed = fn.metricErrors({ statistic: Stats.SUM, period: this.period });
      const throttled = fn.metricThrottles({ statistic: Stats.SUM, period: this.period });
      errors.push(failed.with({ label: name }));
      throttles.push(throttled.with({ label: name }));
      duration.push(fn.metricDuration({ statistic: Stats.p(99), period: this.period, label: name }));
      this.alarm(`Errors-${name}`, {
        metric: failed,
        threshold: t.lambdaErrors,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${name} failed ${t.lambdaErrors} or more invocations in ${t.periodMinutes} minutes.`,
      });
      this.alarm(`Throttles-${name}`, {
        metric: throttled,
        threshold: t.lambdaThrottles,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${name} was throttled (concurrency exhausted) ${t.lambdaThrottles} or more times in ${t.periodMinutes} minutes.`,
      });
    }
    // Asynchronous (S3) invocations that exhausted Lambda's retries are gone: an upload never processed.
    for (const trigger of bucketTriggers) {
      this.alarm(`AsyncEventsDropped-${trigger.function}`, {
        metric: handlers[trigger.function].metric('AsyncEventsDropped', { statistic: Stats.SUM, period: this.period }),
        threshold: t.asyncEventsDropped,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `${trigger.function} dropped S3 notifications after Lambda's retries: those uploads stay pending.`,
      });
    }
    return { errors, throttles, duration };
  }

  private apiAlarms(httpApi: IHttpApi, webSocket: MonitoringProps['webSocket']) {
    const t = this.thresholds;
    const requests = httpApi.metricCount({ statistic: Stats.SUM, period: this.period, label: 'requests' });
    const clientErrors = httpApi.metricClientError({ statistic: Stats.SUM, period: this.period, label: '4xx' });
    const serverErrors = httpApi.metricServerError({ statistic: Stats.SUM, period: this.period, label: '5xx' });
    const rate = (errors: IMetric, label: string) =>
      new MathExpression({
        // Below the floor the rate is 0: a handful of requests says nothing.
        expression: `IF(requests >= ${t.httpMinRequests}, 100 * errors / requests, 0)`,
        usingMetrics: { requests, errors },
        period: this.period,
        label,
      });
    this.alarm('HttpServerErrorRate', {
      metric: rate(serverErrors, '5xx %'),
      threshold: t.httpServerErrorPercent,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `${t.httpServerErrorPercent}% or more of HTTP API requests answered 5xx in ${t.periodMinutes} minutes.`,
    });
    this.alarm('HttpClientErrorRate', {
      metric: rate(clientErrors, '4xx %'),
      threshold: t.httpClientErrorPercent,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `${t.httpClientErrorPercent}% or more of HTTP API requests answered 4xx in ${t.periodMinutes} minutes: broken clients, expired tokens, rate limits or probing.`,
    });

    const webSocketMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: webSocket.apiId, Stage: webSocket.stageName },
        statistic: Stats.SUM,
        period: this.period,
      });
    const integrationErrors = webSocketMetric('IntegrationError');
    const executionErrors = webSocketMetric('ExecutionError');
    this.alarm('WebSocketIntegrationErrors', {
      metric: new MathExpression({
        expression: 'SUM([integration, execution])',
        usingMetrics: { integration: integrationErrors, execution: executionErrors },
        period: this.period,
        label: 'integration + execution errors',
      }),
      threshold: t.webSocketIntegrationErrors,
      comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      description: `WebSocket routes failed to run their Lambda (errors, timeouts, throttles) ${t.webSocketIntegrationErrors} or more times in ${t.periodMinutes} minutes.`,
    });

    return {
      http: [requests, clientErrors, serverErrors],
      webSocket: [
        webSocketMetric('ConnectCount'),
        webSocketMetric('MessageCount'),
        webSocketMetric('ClientError'),
        integrationErrors,
        executionErrors,
      ],
    };
  }

  private tableAlarms(tables: Readonly<Record<TableKey, ITable>>): IMetric[] {
    const t = this.thresholds;
    const perTable: IMetric[] = [];
    for (const key of tableKeys) {
      const table = tables[key];
      const spec: TableSpec = tableSpecs[key];
      const indexNames = (spec.globalIndexes ?? []).map((index) => index.indexName);
      const usingMetrics: Record<string, IMetric> = {};
      for (const [i, indexName] of [undefined, ...indexNames].entries()) {
        for (const metricName of ['ReadThrottleEvents', 'WriteThrottleEvents']) {
          // Unique across tables too: the dashboard graphs every table's expression together.
          const id = `${key}_${metricName.startsWith('Read') ? 'r' : 'w'}${i}`;
          usingMetrics[id] = new Metric({
            namespace: 'AWS/DynamoDB',
            metricName,
            dimensionsMap: {
              TableName: table.tableName,
              ...(indexName === undefined ? {} : { GlobalSecondaryIndexName: indexName }),
            },
            statistic: Stats.SUM,
            period: this.period,
          });
        }
      }
      // Throttle metrics only exist while throttling happens; SUM over the list tolerates missing ones.
      const throttled = new MathExpression({
        expression: `SUM([${Object.keys(usingMetrics).join(', ')}])`,
        usingMetrics,
        period: this.period,
        label: key,
      });
      perTable.push(throttled);
      this.alarm(`DynamoDbThrottles-${key}`, {
        metric: throttled,
        threshold: t.dynamoDbThrottleEvents,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        description: `The ${key} table or its indexes throttled ${t.dynamoDbThrottleEvents} or more reads and writes in ${t.periodMinutes} minutes (hot partition or on-demand limits).`,
      });
    }
    return perTable;
  }

  private alarm(
    id: string,
    options: {
      readonly metric: IMetric;
      readonly threshold: number;
      readonly description: string;
      readonly evaluationPeriods?: number;
      readonly comparison?: ComparisonOperator;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric: options.metric,
      threshold: options.threshold,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      comparisonOperator: options.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
      // No data means no traffic, not trouble.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: `${options.description} ${runbook}`,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }

  private graph(title: string, left: IMetric[]): GraphWidget {
    return new GraphWidget({ title, left, width: 12, height: 6 });
  }
}

/** A handler metric as Powertools emits it: the namespace and the `service` dimension of shared/config/monitoring. */
function appMetric(metricName: string, period: Duration): Metric {
  return new Metric({
    namespace: metricsNamespace,
    metricName,
    dimensionsMap: { service: serviceName },
    statistic: Stats.SUM,
    period,
    label: metricName,
  });
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
