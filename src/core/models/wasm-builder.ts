/**
 * A small WebAssembly writer whose instructions read like the text format (`local.get` is `localGet`, `i32.add` is
 * `i32Add`), for modules built at run time from numbers known only then. It knows only the instructions the scoring
 * kernel uses; each method is one instruction, named as in the spec, so adding one is one line here.
 */

export type ValType = 'i32' | 'f32';

const TYPE_CODE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d };
const VOID_BLOCK = 0x40;

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

/** A parameter or local of the function being written. */
export interface Local {
  readonly index: number;
  readonly type: ValType;
}

/** A block or loop to branch to: `br` out of a block jumps past its end, `br` to a loop jumps back to its start. */
export interface Label {
  readonly kind: 'block' | 'loop';
}

/** One function's instructions; every method appends one instruction and returns the writer, to chain. */
export class Code {
  readonly bytes: number[] = [];
  private readonly labels: Label[] = [];

  /** `local.get`: pushes the local's value. */
  localGet(l: Local): this {
    return this.emit(0x20, ...uleb(l.index));
  }
  /** `local.set`: pops a value into the local. */
  localSet(l: Local): this {
    return this.emit(0x21, ...uleb(l.index));
  }
  /** `local.tee`: stores the top of the stack in the local and leaves it there. */
  localTee(l: Local): this {
    return this.emit(0x22, ...uleb(l.index));
  }
  i32Const(n: number): this {
    return this.emit(0x41, ...sleb(n));
  }
  /** `i32.load offset=N`: pops an address, pushes the 4-byte integer at address + N. */
  i32Load(offset = 0): this {
    return this.emit(0x28, ...memarg(offset));
  }
  /** `f32.load offset=N`: pops an address, pushes the float32 at address + N. */
  f32Load(offset = 0): this {
    return this.emit(0x2a, ...memarg(offset));
  }
  /** `i32.eqz`: 1 when the popped value is 0, else 0. */
  i32Eqz(): this {
    return this.emit(0x45);
  }
  /** `f32.ge`: pops b then a, pushes 1 when a >= b (0 when either is NaN). */
  f32Ge(): this {
    return this.emit(0x60);
  }
  i32Add(): this {
    return this.emit(0x6a);
  }
  i32Sub(): this {
    return this.emit(0x6b);
  }
  i32Shl(): this {
    return this.emit(0x74);
  }
  f32Add(): this {
    return this.emit(0x92);
  }

  /** `block ... end` around what `body` writes; `br(label)` inside leaves the block. */
  block(body: (label: Label) => void): this {
    return this.nest({ kind: 'block' }, 0x02, body);
  }
  /** `loop ... end` around what `body` writes; `br(label)` inside starts the loop again. */
  loop(body: (label: Label) => void): this {
    return this.nest({ kind: 'loop' }, 0x03, body);
  }
  /** `br`: branches to an enclosing block or loop. */
  br(label: Label): this {
    return this.emit(0x0c, ...uleb(this.depthOf(label)));
  }
  /** `br_if`: pops a condition and branches when it is not 0. */
  brIf(label: Label): this {
    return this.emit(0x0d, ...uleb(this.depthOf(label)));
  }

  private nest(label: Label, opcode: number, body: (label: Label) => void): this {
    this.emit(opcode, VOID_BLOCK);
    this.labels.push(label);
    body(label);
    this.labels.pop();
    return this.emit(0x0b);
  }

  /** The binary format names a branch target by how many blocks out it sits. */
  private depthOf(label: Label): number {
    const at = this.labels.lastIndexOf(label);
    if (at < 0) throw new Error('wasm builder: a branch to a block that does not enclose it');
    return this.labels.length - 1 - at;
  }

  private emit(...bytes: number[]): this {
    for (const b of bytes) this.bytes.push(b);
    return this;
  }
}

/** Natural alignment (4 bytes) for both loads used here. */
const memarg = (offset: number): number[] => [2, ...uleb(offset)];

/** A function: declare its locals, write its code, then hand it to `wasmModule`. */
export class FunctionBuilder {
  readonly params: Local[];
  readonly code = new Code();
  private readonly locals: ValType[] = [];

  constructor(
    readonly name: string,
    private readonly paramTypes: ValType[],
    private readonly results: ValType[],
  ) {
    this.params = paramTypes.map((type, index) => ({ index, type }));
  }

  /** A new local after the parameters and the locals declared before it. */
  local(type: ValType): Local {
    this.locals.push(type);
    return { index: this.paramTypes.length + this.locals.length - 1, type };
  }

  /** The function's type (params and results). */
  typeBytes(): number[] {
    return [0x60, ...vec(this.paramTypes.map((t) => [TYPE_CODE[t]])), ...vec(this.results.map((t) => [TYPE_CODE[t]]))];
  }

  /** The function's entry of the code section: locals, instructions, the closing `end`. */
  bodyBytes(): number[] {
    const body = [...vec(this.locals.map((t) => [1, TYPE_CODE[t]])), ...this.code.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => vec([...Buffer.from(s, 'utf8')].map((b) => [b]));

const SECTION = { type: 1, function: 3, memory: 5, export: 7, code: 10 } as const;
const EXPORT_KIND = { function: 0x00, memory: 0x02 } as const;

/** A module exporting `functions` by name and one memory named "memory" of `pages` 64 KiB pages. */
export function wasmModule(functions: FunctionBuilder[], pages: number): Uint8Array {
  const exports = [
    ...functions.map((f, i) => [...name(f.name), EXPORT_KIND.function, ...uleb(i)]),
    [...name('memory'), EXPORT_KIND.memory, 0x00],
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d], // "\0asm"
    ...[0x01, 0x00, 0x00, 0x00], // version 1
    ...section(SECTION.type, vec(functions.map((f) => f.typeBytes()))),
    ...section(SECTION.function, vec(functions.map((_, i) => uleb(i)))),
    ...section(SECTION.memory, vec([[0x00, ...uleb(pages)]])), // no maximum
    ...section(SECTION.export, vec(exports)),
    ...section(SECTION.code, vec(functions.map((f) => f.bodyBytes()))),
  ]);
}
