import type { ShardNode } from '../topology/shard-node.js';
import { RequestScope } from './request-scope.js';
import type { ShardingRuntime } from './sharding-runtime.js';

const node = (id: string) => ({ id }) as ShardNode;
const newScope = () => new RequestScope({} as ShardingRuntime, false);

describe('RequestScope', () => {
  it('keeps one read node per shard, re-pinned or forgotten when it must change', () => {
    const scope = newScope();
    scope.keepReplica('s0', node('s0/replica-1'));
    scope.keepReplica('s1', node('s1/replica-1'));
    scope.keepReplica('s0', node('s0/replica-2')); // the first shard's replica went ineligible
    expect(scope.replica('s0')?.id).toBe('s0/replica-2');
    expect(scope.replica('s1')?.id).toBe('s1/replica-1');
    scope.forgetReplica('s1');
    scope.forgetReplica('s0');
    expect(scope.replica('s0')).toBeUndefined();
    expect(scope.replica('s1')).toBeUndefined();
  });

  it('a write is unrecorded until a WAL position read after it is recorded; positions only move forward', () => {
    const scope = newScope();
    expect(scope.hasUnrecordedWrite('s0')).toBe(false);
    scope.markWritten('s0');
    const covers = scope.writesTo('s0');
    scope.markWritten('s0'); // a second write while the position of the first was being read
    scope.recordPosition('s0', 100n, covers);
    expect(scope.hasUnrecordedWrite('s0')).toBe(true);
    scope.recordPosition('s0', 90n); // an older answer arriving late
    expect(scope.requiredPosition('s0')).toBe(100n);
    expect(scope.hasUnrecordedWrite('s0')).toBe(false);
    expect(scope.worthCheckingLive('s0')).toBe(false); // our own fresh commit
  });

  it('token positions: adopted when newer, worth a live replica check, echoed back', () => {
    const scope = newScope();
    scope.recordPosition('s0', 50n, 0);
    scope.adoptToken(
      new Map([
        ['s0', 40n],
        ['s1', 70n],
      ]),
    );
    expect(scope.requiredPosition('s0')).toBe(50n);
    expect(scope.worthCheckingLive('s0')).toBe(false);
    expect(scope.worthCheckingLive('s1')).toBe(true);
    expect(scope.recordedPositions()).toEqual(
      new Map([
        ['s0', 50n],
        ['s1', 70n],
      ]),
    );
    scope.recordPosition('s1', 80n, 0); // a commit here moves past the token
    expect(scope.worthCheckingLive('s1')).toBe(false);
  });
});
