/** @jsxImportSource hono/jsx */
import { niceTicks } from '../core/evaluation/plots.js';
import { fmtNumber } from './format.js';

const W = 480;
const H = 280;
const PAD = { left: 56, right: 16, top: 28, bottom: 40 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export const color = (i: number) => COLORS[i % COLORS.length]!;

interface Scale {
  x(v: number): number;
  y(v: number): number;
  xt: ReturnType<typeof niceTicks>;
  yt: ReturnType<typeof niceTicks>;
}

function scales(xs: number[], ys: number[]): Scale {
  const finite = (a: number[]) => a.filter(Number.isFinite);
  const fx = finite(xs);
  const fy = finite(ys);
  const xt = niceTicks(fx.length ? Math.min(...fx) : 0, fx.length ? Math.max(...fx) : 1);
  const yt = niceTicks(fy.length ? Math.min(...fy) : 0, fy.length ? Math.max(...fy) : 1);
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  return {
    x: (v) => PAD.left + ((v - xt.lo) / (xt.hi - xt.lo || 1)) * iw,
    y: (v) => PAD.top + ih - ((v - yt.lo) / (yt.hi - yt.lo || 1)) * ih,
    xt,
    yt,
  };
}

function Axes(props: { s: Scale; xLabel: string; yLabel: string; title: string }) {
  const { s } = props;
  return (
    <g>
      <text x={W / 2} y={16} text-anchor="middle" font-size="13" font-weight="600">
        {props.title}
      </text>
      {s.yt.ticks.map((t) => (
        <g>
          <line x1={PAD.left} x2={W - PAD.right} y1={s.y(t)} y2={s.y(t)} stroke="#e5e5e5" />
          <text x={PAD.left - 6} y={s.y(t) + 4} text-anchor="end" font-size="10" fill="#666">
            {t.toFixed(s.yt.decimals)}
          </text>
        </g>
      ))}
      {s.xt.ticks.map((t) => (
        <text x={s.x(t)} y={H - PAD.bottom + 14} text-anchor="middle" font-size="10" fill="#666">
          {t.toFixed(s.xt.decimals)}
        </text>
      ))}
      <line x1={PAD.left} x2={W - PAD.right} y1={H - PAD.bottom} y2={H - PAD.bottom} stroke="#999" />
      <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={H - PAD.bottom} stroke="#999" />
      <text x={W / 2} y={H - 8} text-anchor="middle" font-size="11">
        {props.xLabel}
      </text>
      <text x={14} y={H / 2} text-anchor="middle" font-size="11" transform={`rotate(-90 14 ${H / 2})`}>
        {props.yLabel}
      </text>
    </g>
  );
}

export interface Series {
  name: string;
  points: Array<[number, number]>;
}

/** Step metrics as lines, one per series; long series are thinned to at most 500 points per line. */
export function LineChart(props: { title: string; series: Series[]; xLabel?: string; yLabel?: string }) {
  const all = props.series.flatMap((s) => s.points);
  const s = scales(
    all.map((p) => p[0]),
    all.map((p) => p[1]),
  );
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      font-family="system-ui, sans-serif"
    >
      <title>{props.title}</title>
      <rect x="0" y="0" width={W} height={H} fill="#fff" />
      <Axes s={s} xLabel={props.xLabel ?? 'step'} yLabel={props.yLabel ?? 'value'} title={props.title} />
      {props.series.map((ser, i) => {
        const every = Math.max(1, Math.ceil(ser.points.length / 500));
        const pts = ser.points
          .filter((p, k) => Number.isFinite(p[1]) && (k % every === 0 || k === ser.points.length - 1))
          .map(([x, y]) => `${s.x(x).toFixed(1)},${s.y(y).toFixed(1)}`)
          .join(' ');
        return ser.points.length === 1 ? (
          <circle cx={s.x(ser.points[0]![0])} cy={s.y(ser.points[0]![1])} r="3" fill={color(i)} />
        ) : (
          <polyline points={pts} fill="none" stroke={color(i)} stroke-width="1.6" />
        );
      })}
      {props.series.length > 1
        ? props.series.map((ser, i) => (
            <text x={W - PAD.right - 4} y={PAD.top + 12 + i * 13} text-anchor="end" font-size="10" fill={color(i)}>
              {ser.name}
            </text>
          ))
        : null}
    </svg>
  );
}

/** One hyperparameter against the trials' CV score: a dot per trial, the best one larger. */
export function Scatter(props: {
  title: string;
  xLabel: string;
  yLabel: string;
  points: Array<{ x: number; y: number; label: string }>;
}) {
  const s = scales(
    props.points.map((p) => p.x),
    props.points.map((p) => p.y),
  );
  const best = Math.max(...props.points.map((p) => p.y));
  return (
    <svg
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${W} ${H}`}
      width={W}
      height={H}
      role="img"
      font-family="system-ui, sans-serif"
    >
      <title>{props.title}</title>
      <rect x="0" y="0" width={W} height={H} fill="#fff" />
      <Axes s={s} xLabel={props.xLabel} yLabel={props.yLabel} title={props.title} />
      {props.points.map((p) => (
        <circle
          cx={s.x(p.x)}
          cy={s.y(p.y)}
          r={p.y === best ? 5 : 3.5}
          fill={p.y === best ? '#d62728' : '#1f77b4'}
          fill-opacity="0.8"
        >
          <title>{`${p.label}: ${fmtNumber(p.x)} -> ${fmtNumber(p.y)}`}</title>
        </circle>
      ))}
    </svg>
  );
}

/** A small histogram from bin counts (bars as rects; no inline styles, which the CSP forbids). */
export function Histogram(props: { title: string; counts: number[]; lo: number; hi: number }) {
  const w = 220;
  const h = 60;
  const max = Math.max(1, ...props.counts);
  const bw = w / Math.max(1, props.counts.length);
  return (
    <svg xmlns="http://www.w3.org/2000/svg" viewBox={`0 0 ${w} ${h + 12}`} width={w} height={h + 12} role="img">
      <title>{props.title}</title>
      {props.counts.map((c, i) => (
        <rect
          x={i * bw + 0.5}
          y={h - (c / max) * h}
          width={Math.max(0.5, bw - 1)}
          height={(c / max) * h}
          fill="#1f77b4"
        />
      ))}
      <text x="0" y={h + 11} font-size="9" fill="#666">
        {fmtNumber(props.lo, 2)}
      </text>
      <text x={w} y={h + 11} font-size="9" fill="#666" text-anchor="end">
        {fmtNumber(props.hi, 2)}
      </text>
    </svg>
  );
}
