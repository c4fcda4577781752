import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';
import { type WebConfig, webConfigPath } from '#shared/config/web';
import { wildcardResourceFinding } from './lambda-function';

export interface WebAppProps {
  /** Receives the bucket's S3 server access logs (`web/s3/`) and the distribution's standard logs (`web/cloudfront/`). */
  readonly accessLogsBucket: IBucket;
  /**
   * What happens to the site bucket when it leaves the stack. DESTROY also empties it first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Description given to CDK's BucketDeployment handler, which has none of its own. */
export const deploymentHandlerDescription =
  'Deploy time: uploads the Parley web app build and its config.json (CDK BucketDeployment)';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const webRoot = join(repositoryRoot, 'web');
// Vite's default `build.assetsDir`: file names there carry a content hash, so they never change.
const hashedAssets = 'assets/*';

/**
 * The web chat app: a private bucket behind CloudFront (origin access control), serving the Vite
 * build of `web/` with every unknown path falling back to `index.html`, so `/callback` and deep
 * links reach the app's router.
 *
 * Cognito needs the site's URL for its redirect URIs and the app's `/config.json` needs Cognito's
 * client id: build this first, hand `url` to `Auth`, then `publish` the config once the APIs exist.
 */
export class WebApp extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  /** `https://{distribution domain}`, no trailing slash. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: WebAppProps) {
    super(scope, id);
    // Access logs delivered under a bucket policy, not the legacy ACL; context must precede every child.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: 'web/s3/',
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });

    const securityHeaders = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Parley web app: HSTS, nosniff, no framing, origin-only referrer',
      securityHeadersBehavior: {
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        // Only directives that cannot break the app: which hosts it fetches from is the app's own business.
        contentSecurityPolicy: {
          contentSecurityPolicy: "frame-ancestors 'none'; base-uri 'self'; object-src 'none'",
          override: true,
        },
      },
    });

    // An unknown key answers 403 through origin access control (no ListBucket): the app's router takes it.
    const spaFallback = (httpStatus: number) => ({
      httpStatus,
      responseHttpStatus: 200,
      responsePagePath: '/index.html',
      ttl: Duration.seconds(10),
    });
    this.distribution = new Distribution(this, 'Cdn', {
      comment: 'Parley web app',
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: securityHeaders,
        compress: true,
      },
      errorResponses: [spaFallback(403), spaFallback(404)],
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: props.accessLogsBucket,
      logFilePrefix: 'web/cloudfront/',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        'The web app is a public sign-in page and static files for chat members anywhere; there is no country to block.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'Only static, public build output sits behind it (no API, no user data); a web ACL would bill every request without guarding anything.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'Served on the default cloudfront.net certificate, which CloudFront pins to its own TLS policy; a custom domain with an ACM certificate is needed to require TLSv1.2_2021.',
    });
    this.url = `https://${this.distribution.distributionDomainName}`;
  }

  /**
   * Uploads the Vite build of `web/` and `/config.json` holding `config`, whose deploy-time values
   * (API URLs, client id) resolve when the stack deploys, then invalidates the distribution.
   */
  publish(config: WebConfig): void {
    const build = webAppBuild(this);
    const app = Source.bucket(build.bucket, build.s3ObjectKey);
    const logs = new LogGroup(this, 'DeploymentLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // An own role rather than the default one: no AWSLambdaBasicExecutionRole, logs only to this group.
    const role = new Role(this, 'DeploymentRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Parley web app: uploads the build and config.json at deploy time',
    });
    logs.grantWrite(role);

    // Hashed files first, kept across releases: a tab still on the previous index.html can load its chunks.
    const assets = new BucketDeployment(this, 'DeployAssets', {
      sources: [app],
      destinationBucket: this.bucket,
      exclude: ['*'],
      include: [hashedAssets],
      prune: false,
      cacheControl: [CacheControl.setPublic(), CacheControl.maxAge(Duration.days(365)), CacheControl.immutable()],
      role,
      logGroup: logs,
    });
    // The shell after them, revalidated on every load so a release shows at once; config.json last, so it wins.
    const shell = new BucketDeployment(this, 'DeployShell', {
      sources: [app, Source.jsonData(webConfigPath.slice(1), config, { escape: true })],
      destinationBucket: this.bucket,
      // Excluded keys are also kept from pruning: the hashed assets stay.
      exclude: [hashedAssets],
      prune: true,
      cacheControl: [CacheControl.noCache()],
      distribution: this.distribution,
      distributionPaths: ['/*'],
      role,
      logGroup: logs,
    });
    shell.node.addDependency(assets);
    // Every BucketDeployment adds an AWS CLI layer, but the shared handler made by the first uses only the first's.
    shell.node.tryRemoveChild('AwsCliLayer');

    // What CDK's BucketDeployment grants its handler, which runs only while the stack deploys.
    const findings: Record<string, string> = {
      [wildcardResourceFinding(this, build.bucket.arnForObjects('*'))]:
        'Reads the build and config.json zips from the CDK asset bucket, whose keys are content hashes known only at synth.',
      [wildcardResourceFinding(this, this.bucket.arnForObjects('*'))]:
        'Syncs the whole site bucket: it writes every file of the build and prunes files of past releases, whatever their keys.',
      'AwsSolutions-IAM5[Resource::*]':
        'CloudFront CreateInvalidation and GetInvalidation take no resource ARN narrower than the distribution list of the account.',
      'AwsSolutions-IAM5[Action::s3:GetObject*]':
        'S3 read grant of CDK (GetObject, its ACL, tagging and versions) on the asset bucket and the site bucket only, for aws s3 sync.',
      'AwsSolutions-IAM5[Action::s3:GetBucket*]':
        'aws s3 sync reads bucket settings (location, versioning) of the asset bucket and the site bucket only.',
      'AwsSolutions-IAM5[Action::s3:List*]':
        'aws s3 sync lists the site bucket to find files to prune, and the asset bucket to read the zips; no other bucket.',
      'AwsSolutions-IAM5[Action::s3:DeleteObject*]':
        'Pruning deletes files of past releases from the site bucket; the grant covers no other bucket.',
      'AwsSolutions-IAM5[Action::s3:Abort*]':
        'Aborting its own failed multipart uploads to the site bucket, so an interrupted deploy leaves no parts behind.',
    };
    for (const [id, reason] of Object.entries(findings)) Validations.of(role).acknowledge({ id, reason });
    // CDK's handler is a stack-wide singleton whose id starts with its purpose.
    const handler = Stack.of(this).node.children.find((child) =>
      child.node.id.startsWith('Custom::CDKBucketDeployment'),
    );
    if (handler) {
      const resource = handler.node.defaultChild;
      if (resource instanceof CfnFunction) resource.description = deploymentHandlerDescription;
      Validations.of(handler).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          "CDK's BucketDeployment handler pins Python 3.13 to match the AWS CLI layer it bundles; it runs only while the stack deploys.",
      });
    }
  }
}

/**
 * The Vite build of `web/` (it may import `client/` and `shared/`), built on this machine when the
 * stack is bundled. The asset hash is the output's: a change anywhere the app draws from ships,
 * and nothing else does. Stacks not bundled (`cdk ls`, tests) skip the build.
 */
function webAppBuild(scope: Construct): Asset {
  return new Asset(scope, 'Build', {
    path: repositoryRoot,
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Fallback only: local bundling below either builds or fails the synth.
      image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
      environment: { npm_config_cache: '/tmp/npm-cache' },
      command: [
        'bash',
        '-c',
        // A copy without node_modules: npm ci must not write Linux packages into the mounted checkout.
        'mkdir /tmp/src && tar -C /asset-input --exclude=./node_modules --exclude=./cdk.out -cf - . | tar -C /tmp/src -xf - && cd /tmp/src && npm ci --no-audit --no-fund && npx vite build web --outDir /asset-output --emptyOutDir',
      ],
      local: {
        tryBundle(outputDir: string): boolean {
          buildWebApp(outputDir);
          return true;
        },
      },
    },
  });
}

/** Runs `vite build web` into `outputDir`; throws with the reason when there is no app or the build fails. */
function buildWebApp(outputDir: string): void {
  if (!existsSync(join(webRoot, 'index.html'))) {
    throw new Error(
      `The web app is missing: ${join(webRoot, 'index.html')} does not exist. The stack serves it from CloudFront and cannot be synthesized without it.`,
    );
  }
  const command = ['vite', 'build', 'web', '--outDir', outputDir, '--emptyOutDir'];
  // stdout to stderr: `cdk synth` prints the template on stdout; a production build whatever NODE_ENV the caller has (vitest sets test).
  const result = spawnSync('npx', command, {
    cwd: repositoryRoot,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', process.stderr, 'inherit'],
  });
  if (result.error) throw new Error(`Could not run \`npx ${command.join(' ')}\`: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `Building the web app failed: \`npx ${command.join(' ')}\` exited with ${result.status ?? result.signal}; its output is above.`,
    );
  }
  if (!existsSync(join(outputDir, 'index.html'))) {
    throw new Error(`Building the web app produced no index.html in ${outputDir}.`);
  }
}
