import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { useEffect, useReducer, useState } from 'react';
import type { PredictFeatures } from '../dataset/schema.js';
import type { PredictResult } from '../predict/scorer.js';
import { EXAMPLE_DAY, FIELDS } from './fields.js';
import type { FieldName, FieldSpec } from './fields.js';
import { BUTTON, filterOptions, formReducer, initialFormState } from './form-state.js';
import type { FormAction, FormState } from './form-state.js';

export interface PredictFormProps {
  /** Scores the validated features: a local model or a running server; the form only collects input. */
  predict: (features: PredictFeatures) => Promise<PredictResult>;
  /** Who answers, shown in the title (a model version or a server URL). */
  source: string;
  initial?: Readonly<Record<FieldName, string>>;
}

const LABEL_WIDTH = 29;
const VALUE_WIDTH = 22;
const BAR_WIDTH = 30;
/** Title, key help, the lines above and below the field window, and the Predict button. */
const FRAME_LINES = 5;
const KEYS = 'Tab ↑↓ move · ←→ choose · type to edit or filter · Ctrl+S predict · Esc quit';

export function PredictForm({ predict, source, initial = EXAMPLE_DAY }: PredictFormProps) {
  const { exit } = useApp();
  const [state, dispatch] = useReducer(formReducer, initial, initialFormState);

  useInput((input, key) => {
    if (key.escape || (key.ctrl && input === 'c')) return exit();
    if (key.ctrl && input === 's') return dispatch({ type: 'submit' });
    if (key.tab) return dispatch({ type: 'move', by: key.shift ? -1 : 1 });
    if (key.upArrow) return dispatch({ type: 'move', by: -1 });
    if (key.downArrow) return dispatch({ type: 'move', by: 1 });
    if (key.return) return dispatch({ type: 'enter' });
    if (key.leftArrow) return dispatch({ type: 'cycle', by: -1 });
    if (key.rightArrow) return dispatch({ type: 'cycle', by: 1 });
    // Terminals send DEL for the backspace key, which ink reports as delete.
    if (key.backspace || key.delete) return dispatch({ type: 'erase' });
    if (key.ctrl && input === 'u') return dispatch({ type: 'clear' });
    if (key.ctrl || key.meta || !input) return;
    // Keys typed faster than ink reads them arrive as one string: replay them in order.
    for (const part of input.match(/[\x00-\x1f\x7f]|[^\x00-\x1f\x7f]+/g) ?? []) {
      if (part === '\x03') return exit();
      const action = replayed(part);
      if (action) dispatch(action);
    }
  });

  useEffect(() => {
    const pending = state.pending;
    if (!pending) return;
    let live = true;
    predict(pending.features).then(
      (result) => live && dispatch({ type: 'answered', id: pending.id, result }),
      (err: unknown) =>
        live && dispatch({ type: 'failed', id: pending.id, message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [state.pending, predict]);

  const { rows, columns } = useTerminalSize();
  const detail = focusedDetail(state, columns);
  // One line spare: a frame as tall as the terminal would scroll its first line away.
  const room = Math.max(1, rows - 1 - FRAME_LINES - outcomeLines(state, columns) - (detail ? 1 : 0));
  const { start, end } = fieldWindow(state.focus, room);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate-end">
        rainops predict <Text dimColor>· answers from {source}</Text>
      </Text>
      <Text dimColor wrap="truncate-end">
        {KEYS}
      </Text>
      <Text dimColor>{start > 0 ? `  ↑ ${start} more` : ' '}</Text>
      {FIELDS.slice(start, end).map((spec, i) => (
        <FieldRow
          key={spec.name}
          spec={spec}
          state={state}
          focused={state.focus === start + i}
          detail={state.focus === start + i ? detail : null}
        />
      ))}
      <Text dimColor>{end < FIELDS.length ? `  ↓ ${FIELDS.length - end} more` : ' '}</Text>
      <Box>
        <Text inverse={state.focus === BUTTON} color={state.focus === BUTTON ? 'cyan' : undefined} bold>
          {state.focus === BUTTON ? '› ' : '  '}[ Predict ]
        </Text>
        <Text dimColor wrap="truncate-end">
          {' '}
          Enter here or Ctrl+S anywhere
        </Text>
      </Box>
      <Outcome state={state} />
    </Box>
  );
}

/** One key of several that arrived together (a fast typist, key repeat, a paste); other control keys are dropped. */
function replayed(part: string): FormAction | null {
  switch (part) {
    case '\x7f':
    case '\b':
      return { type: 'erase' };
    case '\t':
      return { type: 'move', by: 1 };
    case '\r':
      return { type: 'enter' };
    case '\x13':
      return { type: 'submit' };
    case '\x15':
      return { type: 'clear' };
    default:
      return part.charCodeAt(0) < 0x20 ? null : { type: 'type', text: part };
  }
}

/** The terminal's size, following resizes; 80x24 when the stream does not say. */
function useTerminalSize(): { rows: number; columns: number } {
  const { stdout } = useStdout();
  const read = () => ({ rows: stdout.rows > 0 ? stdout.rows : 24, columns: stdout.columns > 0 ? stdout.columns : 80 });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => void stdout.off('resize', onResize);
  }, [stdout]);
  return size;
}

/** The fields shown: `room` of them around the focused one (the last ones when the button has focus). */
function fieldWindow(focus: number, room: number): { start: number; end: number } {
  const count = FIELDS.length;
  if (room >= count) return { start: 0, end: count };
  const start = Math.max(0, Math.min(count - room, Math.min(focus, count - 1) - Math.floor((room - 1) / 2)));
  return { start, end: start + room };
}

/** What the focused field says beside its value: its error, or how to choose. */
function fieldNote(spec: FieldSpec, state: FormState): { text: string; error: boolean } | null {
  const error = state.errors[spec.name];
  if (error) return { text: `✖ ${error}`, error: true };
  if (spec.kind === 'yesno') return { text: '←/→, y or n', error: false };
  if (spec.kind !== 'select') return null;
  const list = filterOptions(spec.options, state.filter);
  const text = state.filter
    ? `filter "${state.filter}": ${list.slice(0, 6).join(' ')}${list.length > 6 ? ` … (${list.length})` : ''}`
    : `←/→ or type to filter (${spec.options.length})`;
  return { text, error: false };
}

/** The focused field's note when it is too long for its row: it then gets a line of its own below. */
function focusedDetail(state: FormState, columns: number): { text: string; error: boolean } | null {
  const spec = FIELDS[state.focus];
  const note = spec ? fieldNote(spec, state) : null;
  return note && note.text.length > columns - LABEL_WIDTH - VALUE_WIDTH ? note : null;
}

/** Lines the outcome below the button takes, as Outcome draws them. */
function outcomeLines(state: FormState, columns: number): number {
  const invalid = Object.keys(state.errors).length > 0 ? 1 : 0;
  // Wrapping breaks at spaces, so a line holds somewhat less than the full width: count on the safe side.
  const failure = state.failure ? Math.ceil((state.failure.length + 2) / Math.max(1, columns - 12)) : 0;
  return invalid + (state.pending ? 1 : 0) + failure + (state.result ? 5 : 0);
}

function FieldRow({
  spec,
  state,
  focused,
  detail,
}: {
  spec: FieldSpec;
  state: FormState;
  focused: boolean;
  detail: { text: string; error: boolean } | null;
}) {
  const value = state.values[spec.name];
  const error = state.errors[spec.name];
  let shown = value;
  if (focused && (spec.kind === 'select' || spec.kind === 'yesno')) shown = `‹ ${value} ›`;
  else if (focused) shown = `${value}▏`;
  const note = focused ? (detail ? null : fieldNote(spec, state)) : error ? { text: `✖ ${error}`, error: true } : null;
  return (
    <Box flexDirection="column">
      <Box>
        <Box width={LABEL_WIDTH} flexShrink={0}>
          <Text color={focused ? 'cyan' : undefined} bold={focused} wrap="truncate-end">
            {focused ? '› ' : '  '}
            {spec.label}
          </Text>
        </Box>
        <Box width={VALUE_WIDTH} flexShrink={0}>
          <Text color={focused ? 'cyan' : undefined} wrap="truncate-end">
            {shown}
          </Text>
        </Box>
        {note ? <Note {...note} /> : null}
      </Box>
      {detail ? (
        <Box paddingLeft={LABEL_WIDTH}>
          <Note {...detail} />
        </Box>
      ) : null}
    </Box>
  );
}

function Note({ text, error }: { text: string; error: boolean }) {
  return error ? (
    <Text color="red" wrap="truncate-end">
      {text}
    </Text>
  ) : (
    <Text dimColor wrap="truncate-end">
      {text}
    </Text>
  );
}

function Outcome({ state }: { state: FormState }) {
  const { result, pending, failure, stale } = state;
  const invalid = Object.keys(state.errors).length;
  return (
    <Box flexDirection="column">
      {invalid > 0 ? (
        <Text color="red">
          {invalid === 1 ? '1 field needs' : `${invalid} fields need`} a valid value before predicting
        </Text>
      ) : null}
      {pending ? <Text color="yellow">predicting…</Text> : null}
      {failure ? <Text color="red">✖ {failure}</Text> : null}
      {result ? (
        <Box
          flexDirection="column"
          borderStyle="round"
          borderColor={stale ? 'gray' : result.prediction_bool ? 'blue' : 'yellow'}
          paddingX={1}
        >
          <Text bold color={result.prediction_bool ? 'blue' : 'yellow'} wrap="truncate-end">
            {result.prediction_str}
          </Text>
          <ProbabilityBar probability={result.probability} />
          <Text wrap="truncate-end">
            model {result.model.name} v{result.model.version}
            {stale ? <Text dimColor> · values changed since: Ctrl+S again</Text> : null}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}

export function ProbabilityBar({ probability, width = BAR_WIDTH }: { probability: number; width?: number }) {
  const filled = Math.max(0, Math.min(width, Math.round(probability * width)));
  return (
    <Text wrap="truncate-end">
      rain probability <Text color="blue">{'█'.repeat(filled)}</Text>
      <Text dimColor>{'░'.repeat(width - filled)}</Text> {(probability * 100).toFixed(1)}%
    </Text>
  );
}
