import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown.error.js';
import { CrossShardBoundError, CrossShardQueryError } from '../errors/cross-shard-query.error.js';
import { InvalidCursorError } from '../errors/invalid-cursor.error.js';
import { MisplacedEntityError } from '../errors/misplaced-entity.error.js';
import { NoShardContextError } from '../errors/no-shard-context.error.js';
import { ReadOnlyContextError } from '../errors/read-only-context.error.js';
import { ShardKeyMissingError } from '../errors/shard-key-missing.error.js';
import { ShardLockError } from '../errors/shard-lock.error.js';
import { ShardUnavailableError } from '../errors/shard-unavailable.error.js';
import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { CrossShardTransactionError } from '../errors/cross-shard-transaction.error.js';
import { publicBody } from './sharding-exception.filter.js';

const ADDRESS = 'postgresql://app@10.0.0.7:5432/app';
const down = new ShardUnavailableError(
  `Node s0/primary (${ADDRESS}) is unavailable: connect ECONNREFUSED`,
  's0',
  's0/primary',
);

describe('publicBody', () => {
  it('503 with the outcome for a cross-shard transaction that did not simply succeed', () => {
    for (const outcome of ['aborted', 'committed', 'unknown'] as const) {
      const error = new CrossShardTransactionError(`${ADDRESS} failed`, outcome, ['s0', 's1'], ['s1'], '42');
      const body = publicBody(error);
      expect(body).toMatchObject({ statusCode: 503, error: 'CrossShardTransactionError', outcome });
      expect(body.message).not.toContain('10.0.0.7');
    }
    expect(publicBody(new CrossShardTransactionError('x', 'committed', ['s0'])).message).toMatch(/Do not retry/);
  });

  it('503 for every unavailability, saying what to do and nothing about the node', () => {
    expect(publicBody(down)).toEqual({
      statusCode: 503,
      error: 'ShardUnavailableError',
      message: 'Shard "s0" cannot serve this request now. Retry later.',
    });
    const lost = new CommitOutcomeUnknownError(`lost ${ADDRESS} during COMMIT`, 's1', 's1/primary');
    expect(publicBody(lost)).toMatchObject({ statusCode: 503, outcome: 'unknown' });
    expect(publicBody(lost).message).toMatch(/may or may not have been applied/);
    const crossShard = CrossShardQueryError.shardsFailed('CrossShardQuery.find(User)', [{ shard: 's0', error: down }]);
    expect(publicBody(crossShard)).toMatchObject({ statusCode: 503, error: 'CrossShardQueryError' });
    for (const error of [down, lost, crossShard]) expect(JSON.stringify(publicBody(error))).not.toContain('10.0.0.7');
  });

  it('400 with the message for what the client sent; 500 with a generic message for the rest', () => {
    const cursor = new InvalidCursorError('CrossShardQuery.findByCursor(User): "after" is not a cursor.');
    expect(publicBody(cursor)).toEqual({ statusCode: 400, error: 'InvalidCursorError', message: cursor.message });
    expect(
      publicBody(new CrossShardBoundError('offset 5000 is over crossShard.maxOffset', 'maxOffset')).statusCode,
    ).toBe(400);
    const notMergeable = new CrossShardQueryError(`select * from "users" on ${ADDRESS} cannot be merged`);
    expect(publicBody(notMergeable)).toMatchObject({ statusCode: 500, error: 'CrossShardQueryError' });
    expect(publicBody(notMergeable).message).not.toMatch(/select|10\.0\.0\.7/);
    expect(publicBody(new ShardingConfigError(['bad'])).statusCode).toBe(500);
  });

  it('400 for a missing key; the program’s own routing mistakes are 500s that name nothing inside', () => {
    const missing = new ShardKeyMissingError('UsersService.findOne: shard key (id) is missing (undefined).');
    expect(publicBody(missing)).toEqual({ statusCode: 400, error: 'ShardKeyMissingError', message: missing.message });
    const mistakes = [
      new ReadOnlyContextError(`UsersService.find tried to write on read replica s0/replica-1 (${ADDRESS})`),
      new MisplacedEntityError('UsersService.create would write User with key "u-1" to shard "s0"', 'User', 's1', 's0'),
      new ShardLockError('UsersService.move wants shard "s1", but this request is locked to shard "s0".'),
      NoShardContextError.forUnboundCall('UsersService.find'),
    ];
    for (const error of mistakes) {
      expect(publicBody(error)).toEqual({
        statusCode: 500,
        error: error.name,
        message: 'The request failed on the server; the operator finds the reason in the log.',
      });
    }
  });
});
