import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AttributeType,
  BillingMode,
  type ITable,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { type KeyAttribute, type TableKey, type TableSpec, tableKeys, tables } from '#shared/config/tables';

export interface DataProps {
  /**
   * What happens to every table when it leaves the stack. RETAIN also turns on deletion protection.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** One on-demand DynamoDB table per spec in `shared/config/tables`. */
export class Data extends Construct {
  readonly tables: Readonly<Record<TableKey, ITable>>;

  constructor(scope: Construct, id: string, props: DataProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const built = {} as Record<TableKey, ITable>;
    for (const key of tableKeys) {
      built[key] = this.createTable(tables[key], removalPolicy);
    }
    this.tables = built;
  }

  private createTable(spec: TableSpec, removalPolicy: RemovalPolicy): Table {
    const table = new Table(this, spec.logicalName, {
      partitionKey: keyAttribute(spec.partitionKey),
      sortKey: spec.sortKey && keyAttribute(spec.sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS owned key: encrypted at rest with no KMS request charges on the hot path.
      encryption: TableEncryption.DEFAULT,
      timeToLiveAttribute: spec.ttlAttribute,
      stream: spec.stream && StreamViewType[spec.stream],
      removalPolicy,
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
    });
    for (const index of spec.globalIndexes ?? []) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: keyAttribute(index.partitionKey),
        sortKey: index.sortKey && keyAttribute(index.sortKey),
        projectionType: ProjectionType[index.projection],
        ...(index.include === undefined ? {} : { nonKeyAttributes: [...index.include] }),
      });
    }
    return table;
  }
}

function keyAttribute(key: KeyAttribute): { name: string; type: AttributeType } {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}
