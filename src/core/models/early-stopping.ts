import { sigmoid } from './trees.js';

export type EvalMetric = 'logloss' | 'auc';

/** XGBoost's logloss of float32 margins (probabilities clipped to [1e-16, 1 - 1e-16]). */
export function loglossFromMargins(margins: ArrayLike<number>, y: ArrayLike<number>): number {
  const eps = 1e-16;
  let sum = 0;
  for (let i = 0; i < y.length; i++) {
    const p = Math.min(Math.max(sigmoid(margins[i] as number), eps), 1 - eps);
    sum -= (y[i] as number) === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / y.length;
}

/** ROC AUC, tied scores counted as half (NaN when only one class is present). */
export function aucFromScores(scores: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = y.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i] as number;
  const neg = n - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    const s = scores[order[i] as number] as number;
    while (j < n && scores[order[j] as number] === s) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if ((y[order[k] as number] as number) === 1) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function evalMetric(metric: EvalMetric, margins: ArrayLike<number>, y: ArrayLike<number>): number {
  return metric === 'auc' ? aucFromScores(margins, y) : loglossFromMargins(margins, y);
}

/** XGBoost's early stopping: the best round so far, and stop after `patience` rounds without a strict improvement. */
export class EarlyStopping {
  bestRound = -1;
  bestScore = Number.NaN;
  private readonly maximize: boolean;
  constructor(
    metric: EvalMetric,
    private readonly patience: number | undefined,
  ) {
    this.maximize = metric === 'auc';
  }
  /** Records the score after `round` (0-based); true when training should stop. */
  update(round: number, score: number): boolean {
    const better =
      this.bestRound < 0 ||
      (this.maximize ? score > this.bestScore : score < this.bestScore) ||
      Number.isNaN(this.bestScore);
    if (better && !Number.isNaN(score)) {
      this.bestRound = round;
      this.bestScore = score;
    }
    return this.patience !== undefined && round - this.bestRound >= this.patience;
  }
}
