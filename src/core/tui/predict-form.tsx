import { Box, Text, useApp, useInput } from 'ink';
import { useEffect, useReducer } from 'react';
import type { PredictFeatures } from '../dataset/schema.js';
import type { PredictResult } from '../predict/scorer.js';
import { EXAMPLE_DAY, FIELDS } from './fields.js';
import type { FieldName, FieldSpec } from './fields.js';
import { BUTTON, filterOptions, formReducer, initialFormState } from './form-state.js';
import type { FormState } from './form-state.js';

export interface PredictFormProps {
  /** Scores the validated features: a local model or a running server; the form only collects input. */
  predict: (features: PredictFeatures) => Promise<PredictResult>;
  /** Who answers, shown in the title (a model version or a server URL). */
  source: string;
  initial?: Readonly<Record<FieldName, string>>;
}

const LABEL_WIDTH = 30;
const VALUE_WIDTH = 22;
const BAR_WIDTH = 30;

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
    for (const part of input.match(/[\x7f\b]|[^\x7f\b]+/g) ?? []) dispatch(part === '\x7f' || part === '\b' ? { type: 'erase' } : { type: 'type', text: part });
  });

  useEffect(() => {
    const pending = state.pending;
    if (!pending) return;
    let live = true;
    predict(pending.features).then(
      (result) => live && dispatch({ type: 'answered', id: pending.id, result }),
      (err: unknown) => live && dispatch({ type: 'failed', id: pending.id, message: err instanceof Error ? err.message : String(err) }),
    );
    return () => {
      live = false;
    };
  }, [state.pending, predict]);

  return (
    <Box flexDirection="column">
      <Text bold>
        rainops predict <Text dimColor>· answers from {source}</Text>
      </Text>
      <Text dimColor>Tab/Shift+Tab or ↑/↓ move · ←/→ choose · type to edit or filter · Ctrl+S predict · Esc quit</Text>
      <Box flexDirection="column" marginTop={1}>
        {FIELDS.map((spec, i) => (
          <FieldRow key={spec.name} spec={spec} state={state} focused={state.focus === i} />
        ))}
      </Box>
      <Box marginTop={1}>
        <Text inverse={state.focus === BUTTON} color={state.focus === BUTTON ? 'cyan' : undefined} bold>
          {state.focus === BUTTON ? '› ' : '  '}[ Predict ]
        </Text>
        <Text dimColor> Enter here or Ctrl+S anywhere</Text>
      </Box>
      <Outcome state={state} />
    </Box>
  );
}

function FieldRow({ spec, state, focused }: { spec: FieldSpec; state: FormState; focused: boolean }) {
  const value = state.values[spec.name];
  const error = state.errors[spec.name];
  let shown = value;
  let hint = '';
  if (spec.kind === 'select' || spec.kind === 'yesno') {
    if (focused) shown = `‹ ${value} ›`;
    if (focused && spec.kind === 'select') {
      const list = filterOptions(spec.options, state.filter);
      hint = state.filter
        ? `filter "${state.filter}": ${list.slice(0, 6).join(' ')}${list.length > 6 ? ` … (${list.length})` : ''}`
        : `←/→ or type to filter (${spec.options.length})`;
    }
    if (focused && spec.kind === 'yesno') hint = '←/→, y or n';
  } else if (focused) {
    shown = `${value}▏`;
  }
  return (
    <Box>
      <Box width={LABEL_WIDTH} flexShrink={0}>
        <Text color={focused ? 'cyan' : undefined} bold={focused}>
          {focused ? '› ' : '  '}
          {spec.label}
        </Text>
      </Box>
      <Box width={VALUE_WIDTH} flexShrink={0}>
        <Text color={focused ? 'cyan' : undefined}>{shown}</Text>
      </Box>
      {error ? <Text color="red">✖ {error}</Text> : hint ? <Text dimColor>{hint}</Text> : null}
    </Box>
  );
}

function Outcome({ state }: { state: FormState }) {
  const { result, pending, failure, stale } = state;
  const invalid = Object.keys(state.errors).length;
  return (
    <Box flexDirection="column" marginTop={1}>
      {invalid > 0 ? <Text color="red">{invalid === 1 ? '1 field needs' : `${invalid} fields need`} a valid value before predicting</Text> : null}
      {pending ? <Text color="yellow">predicting…</Text> : null}
      {failure ? <Text color="red">✖ {failure}</Text> : null}
      {result ? (
        <Box flexDirection="column" borderStyle="round" borderColor={stale ? 'gray' : result.prediction_bool ? 'blue' : 'yellow'} paddingX={1}>
          <Text bold color={result.prediction_bool ? 'blue' : 'yellow'}>
            {result.prediction_str}
          </Text>
          <ProbabilityBar probability={result.probability} />
          <Text>
            model {result.model.name} v{result.model.version}
            {stale ? <Text dimColor> · values changed since: Ctrl+S to predict again</Text> : null}
          </Text>
        </Box>
      ) : null}
    </Box>
  );
}

export function ProbabilityBar({ probability, width = BAR_WIDTH }: { probability: number; width?: number }) {
  const filled = Math.max(0, Math.min(width, Math.round(probability * width)));
  return (
    <Text>
      rain probability <Text color="blue">{'█'.repeat(filled)}</Text>
      <Text dimColor>{'░'.repeat(width - filled)}</Text> {(probability * 100).toFixed(1)}%
    </Text>
  );
}
