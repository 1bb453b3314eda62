import { describe, expect, it } from 'vitest';
import type { DataTable } from '../../lib/constructs/data-table.js';
import { type TableKey, Tables } from '../../lib/definitions.js';
import { logicalId, synthTemplate } from './stack-fixture.js';

const { stack, template } = synthTemplate();
const tableKeys = Object.keys(Tables) as TableKey[];

const resourceOf = (key: TableKey) => {
  const created = stack.node.findChild(Tables[key].id) as DataTable;

  return template.toJSON().Resources[logicalId(created.table)];
};

describe('DataTable', () => {
  it('creates one table per definition', () => {
    // Assert
    template.resourceCountIs('AWS::DynamoDB::Table', tableKeys.length);
  });

  it.each(tableKeys)('keys the %s table as defined', (key) => {
    // Arrange
    const { partitionKey, sortKey } = Tables[key];

    // Act
    const table = resourceOf(key).Properties;

    // Assert
    expect(table.KeySchema).toEqual([
      { AttributeName: partitionKey, KeyType: 'HASH' },
      { AttributeName: sortKey, KeyType: 'RANGE' },
    ]);
  });

  it.each(tableKeys)('bills the %s table on demand', (key) => {
    // Act
    const table = resourceOf(key).Properties;

    // Assert
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
  });

  it.each(tableKeys)('keeps point-in-time recovery of %s on', (key) => {
    // Act
    const table = resourceOf(key).Properties;

    // Assert
    expect(table.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
  });

  it.each(tableKeys)('encrypts %s with the AWS-managed key', (key) => {
    // Act
    const table = resourceOf(key).Properties;

    // Assert
    expect(table.SSESpecification).toEqual({ SSEEnabled: true });
  });

  it('protects the config table from deletion and keeps it', () => {
    // Act
    const table = resourceOf('config');

    // Assert
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
  });

  it('expires log records by TTL on their expiry attribute', () => {
    // Act
    const table = resourceOf('logs').Properties;

    // Assert
    expect(table.TimeToLiveSpecification).toEqual({
      AttributeName: Tables.logs.ttlAttribute,
      Enabled: true,
    });
  });

  it('sets no TTL on the config table', () => {
    // Act
    const table = resourceOf('config').Properties;

    // Assert
    expect(table.TimeToLiveSpecification).toBeUndefined();
  });

  it.each(tableKeys)('creates exactly the indexes %s defines', (key) => {
    // Arrange
    const expected = Tables[key].indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' },
        { AttributeName: index.sortKey, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    }));

    // Act
    const indexes = resourceOf(key).Properties.GlobalSecondaryIndexes ?? [];

    // Assert
    expect(indexes).toEqual(expected);
  });
});
