/** Just enough of the WebAssembly binary format to write small hand-made modules. */

export const I32 = 0x7f;
export const F32 = 0x7d;

export const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  i32Const: 0x41,
  i32Eqz: 0x45,
  f32Ge: 0x60,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  f32Add: 0x92,
  voidBlock: 0x40,
} as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));

export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  /** Extra locals after the parameters, each of one type. */
  locals: number[];
  body: number[];
}

/** A module of exported functions over one exported memory named "memory" of `pages` 64 KiB pages. */
export function wasmModule(functions: WasmFunction[], pages: number): Uint8Array {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const memory = [0x00, ...uleb(pages)];
  const exports = [
    ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]),
    [...name('memory'), 0x02, 0x00],
  ];
  const code = functions.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body, op.end];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([memory])),
    ...section(7, vec(exports)),
    ...section(10, vec(code)),
  ]);
}
