import { render } from 'ink';
import { createLogUpdate } from 'log-update';
import { PredictForm } from './predict-form.js';
import type { PredictFormProps } from './predict-form.js';

export interface RunFormOptions extends PredictFormProps {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

const HIDE_CURSOR = '\u001B[?25l';
const SHOW_CURSOR = '\u001B[?25h';

/**
 * The terminal as Ink's debug mode writes to it (each write a whole frame), redrawing each frame in place. Ink's
 * own redrawing is off wherever CI or CONTINUOUS_INTEGRATION is set (it decides as it loads), yet a form on a
 * terminal is interactive whatever the environment says; debug mode is the same everywhere.
 */
function redrawnInPlace(stdout: NodeJS.WriteStream): NodeJS.WriteStream {
  const frame = createLogUpdate(stdout, { showCursor: true });
  // Ink in CI writes the last frame again as it ends, with a newline: the same frame, not a new line.
  const write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk).replace(/\n$/, '');
    if (text !== '') frame(text);
    // Ink waits on an empty write's callback before it resolves waitUntilExit: the terminal's own write keeps the order.
    const done = rest.find((r) => typeof r === 'function') as ((err?: Error | null) => void) | undefined;
    if (done) stdout.write('', done);
    return true;
  };
  return new Proxy(stdout, {
    get(target, key) {
      if (key === 'write') return write;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Shows the form until Esc or Ctrl+C; the last frame (with the last answer) stays on screen. */
export async function runPredictForm({ stdin, stdout, stderr, ...props }: RunFormOptions): Promise<void> {
  stdout.write(HIDE_CURSOR);
  try {
    // Ctrl+C is handled by the form so that it ends like Esc, through ink's exit().
    const app = render(<PredictForm {...props} />, {
      stdin,
      stdout: redrawnInPlace(stdout),
      stderr,
      debug: true,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    await app.waitUntilExit();
  } finally {
    stdout.write(SHOW_CURSOR);
  }
}
