"""The Python original's ETL, as a peer for the benchmark: pandas read, clean, split, fit, transform, write."""
import json
import math
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

t0 = time.perf_counter()
source, out_dir, locations_path = sys.argv[1], sys.argv[2], sys.argv[3]
df = pd.read_csv(source)
df = df.dropna(subset=["RainTomorrow"])
X = df.drop(columns=["RainTomorrow"])
y = (df["RainTomorrow"] == "Yes").astype(int)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)

continuous = ["MinTemp", "MaxTemp", "Rainfall", "Evaporation", "Sunshine", "WindGustSpeed", "WindSpeed9am", "WindSpeed3pm",
              "Humidity9am", "Humidity3pm", "Pressure9am", "Pressure3pm", "Cloud9am", "Cloud3pm", "Temp9am", "Temp3pm"]
clip_cols = ["Rainfall", "Evaporation", "WindGustSpeed", "WindSpeed9am"]
dirs = ["E", "ENE", "NE", "NNE", "N", "NNW", "NW", "WNW", "W", "WSW", "SW", "SSW", "S", "SSE", "SE", "ESE"]
with open(locations_path) as f:
    locations = json.load(f)


def fit(train):
    t = train.copy()
    t["RainToday"] = t["RainToday"].map({"Yes": 1, "No": 0})
    bounds = {}
    for c in clip_cols:
        v = t[c].dropna()
        q1, q3 = np.quantile(v, 0.25), np.quantile(v, 0.75)
        iqr = q3 - q1
        bounds[c] = (max(q1 - 3 * iqr, v.min()), min(q3 + 3 * iqr, v.max()))
        t[c] = t[c].clip(*bounds[c])
    means = {c: t[c].mean() for c in continuous}
    modes = {c: t[c].value_counts().sort_index().idxmax() for c in ["Location", "WindGustDir", "WindDir9am", "WindDir3pm", "RainToday"]}
    return bounds, means, modes


def transform(frame, bounds, means, modes):
    t = frame.copy()
    t["RainToday"] = t["RainToday"].map({"Yes": 1, "No": 0})
    for c in clip_cols:
        t[c] = t[c].clip(*bounds[c])
    for c in continuous:
        t[c] = t[c].fillna(means[c])
    for c, m in modes.items():
        t[c] = t[c].fillna(m)
    d = pd.to_datetime(t["Date"])
    days = np.where(d.dt.is_leap_year, 366, 365)
    angle = 2 * math.pi * (d.dt.dayofyear - 1) / days
    out = pd.DataFrame({"RainToday": t["RainToday"]})
    for c in continuous:
        out[c] = t[c]
    out["DayCos"], out["DaySin"] = np.cos(angle), np.sin(angle)
    out["Lat"] = t["Location"].map(lambda s: locations[s]["lat"])
    out["Lon"] = t["Location"].map(lambda s: locations[s]["lon"])
    for c in ["WindGustDir", "WindDir9am", "WindDir3pm"]:
        rad = np.radians(t[c].map(dirs.index) * 22.5)
        out[c + "Cos"], out[c + "Sin"] = np.cos(rad), np.sin(rad)
    return out


bounds, means, modes = fit(X_train)
F_train = transform(X_train, bounds, means, modes)
mu, sd = F_train.mean(), F_train.std(ddof=0).replace(0, 1)
F_train = (F_train - mu) / sd
F_test = (transform(X_test, bounds, means, modes) - mu) / sd
t_fit = time.perf_counter() - t0

for sub in ("preprocessed", "final"):
    os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
X_train.to_csv(os.path.join(out_dir, "preprocessed/X_train.csv"), index=False)
X_test.to_csv(os.path.join(out_dir, "preprocessed/X_test.csv"), index=False)
y_train.to_csv(os.path.join(out_dir, "preprocessed/y_train.csv"), index=False)
y_test.to_csv(os.path.join(out_dir, "preprocessed/y_test.csv"), index=False)
F_train.to_csv(os.path.join(out_dir, "final/X_train.csv"), index=False)
F_test.to_csv(os.path.join(out_dir, "final/X_test.csv"), index=False)
y_train.to_csv(os.path.join(out_dir, "final/y_train.csv"), index=False)
y_test.to_csv(os.path.join(out_dir, "final/y_test.csv"), index=False)
print(json.dumps({"before_write_s": t_fit, "total_s": time.perf_counter() - t0, "train": len(F_train), "test": len(F_test)}))
