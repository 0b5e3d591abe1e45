import { NodeHealth } from './node-health.js';

describe('NodeHealth', () => {
  it('tells once when the circuit opens and once when it closes, however many failures and checks', () => {
    const health = new NodeHealth('primary');
    const changes: string[] = [];
    health.onChange = (status, reason) => changes.push(reason ? `${status}: ${reason}` : status);
    health.markUp(); // the first check: unknown → up is not a recovery
    health.markDown('connect ECONNREFUSED 127.0.0.1:5432');
    health.markDown('connect ECONNREFUSED 127.0.0.1:5432');
    health.markDown('no answer within 2000 ms');
    expect(health).toMatchObject({ status: 'down', error: 'no answer within 2000 ms' });
    health.markUp();
    health.markUp();
    expect(changes).toEqual(['down: connect ECONNREFUSED 127.0.0.1:5432', 'up']);
  });

  it('keeps the time the circuit first opened', () => {
    const health = new NodeHealth('replica');
    health.markDown('a', 1_000);
    health.markDown('b', 2_000);
    expect(health.downSince).toBe(1_000);
  });
});
