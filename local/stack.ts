import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import webPush from 'web-push';
import { type FunctionName, streamTriggers } from '#shared/config/functions';
import type { TableKey } from '#shared/config/tables';
import { createLocalDynamoDbClient } from './aws-local';
import { type LocalStackTiming, resolveTiming, streamTiming, type TimingModel } from './aws-timing';
import { createDeadLetterQueue, type DeadLetter } from './dead-letters';
import { startDynamoDbFaultProxy } from './dynamodb-faults';
import { type DynamoDbLocal, startDynamoDbLocal, waitForDynamoDb } from './dynamodb-local';
import { applyHandlerEnvironment, handlerEnvironment } from './environment';
import {
  awsFaultDefaults,
  createFaultInjector,
  directRecordFault,
  type FaultCounts,
  type FaultInjector,
  type FaultSettings,
  type PostFaultHook,
} from './faults';
import { createHttpGateway } from './http-gateway';
import { type AsyncInvocationStats, createLambdaInvokeService, localFunctionName } from './lambda-invoke';
import {
  createLambdaRuntime,
  type HandlerOverrides,
  type InjectedTimeout,
  type InvocationCount,
} from './lambda-runtime';
import { createLocalLogger, type LogLevel } from './log';
import { createManagementApi, createManagementApiCounts, type ManagementApiCounts } from './management-api';
import { generateMediaSigningKeyPair, startMediaCdn } from './media-cdn';
import { closeServer, listenOnLoopback } from './ports';
import { type PushServiceStandIn, startPushService } from './push-service';
import { startMediaS3 } from './s3/proxy';
import { createSecretsManager } from './secrets-manager';
import { type StreamPollerStats, type StreamTriggerBinding, startStreamPoller } from './stream-poller';
import { createLocalTables, type LocalTables } from './tables';
import { createLocalTokenIssuer, type IssuedToken } from './token-issuer';
import { createWebSocketGateway, type DropConnectionOptions, type WebSocketLimits } from './websocket-gateway';

export interface LocalStackOptions {
  /** HTTP API port; 0 picks a free one. Default 3000. */
  readonly httpPort?: number;
  /** WebSocket API (and `@connections` management API) port; 0 picks a free one. Default 3001. */
  readonly wsPort?: number;
  /** Port for the DynamoDB Local this stack spawns; 0 picks a free one. Default 8000. */
  readonly dynamoPort?: number;
  /** Use this running DynamoDB (tests share one) instead of spawning DynamoDB Local. */
  readonly dynamoEndpoint?: string;
  /** Prepended to every table's logical name; keeps stacks sharing one DynamoDB apart. */
  readonly tablePrefix?: string;
  /** Media uploads (S3 stand-in) port; 0 picks a free one. Default 3002. */
  readonly s3Port?: number;
  /** Media downloads (CloudFront stand-in) port; 0 picks a free one. Default 3003. */
  readonly cdnPort?: number;
  /** The push-service stand-in's port; 0 picks a free one. Default 3005. */
  readonly pushPort?: number;
  /** Pause before an asynchronous invocation's retry n: n times this (Lambda: about 1 and 2 minutes). Default 500 ms. */
  readonly asyncRetryDelayMs?: number;
  /** Persist DynamoDB tables, media objects and dead letters here; absent: in memory and a temporary directory. */
  readonly dataDir?: string;
  /** Level of the stack's own log lines and of the handlers' Powertools logger. Default WARN. */
  readonly logLevel?: LogLevel;
  /** Let Powertools metrics write EMF lines (off by default: they are noise locally). */
  readonly metrics?: boolean;
  /** Stream poller's pause after an empty poll. Default 20 ms, or the timing profile's (250 ms on AWS). */
  readonly streamPollIntervalMs?: number;
  /**
   * `'aws'`: wait as AWS does (local/aws-timing-profile.ts): Lambda's stream polling pace and the
   * stream's propagation, API Gateway's hops, Lambda's invoke overhead, DynamoDB's round trips, each
   * drawn per call; `{ profile?, seed? }` for a repeatable run or another profile. `'local'` (default):
   * nothing added, the 20 ms poller.
   */
  readonly timing?: LocalStackTiming;
  /** Shorter WebSocket timeouts for tests (the 29 s integration timeout included); API Gateway's quotas by default. */
  readonly webSocketLimits?: Partial<WebSocketLimits>;
  /** The HTTP API's integration timeout; 30 s as on AWS by default (tests shorten it). */
  readonly httpIntegrationTimeoutMs?: number;
  /** Replace catalog handlers (tests of the stack itself). */
  readonly handlerOverrides?: HandlerOverrides;
  /** Build and serve the web app on this port; 0 picks a free one. Absent: no web app (`npm start` passes 3004). */
  readonly webPort?: number;
  /** False: sends deliver nothing directly, fan-out from the stream does it all (`--no-fast-path`). Default true. */
  readonly directDelivery?: boolean;
  /** Replaces the writers' per-post timeout of direct delivery (tests on loaded machines). */
  readonly directPostTimeoutMs?: number;
  /** Chaos runs only: inject faults (local/faults.ts); absent, nothing is injected. */
  readonly faults?: LocalStackFaultOptions;
  /**
   * `--aws-faults`: DynamoDB and API Gateway fail as AWS does and DynamoDB Local never does. Handlers
   * reach DynamoDB through a proxy (local/dynamodb-faults.ts) that answers a write to an item of an
   * in-flight transaction with TransactionConflictException (modelled, always on with this option),
   * and throttles, answers batches in part and fails requests at the rates given (`true`: the rates
   * of `awsFaultDefaults`); postToConnection answers 429 at `postThrottle`; invocations are cut off
   * where they are at `lambdaTimeout`. Rates join `faults` in `stack.faults.settings`.
   */
  readonly awsFaults?: boolean | Partial<FaultSettings>;
  /** Benchmarks: each function's time on the thread, apart from its wall time (`InvocationCount.onThreadMs`). */
  readonly measureOnThreadTime?: boolean;
  /**
   * With AWS timing (default true): each function's CPU as Lambda sizes it by its memory, its time on the
   * thread here stretched by the profile's `lambdaCpu` over its memory (local/lambda-runtime.ts). False
   * runs every handler at this machine's speed, as the profile did before 2026-12-06.
   */
  readonly cpuByMemory?: boolean;
}

export interface LocalStackFaultOptions extends Partial<FaultSettings> {
  /** The dice; a seeded source makes a run repeatable. Default Math.random. */
  readonly random?: () => number;
}

/** The running stack's fault controls, present when `faults` was given. */
export interface LocalStackFaults {
  /** Change probabilities while the stack runs (e.g. all 0 before checking invariants). */
  readonly settings: FaultSettings;
  readonly counts: Readonly<FaultCounts>;
  /** The first chance of each fault kind hits (local/faults.ts `armEachOnce`). */
  armEachOnce(): void;
  /**
   * Stops DynamoDB Local and starts it again on the same port and data directory, `downMs` later.
   * Needs a stack that spawned its own DynamoDB Local with a `dataDir` (tables survive on disk).
   */
  restartDynamoDb(options?: { readonly downMs?: number }): Promise<void>;
}

/** What `<dataDir>/stack.json` holds while the stack runs: how tools (`npm run redrive`) reach it. */
export interface LocalStackDescription {
  readonly pid: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly callbackUrl: string;
  readonly dynamoEndpoint: string;
  /** The environment every handler runs with (local endpoints and dummy credentials only). */
  readonly handlerEnvironment: Readonly<Record<string, string>>;
}

export const stackDescriptionFile = 'stack.json';

export interface LocalStack {
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** The management API (`@connections`) endpoint: what WS_CALLBACK_URL holds. */
  readonly callbackUrl: string;
  readonly dynamoEndpoint: string;
  /** The S3 stand-in (what AWS_ENDPOINT_URL_S3 holds); Secrets Manager answers here too. */
  readonly s3Endpoint: string;
  /** s3rver's own port behind the verifying proxy: it answers nothing without the stand-ins' origin key. */
  readonly s3BackendUrl: string;
  readonly mediaBucket: string;
  /** The CloudFront stand-in's base URL, no trailing slash (MEDIA_CDN_URL). */
  readonly mediaCdnUrl: string;
  /** The web app's base URL, when `webPort` asked for it. */
  readonly webUrl?: string;
  /** The push-service stand-in: what it accepted (encrypted) and refused; scripted answers. */
  readonly pushService: PushServiceStandIn;
  /** The VAPID public key the stack generated at start (what `GET /push/vapid-public-key` answers). */
  readonly vapidPublicKey: string;
  /** Asynchronous invocations (pushes) so far. */
  readonly asyncInvocations: Readonly<AsyncInvocationStats>;
  /** Resolves once every asynchronous invocation accepted so far succeeded or gave up, retries included. */
  asyncInvocationsSettled(): Promise<void>;
  readonly tables: LocalTables;
  /** The local Cognito stand-in, without the HTTP round trip. */
  issueToken(username: string): Promise<IssuedToken>;
  connectionIds(): string[];
  dropConnection(connectionId: string, options: DropConnectionOptions): boolean;
  readonly streamStats: Readonly<StreamPollerStats>;
  /** How long the fan-out's stream trigger pauses after a poll that found nothing. */
  readonly streamIdleSleepMs: number;
  /** Holds every stream trigger after its current batch (records wait in the stream) until `resumeStreams`. */
  pauseStreams(): Promise<void>;
  resumeStreams(): void;
  /** Resolves once every stream record written before the call has been through its function. */
  streamsSettled(): Promise<void>;
  /** Lambda invocations so far, per function (benchmarks take differences). */
  invocationCounts(): Partial<Record<FunctionName, InvocationCount>>;
  /** `@connections` calls so far: postToConnection and friends. */
  readonly managementApiCounts: Readonly<ManagementApiCounts>;
  readonly deadLetters: readonly DeadLetter[];
  /** Fault controls, when the stack was started with `faults`. */
  readonly faults?: LocalStackFaults;
  /** The timing profile and seed, when the stack was started with AWS timing. */
  readonly timing?: Pick<TimingModel, 'profile' | 'seed'>;
  /** True when handlers wait what Lambda's memory-sized CPU adds to their work (`cpuByMemory`). */
  readonly cpuByMemory: boolean;
  /** Stops everything this stack started (Java included); safe to call twice. */
  stop(): Promise<void>;
}

export const defaultPorts = { http: 3000, ws: 3001, s3: 3002, cdn: 3003, web: 3004, push: 3005, dynamo: 8000 } as const;
/**
 * Every service port of a stack on a free one (DynamoDB and the web app apart): a stack started by a test,
 * the bench or the chaos run must never take a default port that `npm start` or another run holds.
 */
export const anyFreeServicePorts = {
  httpPort: 0,
  wsPort: 0,
  s3Port: 0,
  cdnPort: 0,
  pushPort: 0,
} as const satisfies Record<Exclude<Extract<keyof LocalStackOptions, `${string}Port`>, 'dynamoPort' | 'webPort'>, 0>;
export const defaultTablePrefix = 'parley-local-';
/** The Secrets Manager secret holding the CloudFront private key, as MEDIA_SIGNING_KEY_SECRET names it. */
export const mediaSigningKeySecretName = 'parley-local/media-signing-key';
/** The Secrets Manager secret holding the VAPID private key, as VAPID_PRIVATE_KEY_SECRET names it. */
export const vapidPrivateKeySecretName = 'parley-local/vapid-private-key';

let runningStack = false;

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (runningStack) throw new Error('A local stack is already running in this process; stop it first.');
  runningStack = true;
  const logLevel = options.logLevel ?? 'WARN';
  const logger = createLocalLogger(logLevel);
  // Undo steps in reverse order of start, on stop and on a failed start alike.
  const stopSteps: Array<{ readonly name: string; readonly stop: () => Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    for (const step of stopSteps.splice(0).reverse()) {
      logger.debug('stopping', { step: step.name });
      await step.stop().catch((error: unknown) => logger.error('stop step failed', { step: step.name, error }));
    }
    runningStack = false;
  };

  try {
    const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
    let dynamoEndpoint = options.dynamoEndpoint;
    const dynamoDataDir = dataDir === undefined ? undefined : join(dataDir, 'dynamodb');
    // Replaced by a fault-injected restart; stop() stops whichever runs.
    let dynamo: DynamoDbLocal | undefined;
    if (dynamoEndpoint === undefined) {
      if (dynamoDataDir !== undefined) mkdirSync(dynamoDataDir, { recursive: true });
      const started = await startDynamoDbLocal({
        port: options.dynamoPort ?? defaultPorts.dynamo,
        ...(dynamoDataDir === undefined ? {} : { dataDir: dynamoDataDir }),
      });
      dynamo = started;
      stopSteps.push({ name: 'DynamoDB Local', stop: async () => dynamo?.stop() });
      dynamoEndpoint = started.endpoint;
    } else {
      await waitForDynamoDb(dynamoEndpoint);
    }
    logger.info('DynamoDB ready', { endpoint: dynamoEndpoint });

    const dynamoClient = createLocalDynamoDbClient(dynamoEndpoint);
    const tables = await createLocalTables(dynamoClient, options.tablePrefix ?? defaultTablePrefix).finally(() =>
      dynamoClient.destroy(),
    );

    const httpServer = createServer();
    const wsServer = createServer();
    const [httpUrl, wsHttpUrl] = await Promise.all([
      listenOnLoopback(httpServer, options.httpPort ?? defaultPorts.http),
      listenOnLoopback(wsServer, options.wsPort ?? defaultPorts.ws),
    ]);
    stopSteps.push({ name: 'HTTP server', stop: () => closeServer(httpServer) });
    stopSteps.push({ name: 'WebSocket server', stop: () => closeServer(wsServer) });

    const tokenIssuer = await createLocalTokenIssuer(httpUrl);
    const timing = resolveTiming(options.timing);
    const timingOption = timing === undefined ? {} : { timing };
    const cpuByMemory = options.cpuByMemory !== false && timing !== undefined;
    // Created before the media stand-ins, which invoke and dead-letter through them; nothing is imported yet.
    const awsFaults =
      options.awsFaults === undefined || options.awsFaults === false
        ? undefined
        : { ...awsFaultDefaults, ...(options.awsFaults === true ? {} : options.awsFaults) };
    const faultInjector =
      options.faults === undefined && awsFaults === undefined
        ? undefined
        : createFaultInjector({ ...awsFaults, ...options.faults }, options.faults?.random);
    // Handlers reach DynamoDB through the fault proxy; the stack's own reads and the stream poller do not.
    let handlerDynamoEndpoint = dynamoEndpoint;
    if (awsFaults !== undefined && faultInjector !== undefined) {
      const proxy = await startDynamoDbFaultProxy({
        upstream: dynamoEndpoint,
        tableNames: tableNamesOf(tables),
        injector: faultInjector,
        logger,
      });
      stopSteps.push({ name: 'DynamoDB fault proxy', stop: () => proxy.stop() });
      handlerDynamoEndpoint = proxy.endpoint;
    }
    const runtime = createLambdaRuntime({
      logger,
      tableName: (key) => tables[key].tableName,
      ...(faultInjector === undefined
        ? {}
        : { dynamoDbFault: directRecordFault(faultInjector, tables.directDeliveries.tableName) }),
      ...(options.handlerOverrides === undefined ? {} : { overrides: options.handlerOverrides }),
      ...(faultInjector === undefined ? {} : { timeoutAt: injectedTimeouts(faultInjector) }),
      ...timingOption,
      ...(options.measureOnThreadTime ? { measureOnThreadTime: true } : {}),
      ...(cpuByMemory && timing !== undefined ? { cpuByMemory: timing.profile.lambdaCpu } : {}),
    });
    const deadLetters = createDeadLetterQueue({
      logger,
      ...(dataDir === undefined ? {} : { filePath: join(dataDir, 'dead-letters.jsonl') }),
    });

    // A new key pair each start: signed download URLs only live minutes, so none outlives a restart.
    const signingKeys = generateMediaSigningKeyPair();
    // Likewise a new VAPID pair: subscriptions made against the old key would be refused by real push services.
    const vapidKeys = webPush.generateVAPIDKeys();
    const secretsManager = createSecretsManager({
      secrets: {
        [mediaSigningKeySecretName]: signingKeys.privateKeyPem,
        [vapidPrivateKeySecretName]: vapidKeys.privateKey,
      },
      logger,
    });
    const lambdaInvoke = createLambdaInvokeService({
      invoke: (functionName, event) => runtime.invoke(functionName, event),
      retryDelayMs: options.asyncRetryDelayMs ?? 500,
      logger,
    });
    stopSteps.push({ name: 'asynchronous invocations', stop: async () => lambdaInvoke.stop() });
    const pushService = await startPushService({
      port: options.pushPort ?? defaultPorts.push,
      vapidPublicKey: vapidKeys.publicKey,
      logger,
    });
    stopSteps.push({ name: 'push service', stop: () => pushService.stop() });
    const s3DataDir = dataDir === undefined ? undefined : join(dataDir, 's3');
    const mediaS3 = await startMediaS3({
      port: options.s3Port ?? defaultPorts.s3,
      ...(s3DataDir === undefined ? {} : { directory: s3DataDir }),
      logger,
      invoke: (functionName, event) => runtime.invoke(functionName, event),
      deadLetters,
      services: [secretsManager, lambdaInvoke],
    });
    stopSteps.push({ name: 'media S3', stop: () => mediaS3.stop() });
    const mediaCdn = await startMediaCdn({
      port: options.cdnPort ?? defaultPorts.cdn,
      origin: mediaS3.origin,
      keyPairId: signingKeys.keyPairId,
      publicKeyPem: signingKeys.publicKeyPem,
      logger,
    });
    stopSteps.push({ name: 'media CDN', stop: () => mediaCdn.stop() });

    const environment = handlerEnvironment({
      tables,
      callbackUrl: wsHttpUrl,
      jwt: tokenIssuer.settings,
      dynamoEndpoint: handlerDynamoEndpoint,
      logLevel,
      metricsEnabled: options.metrics ?? false,
      ...(options.directDelivery === undefined ? {} : { directDelivery: options.directDelivery }),
      ...(options.directPostTimeoutMs === undefined ? {} : { directPostTimeoutMs: options.directPostTimeoutMs }),
      media: {
        s3Endpoint: mediaS3.endpoint,
        secretsManagerEndpoint: mediaS3.endpoint,
        bucket: mediaS3.bucket,
        cdnUrl: mediaCdn.url,
        keyPairId: signingKeys.keyPairId,
        signingKeySecret: mediaSigningKeySecretName,
      },
      push: {
        lambdaEndpoint: mediaS3.endpoint,
        vapidPublicKey: vapidKeys.publicKey,
        vapidPrivateKeySecret: vapidPrivateKeySecretName,
        pushSendFunction: localFunctionName('pushSend'),
        localPushOrigin: pushService.origin,
      },
    });
    applyHandlerEnvironment(environment);

    httpServer.on(
      'request',
      createHttpGateway({
        runtime,
        tokenIssuer,
        logger,
        ...timingOption,
        ...(options.httpIntegrationTimeoutMs === undefined
          ? {}
          : { integrationTimeoutMs: options.httpIntegrationTimeoutMs }),
      }),
    );
    const webSocketGateway = createWebSocketGateway({
      runtime,
      logger,
      ...timingOption,
      ...(options.webSocketLimits === undefined ? {} : { limits: options.webSocketLimits }),
    });
    const managementApiCounts = createManagementApiCounts();
    const postFault: PostFaultHook | undefined =
      faultInjector &&
      ((connectionId) => {
        if (webSocketGateway.describe(connectionId) !== undefined && faultInjector.roll('postGone')) {
          // A real 410 means the socket is gone: cut it (with or without $disconnect), then the post finds it gone.
          webSocketGateway.dropConnection(connectionId, { notify: faultInjector.random() < 0.5 });
          return undefined;
        }
        if (faultInjector.roll('postThrottle')) return 'throttled';
        if (!faultInjector.roll('postError')) return undefined;
        return faultInjector.random() < faultInjector.settings.postErrorAfterDelivery ? 'errorAfterDelivery' : 'error';
      });
    wsServer.on('request', createManagementApi(webSocketGateway, logger, managementApiCounts, postFault, timing));
    wsServer.on('upgrade', webSocketGateway.handleUpgrade);
    stopSteps.push({ name: 'WebSocket connections', stop: () => webSocketGateway.close() });

    const streamPoller = await startStreamPoller({
      endpoint: dynamoEndpoint,
      bindings: streamTriggers.map((trigger): StreamTriggerBinding => {
        const table = tables[trigger.table];
        if (table.streamArn === undefined) throw new Error(`Table ${trigger.table} has a trigger but no stream`);
        return {
          trigger,
          streamArn: table.streamArn,
          // A table created by this run is read from its start: nothing written after start-up is lost.
          startingPosition: table.createdNow ? 'TRIM_HORIZON' : trigger.startingPosition,
          invoke: (event) => runtime.invoke(trigger.function, event),
        };
      }),
      deadLetters,
      logger,
      ...streamTiming(options.streamPollIntervalMs, timing),
      ...(faultInjector === undefined ? {} : { duplicateBatch: () => faultInjector.roll('duplicateBatch') }),
    });
    stopSteps.push({ name: 'stream poller', stop: () => streamPoller.stop() });

    const wsUrl = wsHttpUrl.replace(/^http/, 'ws');
    let webUrl: string | undefined;
    if (options.webPort !== undefined) {
      // Loaded on demand: stacks without the web app never import Vite.
      const { startWebApp } = await import('./web-app');
      const webApp = await startWebApp({ port: options.webPort, httpUrl, wsUrl, logger, logLevel });
      stopSteps.push({ name: 'web app', stop: () => webApp.stop() });
      webUrl = webApp.url;
    }

    if (dataDir !== undefined) {
      const descriptionPath = join(dataDir, stackDescriptionFile);
      const description: LocalStackDescription = {
        pid: process.pid,
        httpUrl,
        wsUrl,
        callbackUrl: wsHttpUrl,
        dynamoEndpoint,
        handlerEnvironment: environment,
      };
      writeFileSync(descriptionPath, `${JSON.stringify(description, null, 2)}\n`);
      stopSteps.push({ name: 'stack description', stop: async () => rmSync(descriptionPath, { force: true }) });
    }

    let restarting = false;
    const faults: LocalStackFaults | undefined = faultInjector && {
      settings: faultInjector.settings,
      counts: faultInjector.counts,
      armEachOnce: () => faultInjector.armEachOnce(),
      async restartDynamoDb({ downMs = 0 } = {}) {
        const running = dynamo;
        if (running === undefined || dynamoDataDir === undefined) {
          throw new Error('restartDynamoDb needs a stack that runs its own DynamoDB Local with a dataDir');
        }
        if (restarting) throw new Error('DynamoDB Local is already restarting');
        restarting = true;
        try {
          await running.stop();
          faultInjector.counts.dynamoDbRestarts += 1;
          if (downMs > 0) await sleep(downMs);
          // Same port: every client (handlers, poller) keeps its endpoint and simply retries.
          dynamo = await startDynamoDbLocal({ port: Number(new URL(running.endpoint).port), dataDir: dynamoDataDir });
        } finally {
          restarting = false;
        }
      },
    };

    return {
      httpUrl,
      wsUrl,
      callbackUrl: wsHttpUrl,
      dynamoEndpoint,
      s3Endpoint: mediaS3.endpoint,
      s3BackendUrl: mediaS3.backendUrl,
      mediaBucket: mediaS3.bucket,
      mediaCdnUrl: mediaCdn.url,
      ...(webUrl === undefined ? {} : { webUrl }),
      pushService,
      vapidPublicKey: vapidKeys.publicKey,
      asyncInvocations: lambdaInvoke.stats,
      asyncInvocationsSettled: () => lambdaInvoke.settled(),
      tables,
      issueToken: (username) => tokenIssuer.issue(username),
      connectionIds: () => webSocketGateway.connectionIds(),
      dropConnection: (connectionId, dropOptions) => webSocketGateway.dropConnection(connectionId, dropOptions),
      streamStats: streamPoller.stats,
      streamIdleSleepMs: streamPoller.idleSleepMs,
      pauseStreams: () => streamPoller.pause(),
      resumeStreams: () => streamPoller.resume(),
      streamsSettled: () => streamPoller.settled(),
      invocationCounts: () => runtime.invocationCounts(),
      managementApiCounts,
      deadLetters: deadLetters.entries,
      ...(faults === undefined ? {} : { faults }),
      ...(timing === undefined ? {} : { timing: { profile: timing.profile, seed: timing.seed } }),
      cpuByMemory,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function tableNamesOf(tables: LocalTables): Record<TableKey, string> {
  return Object.fromEntries(Object.entries(tables).map(([key, table]) => [key, table.tableName])) as Record<
    TableKey,
    string
  >;
}

/** `lambdaTimeout` per AWS call of an invocation; where on the call it falls is a coin toss. */
function injectedTimeouts(injector: FaultInjector): () => InjectedTimeout | undefined {
  return () => {
    if (!injector.roll('lambdaTimeout')) return undefined;
    return injector.random() < 0.5 ? 'beforeSend' : 'afterEffect';
  };
}
