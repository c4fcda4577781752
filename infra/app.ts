import { App, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ParleyStack } from './parley-stack';

const app = new App();
// AWS Solutions rules run at synth; any unacknowledged finding fails it.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

// `cdk deploy -c destroyStatefulResources=true` for throwaway stacks; real ones keep their data.
const destroyStatefulResources = String(app.node.tryGetContext('destroyStatefulResources')) === 'true';
// `cdk deploy -c alarmEmail=ops@example.com` mails every alarm (the address confirms first).
const alarmEmail: unknown = app.node.tryGetContext('alarmEmail');
new ParleyStack(app, 'ParleyStack', {
  description: 'Parley: serverless real-time chat backend',
  statefulRemovalPolicy: destroyStatefulResources ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  ...(typeof alarmEmail === 'string' && alarmEmail !== '' ? { alarmEmail } : {}),
});
