import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ParleyStack } from '../../infra/parley-stack';
import { buildParleyStack } from './parley-stack';

interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

let stack: ParleyStack;

beforeAll(() => {
  // The rules read the construct tree, not the bundles.
  stack = buildParleyStack({ bundle: false });
}, 120_000);

function acknowledgements(): Acknowledgement[] {
  return stack.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged error or warning', () => {
    // cdk-nag 3 reports through CDK policy validation, not annotations: validateScope is its direct entry point.
    const { violations } = new AwsSolutionsChecks().validateScope(stack);

    const findings = violations.map(
      (violation) =>
        `${violation.severity} ${violation.ruleName}: ${violation.description}\n  ${violation.violatingResources
          .map((resource) => resource.constructPath)
          .join('\n  ')}`,
    );
    expect(findings, findings.join('\n')).toEqual([]);
  });

  it('acknowledges rules one resource at a time, never for the whole stack', () => {
    const stackWide = acknowledgements().filter((ack) => ack.path === stack.node.path);
    expect(stackWide).toEqual([]);
  });

  it('gives every acknowledgement a specific AwsSolutions rule and a reason of its own', () => {
    for (const ack of acknowledgements()) {
      expect(ack.id, ack.path).toMatch(/^AwsSolutions-[A-Z]+\d+(\[.+\])?$/);
      expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThanOrEqual(60);
    }
  });
});
