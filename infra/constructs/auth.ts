import { Aws, Duration, Fn, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  FeaturePlan,
  type IUserPool,
  type IUserPoolClient,
  Mfa,
  OAuthScope,
  StandardThreatProtectionMode,
  UserPool,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { JwtSettings } from '#shared/auth/jwt';
import { webAuthCallbackPath } from '#shared/config/web';

export interface AuthProps {
  /**
   * What happens to the user pool when it leaves the stack. RETAIN also turns on deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Cognito feature plan. Essentials by default: Plus adds threat protection (compromised
   * credentials, adaptive MFA) at a higher price per monthly active user, which at Parley's
   * design size (10M daily users) is a large line of the bill; operators opt in.
   * @default FeaturePlan.ESSENTIALS
   */
  readonly featurePlan?: FeaturePlan;
  /**
   * Redirect URIs the hosted UI may send an authorization code to, beside those of `webAppUrls`.
   * @default ['http://localhost:5173/callback', 'http://localhost:5173/'] (a local web client)
   */
  readonly callbackUrls?: string[];
  /**
   * Where the hosted UI may return after sign-out, beside those of `webAppUrls`.
   * @default ['http://localhost:5173/']
   */
  readonly logoutUrls?: string[];
  /**
   * Origins the web app is served from (`https://host`, no trailing slash), deploy-time tokens
   * allowed: each may receive the authorization code at `{url}/callback` and come back to `{url}/`
   * after sign-out.
   * @default none
   */
  readonly webAppUrls?: string[];
  /**
   * Prefix of the hosted login domain `https://{prefix}.auth.{region}.amazoncognito.com`; such
   * prefixes are unique across all accounts of a region.
   * @default the stack name, then the first 8 hex digits of the stack's own UUID (made at deploy time)
   */
  readonly domainPrefix?: string;
}

/**
 * Cognito user pool with email sign-in, a public app client and a hosted login domain (code flow
 * with PKCE). Clients send the ID token, so the JWT audience is the app client id.
 */
export class Auth extends Construct {
  readonly userPool: IUserPool;
  readonly userPoolClient: IUserPoolClient;
  readonly domain: UserPoolDomain;
  /** `https://{prefix}.auth.{region}.amazoncognito.com`: the hosted login's base URL. */
  readonly domainUrl: string;
  /** OAuth scopes the web client may request. */
  readonly oauthScopes: readonly string[];
  /** What the WebSocket authorizer and the HTTP JWT authorizer check tokens against. */
  readonly jwt: JwtSettings;

  constructor(scope: Construct, id: string, props: AuthProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const featurePlan = props.featurePlan ?? FeaturePlan.ESSENTIALS;
    const localWebClient = 'http://localhost:5173';
    const webAppUrls = props.webAppUrls ?? [];

    const userPool = new UserPool(this, 'UserPool', {
      signInAliases: { email: true },
      signInCaseSensitive: false,
      selfSignUpEnabled: true,
      autoVerify: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan,
      ...(featurePlan === FeaturePlan.PLUS
        ? { standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION }
        : {}),
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    Validations.of(userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason:
        'MFA is optional (TOTP) so consumers can sign up without an authenticator app, as in consumer chat apps; operators who need it can require it.',
    });
    if (featurePlan !== FeaturePlan.PLUS) {
      Validations.of(userPool).acknowledge({
        id: 'AwsSolutions-COG8',
        reason:
          'Essentials by default: the Plus plan costs more per monthly active user, a large share of the bill at 10M daily users; the featurePlan prop opts in.',
      });
    }

    this.domain = userPool.addDomain('HostedLogin', {
      cognitoDomain: { domainPrefix: props.domainPrefix ?? defaultDomainPrefix(Stack.of(this)) },
    });
    this.domainUrl = this.domain.baseUrl();

    const scopes = [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE];
    this.oauthScopes = scopes.map((scope) => scope.scopeName);
    const userPoolClient = userPool.addClient('WebClient', {
      // Public client (browser, mobile): no secret, so the code flow relies on PKCE.
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes,
        callbackUrls: [
          ...(props.callbackUrls ?? [`${localWebClient}${webAuthCallbackPath}`, `${localWebClient}/`]),
          ...webAppUrls.map((url) => `${url}${webAuthCallbackPath}`),
        ],
        logoutUrls: [...(props.logoutUrls ?? [`${localWebClient}/`]), ...webAppUrls.map((url) => `${url}/`)],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

    const issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${userPool.userPoolId}`;
    this.userPool = userPool;
    this.userPoolClient = userPoolClient;
    this.jwt = {
      issuer,
      audience: userPoolClient.userPoolClientId,
      jwksUri: `${issuer}/.well-known/jwks.json`,
    };
  }
}

/**
 * `{stack name}-{8 hex digits}`: the digits start the UUID CloudFormation gives the stack, so two
 * stacks of one name (other accounts, a redeployed stack) never claim the same prefix.
 */
function defaultDomainPrefix(stack: Stack): string {
  let name = Token.isUnresolved(stack.stackName) ? 'parley' : stack.stackName.toLowerCase();
  // Cognito refuses these words anywhere in a prefix; removing one can join the letters around it into another.
  for (let before = ''; before !== name; ) {
    before = name;
    name = name.replace(/aws|amazon|cognito/g, '');
  }
  name = name
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  const stackUuid = Fn.select(2, Fn.split('/', Aws.STACK_ID));
  return `${name || 'parley'}-${Fn.select(0, Fn.split('-', stackUuid))}`;
}
