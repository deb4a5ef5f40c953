import { render } from 'ink';
import { PredictForm } from './predict-form.js';
import type { PredictFormProps } from './predict-form.js';

export interface RunFormOptions extends PredictFormProps {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Shows the form until Esc or Ctrl+C; the last frame (with the last answer) stays on screen. */
export async function runPredictForm({ stdin, stdout, stderr, ...props }: RunFormOptions): Promise<void> {
  // Ctrl+C is handled by the form so that it ends like Esc, through ink's exit().
  const app = render(<PredictForm {...props} />, { stdin, stdout, stderr, exitOnCtrlC: false, patchConsole: false });
  await app.waitUntilExit();
}
