import { declaredParameterNames, forwardsAllArguments, parameterNames } from './parameter-names.js';

describe('parameterNames', () => {
  it('reads plain, defaulted, rest and destructured parameters', () => {
    function f(a: number, b = 2, { c }: { c: number } = { c: 1 }, ...rest: unknown[]) {
      return [a, b, c, rest];
    }
    expect(parameterNames(f)).toEqual(['a', 'b', null, 'rest']);
  });

  it('is not fooled by comments, strings with // or commas, escapes and nested brackets', () => {
    const source = `function g(/* first, */ base = 'http://x, y', quote = "a\\\\", list = [1, 2], id /* , no */, // end
      last) {}`;
    const g = new Function(`return ${source}`)() as (...args: never[]) => unknown;
    expect(parameterNames(g)).toEqual(['base', 'quote', 'list', 'id', 'last']);
  });

  it('reads class methods and async methods', () => {
    class C {
      async find(tenantId: string, filter = { a: ',' }) {
        return [tenantId, filter];
      }
    }
    expect(parameterNames(C.prototype.find)).toEqual(['tenantId', 'filter']);
  });
});

describe('declaredParameterNames (a method another decorator wrapped)', () => {
  class Orders {
    other(userId: number) {
      return this.place(String(userId), { items: [] }); // a call, not the definition
    }
    async place(userId: string, { items }: { items: unknown[] }, note = 'a, b') {
      return [userId, items, note];
    }
    *walk(from: number) {
      yield from;
    }
  }

  it('reads the parameters the class declares, not those of a call or of another method', () => {
    expect(declaredParameterNames(Orders, 'place')).toEqual(['userId', null, 'note']);
    expect(declaredParameterNames(Orders, 'walk')).toEqual(['from']);
    expect(declaredParameterNames(Orders, 'missing')).toBeUndefined();
    expect(declaredParameterNames(Orders, Symbol('place'))).toBeUndefined();
  });

  it('tells a wrapper taking (...args) from a method', () => {
    expect(
      forwardsAllArguments(async function (...args: unknown[]) {
        return args;
      }),
    ).toBe(true);
    expect(forwardsAllArguments(Orders.prototype.place)).toBe(false);
    expect(
      forwardsAllArguments(function (first: unknown, ...rest: unknown[]) {
        return [first, rest];
      }),
    ).toBe(false);
  });
});
