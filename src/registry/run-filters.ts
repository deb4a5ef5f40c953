import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import { UsageError } from '../errors.js';
import { camelCase, snakeCase } from '../core/naming.js';
import { NUMERIC_FN } from './db.js';

export type FilterOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type Field = 'params' | 'metrics' | 'tags';

export interface RunFilter {
  field: Field;
  key: string;
  op: FilterOp;
  /** A number when the operand reads as one (metrics always), otherwise the text without quotes. */
  value: number | string;
}

export interface RunSort {
  field: Field | 'column';
  key: string;
  descending: boolean;
}

const FILTER = /^\s*(params|metrics|tags)\.([A-Za-z0-9_][A-Za-z0-9_.\-/]*)\s*(==|!=|>=|<=|=|>|<)\s*(.*?)\s*$/;
const FILTER_HELP =
  "write filters as FIELD.KEY OP VALUE, FIELD one of params, metrics, tags and OP one of = != > >= < <= (e.g. 'params.max_depth=6' or 'metrics.test_f1>0.6')";

/** Run columns a list can be sorted by, as users write them. */
export const SORT_COLUMNS = [
  'start_time',
  'end_time',
  'duration_ms',
  'name',
  'status',
  'peak_rss_bytes',
  'cpu_time_ms',
] as const;

function unquote(text: string): string {
  const first = text[0];
  if (text.length >= 2 && (first === '"' || first === "'") && text.endsWith(first)) return text.slice(1, -1);
  return text;
}

function asNumber(text: string): number | null {
  if (text.trim() === '') return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

export function parseFilter(text: string): RunFilter {
  const m = FILTER.exec(text);
  const [, field, key, rawOp, rawValue] = m ?? [];
  if (!field || !key || !rawOp || rawValue === undefined || rawValue === '') {
    throw new UsageError(`cannot read the filter '${text}'; ${FILTER_HELP}`);
  }
  const op = (rawOp === '==' ? '=' : rawOp) as FilterOp;
  const quoted = unquote(rawValue);
  const isQuoted = quoted !== rawValue;
  const num = isQuoted ? null : asNumber(quoted);
  if (field === 'metrics') {
    if (num === null)
      throw new UsageError(
        `the filter '${text}' compares a metric with '${rawValue}', which is not a number; ${FILTER_HELP}`,
      );
    return { field, key, op, value: num };
  }
  return { field: field as Field, key, op, value: num ?? quoted };
}

export function parseSort(text: string): RunSort {
  const trimmed = text.trim();
  const descending = trimmed.startsWith('-');
  const body = descending ? trimmed.slice(1) : trimmed;
  const dot = body.indexOf('.');
  const field = dot > 0 ? body.slice(0, dot) : '';
  const key = dot > 0 ? body.slice(dot + 1) : body;
  if ((field === 'params' || field === 'metrics' || field === 'tags') && /^[A-Za-z0-9_][A-Za-z0-9_.\-/]*$/.test(key)) {
    return { field, key, descending };
  }
  if (dot < 0 && (SORT_COLUMNS as readonly string[]).includes(body)) return { field: 'column', key: body, descending };
  throw new UsageError(
    `cannot sort runs by '${text}'; sort by ${SORT_COLUMNS.join(', ')}, params.KEY, metrics.KEY or tags.KEY, with '-' in front for descending (e.g. '-metrics.test_f1')`,
  );
}

/** SQL pieces for one query: LEFT JOINs that expose each referenced value, and the conditions on them. */
export class RunQueryBuilder {
  readonly joins: RawBuilder<unknown>[] = [];
  readonly where: RawBuilder<unknown>[] = [];
  private readonly aliases = new Map<string, RawBuilder<unknown>>();

  /** The SQL expression for a param/tag value or a metric's latest value of the run `r`. */
  valueOf(field: Field, key: string): RawBuilder<unknown> {
    const id = `${field}.${key}`;
    const known = this.aliases.get(id);
    if (known) return known;
    const alias = sql.table(`v${this.aliases.size}`);
    if (field === 'metrics') {
      this.joins.push(
        sql`LEFT JOIN metrics ${alias} ON ${alias}.id = (SELECT m.id FROM metrics m WHERE m.run_id = r.id AND m.key = ${key} ORDER BY m.step DESC, m.id DESC LIMIT 1)`,
      );
    } else if (field === 'params') {
      // Hyperparameters are max_depth now and were maxDepth in earlier versions: either spelling finds both.
      const spellings = [...new Set([key, snakeCase(key), camelCase(key)])];
      this.joins.push(
        sql`LEFT JOIN params ${alias} ON ${alias}.run_id = r.id AND ${alias}.key = (SELECT p.key FROM params p WHERE p.run_id = r.id AND p.key IN (${sql.join(spellings)}) ORDER BY p.key = ${key} DESC LIMIT 1)`,
      );
    } else {
      this.joins.push(sql`LEFT JOIN ${sql.table(field)} ${alias} ON ${alias}.run_id = r.id AND ${alias}.key = ${key}`);
    }
    const expr = sql`${alias}.value`;
    this.aliases.set(id, expr);
    return expr;
  }

  addFilter(filter: RunFilter): void {
    const expr = this.valueOf(filter.field, filter.key);
    const op = sql.raw(filter.op);
    if (filter.field === 'metrics' || typeof filter.value === 'string') {
      // a run without the value never matches, as in MLflow's search
      this.where.push(sql`${expr} ${op} ${filter.value}`);
      return;
    }
    const num = sql`${sql.raw(NUMERIC_FN)}(${expr})`;
    // text values that read as numbers compare as numbers ('6' = 6.0); others only as text, for = and !=
    if (filter.op === '=' || filter.op === '!=') {
      this.where.push(
        sql`(CASE WHEN ${num} IS NOT NULL THEN ${num} ${op} ${filter.value} ELSE ${expr} ${op} ${String(filter.value)} END)`,
      );
    } else {
      this.where.push(sql`${num} ${op} ${filter.value}`);
    }
  }

  orderBy(sort: RunSort): RawBuilder<unknown> {
    const dir = sql.raw(sort.descending ? 'DESC' : 'ASC');
    if (sort.field === 'column') {
      const col = sql.ref(`r.${sort.key}`);
      return sql`${col} IS NULL, ${col} ${dir}, r.id`;
    }
    const expr = this.valueOf(sort.field, sort.key);
    const tail = sql`r.start_time DESC, r.id`;
    // runs without the value go last whichever the direction
    if (sort.field === 'metrics') return sql`${expr} IS NULL, ${expr} ${dir}, ${tail}`;
    return sql`${expr} IS NULL, ${sql.raw(NUMERIC_FN)}(${expr}) ${dir} NULLS LAST, ${expr} ${dir}, ${tail}`;
  }
}
