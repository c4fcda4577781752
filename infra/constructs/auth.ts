import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
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
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { JwtSettings } from '#shared/auth/jwt';

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
   * Redirect URIs the hosted UI may send an authorization code to.
   * @default ['http://localhost:5173/'] (a local web client)
   */
  readonly callbackUrls?: string[];
  /**
   * Where the hosted UI may return after sign-out.
   * @default ['http://localhost:5173/']
   */
  readonly logoutUrls?: string[];
}

/**
 * Cognito user pool with email sign-in and a public app client. Clients send the ID token,
 * so the JWT audience is the app client id.
 */
export class Auth extends Construct {
  readonly userPool: IUserPool;
  readonly userPoolClient: IUserPoolClient;
  /** What the WebSocket authorizer and the HTTP JWT authorizer check tokens against. */
  readonly jwt: JwtSettings;

  constructor(scope: Construct, id: string, props: AuthProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const featurePlan = props.featurePlan ?? FeaturePlan.ESSENTIALS;
    const localWebClient = ['http://localhost:5173/'];

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

    const userPoolClient = userPool.addClient('WebClient', {
      // Public client (browser, mobile): no secret, so the code flow relies on PKCE.
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL, OAuthScope.PROFILE],
        callbackUrls: props.callbackUrls ?? localWebClient,
        logoutUrls: props.logoutUrls ?? localWebClient,
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
