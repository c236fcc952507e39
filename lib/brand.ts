/**
 * Next.js bundles each route, and the instrumentation hook, separately: one class can exist in
 * several copies in one process, and an error created by one copy (say, by the shared app object
 * built at start-up) fails `instanceof` against another copy. A brand registered with Symbol.for
 * is shared by every copy, so `instanceof` on a branded class checks the brand instead.
 *
 * Every class of a branded hierarchy must be branded itself: `Symbol.hasInstance` is inherited.
 */
// biome-ignore lint/suspicious/noExplicitAny: any constructor, abstract or not
type AnyClass = abstract new (...args: any[]) => object;

export function brand<C extends AnyClass>(cls: C, name: string): C {
  const mark = Symbol.for(`nano-banana-studio:${name}`);
  Object.defineProperty(cls.prototype, mark, { value: true });
  Object.defineProperty(cls, Symbol.hasInstance, {
    value: (value: unknown) =>
      typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[mark] === true,
  });
  return cls;
}
