import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { TableDefinition } from '../definitions.js';
import { skipCheckov } from './compliance.js';

/** DynamoDB actions a reader may call (transactions check per item). */
export const TABLE_READ_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

/** DynamoDB actions a writer may call. */
export const TABLE_WRITE_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
] as const;

/**
 * DynamoDB actions of a writer that reads and updates single items by key
 * (in transactions too) but neither queries, scans nor deletes.
 */
export const TABLE_ITEM_UPDATE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:ConditionCheckItem',
] as const;

/** Appending records, such as trace records, without changing others. */
export const TABLE_PUT_ACTIONS = [
  'dynamodb:PutItem',
  'dynamodb:BatchWriteItem',
] as const;

export interface DataTableProps {
  /** The table's description in `definitions.ts`. */
  readonly definition: TableDefinition;
  /**
   * Whether the table holds data that must outlive the stack: it then keeps
   * deletion protection on and is retained when the stack is deleted.
   * @default false
   */
  readonly retain?: boolean;
}

/**
 * An on-demand table with point-in-time recovery and AWS-managed
 * encryption, built from its definition; grants name the table and each
 * of its indexes exactly, never `index/*`.
 */
export class DataTable extends Construct {
  readonly table: dynamodb.Table;
  private readonly definition: TableDefinition;

  constructor(scope: Construct, id: string, props: DataTableProps) {
    super(scope, id);
    this.definition = props.definition;
    this.table = this.createTable(props);
    skipCheckov(this.table, {
      id: 'CKV_AWS_119',
      comment:
        'AWS-managed encryption is deliberate: access is limited by IAM to ' +
        "this stack's functions, and a customer key would add cost and " +
        'key administration without narrowing who can read.',
    });
    for (const index of props.definition.indexes) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: stringKey(index.partitionKey),
        sortKey: stringKey(index.sortKey),
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
  }

  /** Lets `grantee` read the table and query each of its indexes. */
  grantRead(grantee: iam.IGrantable): void {
    const indexArns = this.definition.indexes.map(
      (index) => `${this.table.tableArn}/index/${index.name}`
    );
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...TABLE_READ_ACTIONS],
      resourceArns: [this.table.tableArn, ...indexArns],
    });
  }

  /** Lets `grantee` write items; indexes follow the table by themselves. */
  grantWrite(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...TABLE_WRITE_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
  }

  /** Lets `grantee` read and update items by key, and nothing else. */
  grantItemUpdates(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...TABLE_ITEM_UPDATE_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
  }

  /** Lets `grantee` put new items, one or a batch at a time, and no more. */
  grantPuts(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...TABLE_PUT_ACTIONS],
      resourceArns: [this.table.tableArn],
    });
  }

  grantReadWrite(grantee: iam.IGrantable): void {
    this.grantRead(grantee);
    this.grantWrite(grantee);
  }

  private createTable(props: DataTableProps): dynamodb.Table {
    const { definition } = props;
    const retain = props.retain ?? false;

    return new dynamodb.Table(this, 'Table', {
      partitionKey: stringKey(definition.partitionKey),
      sortKey: stringKey(definition.sortKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: definition.ttlAttribute,
      deletionProtection: retain,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}

// Every key the product writes is a string (ids, ISO timestamps).
const stringKey = (name: string): dynamodb.Attribute => ({
  name,
  type: dynamodb.AttributeType.STRING,
});
