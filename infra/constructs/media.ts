import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachedMethods,
  CachePolicy,
  Distribution,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  HttpVersion,
  KeyGroup,
  type OriginBindConfig,
  type OriginBindOptions,
  PriceClass,
  PublicKey,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  Signing,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  EventType,
  HttpMethods,
  type IBucket,
  ObjectOwnership,
} from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct, type IConstruct } from 'constructs';
import { bucketTriggers } from '#shared/config/functions';
import { media, mediaResponseHeaders } from '#shared/config/media';
import { generatedKeyPair } from './generated-key-pair';
import type { Handlers, MediaEndpoint } from './lambda-function';

export interface MediaProps {
  /**
   * What happens to the media and log buckets when they leave the stack. DESTROY also empties
   * them first, so a throwaway stack deletes cleanly.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long S3 access logs and CloudFront access logs are kept.
   * @default 90 days: long enough to investigate a leaked download URL after the fact
   */
  readonly accessLogRetention?: Duration;
}

// cdk-nag names the managed policy in the finding: the acknowledgement covers that policy only.
const basicExecutionRoleFinding =
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';

/** Custom resource type of the signing key pair; its `PublicKey` attribute is the PEM public key. */
export const signingKeyResourceType = 'Custom::ParleyMediaSigningKey';

/**
 * Attachments storage and delivery: a private bucket that browsers upload to with presigned
 * PUTs, and a CloudFront distribution that serves only processed objects, only to URLs signed
 * with a key pair made at deploy time.
 *
 * Handlers need the bucket, CDN URL and key in their environment, and the upload notification
 * needs a handler: build this first, then `addTriggers` once the handlers exist.
 */
export class Media extends Construct implements MediaEndpoint {
  readonly bucket: Bucket;
  /** S3 server access logs (`s3/`) and CloudFront standard logs (`cloudfront/`). */
  readonly logsBucket: Bucket;
  readonly distribution: Distribution;
  readonly signingKey: MediaSigningKey;
  readonly cdnUrl: string;
  readonly keyPairId: string;
  readonly signingKeySecret: Secret;

  constructor(scope: Construct, id: string, props: MediaProps = {}) {
    super(scope, id);
    // Access logs delivered under a bucket policy, not the legacy ACL; context must precede every child.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const destroy = removalPolicy === RemovalPolicy.DESTROY;

    this.logsBucket = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      // CloudFront standard logging writes through ACLs; the bucket owner still owns every log object.
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'ExpireLogs', expiration: props.accessLogRetention ?? Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects: destroy,
    });
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 's3/',
      cors: [
        {
          allowedOrigins: [...media.uploadCors.allowedOrigins],
          allowedMethods: media.uploadCors.allowedMethods.map((method) => HttpMethods[method]),
          allowedHeaders: [...media.uploadCors.allowedHeaders],
          exposedHeaders: [...media.uploadCors.exposedHeaders],
          maxAge: media.uploadCors.maxAgeSeconds,
        },
      ],
      lifecycleRules: [
        {
          // An upload is processed within minutes; whatever is left was never sent or failed.
          id: 'ExpireUploads',
          prefix: media.uploadPrefix,
          expiration: Duration.days(media.unsentRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // Processed objects keep the `unsent` tag until a message carries them.
          id: 'ExpireUnsentMedia',
          tagFilters: { [media.retentionTag.key]: media.retentionTag.unsent },
          expiration: Duration.days(media.unsentRetentionDays),
        },
      ],
      removalPolicy,
      autoDeleteObjects: destroy,
    });

    this.signingKey = new MediaSigningKey(this, 'SigningKey');
    this.signingKeySecret = this.signingKey.secret;
    this.keyPairId = this.signingKey.publicKey.publicKeyId;

    this.distribution = new Distribution(this, 'Cdn', {
      comment: 'Parley media: processed attachments, signed URLs only',
      defaultBehavior: {
        origin: new PrefixOacOrigin(this.bucket, media.mediaPrefix),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
        cachedMethods: CachedMethods.CACHE_GET_HEAD,
        // Keys are unique per attachment and never rewritten; no query string, header or cookie in the key.
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: mediaHeadersPolicy(this),
        trustedKeyGroups: [this.signingKey.keyGroup],
        compress: true,
      },
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'cloudfront/',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason:
        'Chat members are anywhere; every object needs a URL signed for one member after a membership check, so there is no country to block.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR2',
      reason:
        'Every request needs a signature from the trusted key group, checked at the edge before S3 is reached; a web ACL would bill every request without guarding more.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR4',
      reason:
        'Served on the default cloudfront.net certificate, which CloudFront pins to its own TLS policy; a custom domain with an ACM certificate is needed to require TLSv1.2_2021.',
    });
    this.cdnUrl = `https://${this.distribution.distributionDomainName}`;
  }

  /** Notifies each `bucketTriggers` handler of objects created under its prefix. */
  addTriggers(handlers: Handlers): void {
    for (const trigger of bucketTriggers) {
      this.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(handlers[trigger.function]), {
        prefix: trigger.prefix,
      });
    }
    const notificationsHandler = stackSingleton(this, 'BucketNotificationsHandler');
    if (notificationsHandler) {
      Validations.of(notificationsHandler).acknowledge({
        id: basicExecutionRoleFinding,
        reason:
          "CDK's deploy-time BucketNotificationsHandler uses AWSLambdaBasicExecutionRole to write its own logs; it runs only while the stack deploys.",
      });
    }
  }
}

/**
 * `mediaResponseHeaders` as a CloudFront policy, overriding whatever the object carries: nosniff keeps
 * browsers from running uploaded bytes as another type, the CSP sandboxes anything opened from the
 * media origin, CORS lets web clients fetch(). The local CDN sends the same values.
 */
function mediaHeadersPolicy(scope: Construct): ResponseHeadersPolicy {
  const { security, cors } = mediaResponseHeaders;
  const frameOption = { DENY: HeadersFrameOption.DENY, SAMEORIGIN: HeadersFrameOption.SAMEORIGIN }[
    security['x-frame-options']
  ];
  const referrerPolicy = Object.values(HeadersReferrerPolicy).find((value) => value === security['referrer-policy']);
  if (referrerPolicy === undefined) throw new Error(`Unknown referrer policy ${security['referrer-policy']}`);
  if (security['x-content-type-options'] !== 'nosniff') throw new Error('CloudFront can only set nosniff');
  return new ResponseHeadersPolicy(scope, 'ResponseHeaders', {
    comment: 'Parley media: nosniff, a sandboxing CSP, no framing, no referrer, CORS for fetch()',
    securityHeadersBehavior: {
      contentTypeOptions: { override: true },
      contentSecurityPolicy: { contentSecurityPolicy: security['content-security-policy'], override: true },
      frameOptions: { frameOption, override: true },
      referrerPolicy: { referrerPolicy, override: true },
      strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
    },
    corsBehavior: {
      accessControlAllowCredentials: false,
      accessControlAllowOrigins: [...cors.allowOrigins],
      accessControlAllowMethods: [...cors.allowMethods],
      accessControlAllowHeaders: [...cors.allowHeaders],
      accessControlExposeHeaders: [...cors.exposeHeaders],
      accessControlMaxAge: Duration.seconds(cors.maxAgeSeconds),
      originOverride: true,
    },
  });
}

/**
 * The signing key pair for download URLs, made at deploy time with no manual step: a custom
 * resource generates an RSA 2048 pair, keeps the private key in a secret and hands CloudFront
 * the public key, which becomes the only member of the distribution's trusted key group.
 */
export class MediaSigningKey extends Construct {
  /** The private key (PEM). */
  readonly secret: Secret;
  readonly publicKey: PublicKey;
  readonly keyGroup: KeyGroup;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const keyPair = generatedKeyPair(this, {
      secretId: 'Secret',
      secretDescription: 'Parley: private key (PEM) that signs media download URLs; written at deploy time',
      noRotationReason:
        'A CloudFront key rotates by adding a new public key to the key group before signing with it; single-secret rotation cannot, so a new pair comes with a new custom resource.',
      generatorEntry: 'infra/handlers/media-signing-key.ts',
      generatorDescription: 'Deploy time: creates the media signing key pair, keeps the private key in its secret',
      generatorMemoryMb: 512,
      roleLabel: 'Parley media signing key',
      resourceType: signingKeyResourceType,
    });
    this.secret = keyPair.secret;
    this.publicKey = new PublicKey(this, 'PublicKey', {
      encodedKey: keyPair.publicKey,
      comment: 'Parley media download URLs',
    });
    this.keyGroup = new KeyGroup(this, 'KeyGroup', {
      items: [this.publicKey],
      comment: 'Parley media download URLs',
    });
  }
}

/**
 * An S3 origin behind origin access control whose bucket policy lets the distribution read one
 * prefix only: uploads stay unreadable through the CDN even with a valid signature.
 */
class PrefixOacOrigin extends S3BucketOrigin {
  private readonly originBucket: IBucket;
  private readonly readablePrefix: string;

  constructor(bucket: IBucket, readablePrefix: string) {
    super(bucket);
    this.originBucket = bucket;
    this.readablePrefix = readablePrefix;
  }

  override bind(scope: Construct, options: OriginBindOptions): OriginBindConfig {
    const accessControl = new S3OriginAccessControl(scope, 'S3OriginAccessControl', { signing: Signing.SIGV4_ALWAYS });
    this.originBucket.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        resources: [this.originBucket.arnForObjects(`${this.readablePrefix}*`)],
        conditions: {
          StringEquals: {
            'AWS:SourceArn': `arn:${Aws.PARTITION}:cloudfront::${Aws.ACCOUNT_ID}:distribution/${options.distributionId}`,
          },
        },
      }),
    );
    const config = super.bind(scope, options);
    return {
      ...config,
      originProperty: config.originProperty && {
        ...config.originProperty,
        originAccessControlId: accessControl.originAccessControlId,
      },
    };
  }
}

/** A stack-level singleton CDK creates on demand, found by the start of its construct id. */
function stackSingleton(scope: Construct, idPrefix: string): IConstruct | undefined {
  return Stack.of(scope).node.children.find((child) => child.node.id.startsWith(idPrefix));
}
