// wonka's source protocol, as far as the exchange needs it: a signal is `0` for the end, or
// `{ tag: 0 | 1, 0: talkback | value }`, as every exchange's `Source` speaks it. Written out instead of
// importing wonka, a dependency of @urql/core and not of the app: with strict package managers it may not
// resolve from here.

/** One signal of a wonka source: the end (`0`), the start with its talkback (`tag: 0`), or a value (`tag: 1`). */
export type Signal<T> = 0 | { tag: 0; 0: unknown } | { tag: 1; 0: T };
/** A wonka source: calls its sink with every signal. */
export type Source<T> = (sink: (signal: Signal<T>) => void) => void;

/** `source` with `fn` applied to every value; `fn` may return a thunk that delivers the value itself. */
export function mapValues<A, B>(source: Source<A>, fn: (value: A, deliver: (value: B) => void) => void): Source<B> {
  return (sink) =>
    source((signal) => {
      if (signal === 0 || signal.tag === 0) sink(signal as Signal<B>);
      else fn(signal[0], (value) => sink({ tag: 1, 0: value }));
    });
}
