import { ShardingConfigError } from '../errors/sharding-config.error.js';
import { CONTEXT_DEFAULTS, resolveContextMount, type ContextMount } from './context-mount.js';

describe('resolveContextMount', () => {
  it('defaults to the interceptor', () => {
    expect(CONTEXT_DEFAULTS.mount).toBe('interceptor');
    expect(resolveContextMount({})).toBe('interceptor');
    expect(resolveContextMount({ interceptor: true, context: {} })).toBe('interceptor');
  });

  it.each(['middleware', 'interceptor', 'guard', 'none'] as const)('takes context.mount %s', (mount) => {
    expect(resolveContextMount({ interceptor: true, context: { mount } })).toBe(mount);
  });

  it("maps the older interceptor: false onto mount 'none'", () => {
    expect(resolveContextMount({ interceptor: false })).toBe('none');
    expect(resolveContextMount({ interceptor: false, context: { mount: 'none' } })).toBe('none');
  });

  it('refuses interceptor: false with another mount, and an unknown mount, saying what to write', () => {
    expect(() => resolveContextMount({ interceptor: false, context: { mount: 'middleware' } })).toThrow(
      /interceptor: false .* contradicts context: \{ mount: 'middleware' \}; remove `interceptor`/,
    );
    const unknown = () => resolveContextMount({ context: { mount: 'midleware' as ContextMount } });
    expect(unknown).toThrow(ShardingConfigError);
    expect(unknown).toThrow(/context\.mount is "midleware"; use one of 'middleware', 'interceptor', 'guard', 'none'/);
  });
});
