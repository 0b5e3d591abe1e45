import { parameterNames } from './parameter-names.js';

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
