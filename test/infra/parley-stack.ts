import { App, CfnElement, type Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { ParleyStack } from '../../infra/parley-stack';

/**
 * A fresh app holding ParleyStack. Without bundling the construct tree and template are the same
 * except for asset hashes, which is all the nag rules need.
 */
export function buildParleyStack({ bundle }: { bundle: boolean }): ParleyStack {
  const app = new App(bundle ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  return new ParleyStack(app, 'ParleyStack');
}

/** Logical id of the resource behind the construct at `path` (construct ids from the stack down). */
export function logicalIdAt(stack: Stack, ...path: string[]): string {
  let construct: IConstruct = stack;
  for (const id of path) construct = construct.node.findChild(id);
  const resource = construct.node.defaultChild;
  if (!(resource instanceof CfnElement)) throw new Error(`No CloudFormation resource at ${path.join('/')}`);
  return stack.getLogicalId(resource);
}
