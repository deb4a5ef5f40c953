"""Python XGBoost peers: one fit, and an 8-candidate x 5-fold grid search, on rainops' final/ CSVs."""
import json
import sys
import time

import pandas as pd
import xgboost as xgb
from sklearn.model_selection import GridSearchCV, StratifiedKFold

mode, data_dir = sys.argv[1], sys.argv[2]
X = pd.read_csv(f"{data_dir}/final/X_train.csv").to_numpy(dtype="float32")
y = pd.read_csv(f"{data_dir}/final/y_train.csv")["RainTomorrow"].to_numpy()

if mode == "fit":
    t0 = time.perf_counter()
    xgb.XGBClassifier(tree_method="hist", max_depth=6, n_estimators=100, learning_rate=0.3, n_jobs=2).fit(X, y)
    print(json.dumps({"fit_s": time.perf_counter() - t0, "xgboost": xgb.__version__}))
else:
    grid = json.loads(sys.argv[3])
    t0 = time.perf_counter()
    search = GridSearchCV(xgb.XGBClassifier(tree_method="hist", n_jobs=2), grid, scoring="f1",
                          cv=StratifiedKFold(5, shuffle=True, random_state=42), n_jobs=1)
    search.fit(X, y)
    print(json.dumps({"grid_s": time.perf_counter() - t0, "best": search.best_params_, "cv_f1": search.best_score_}))
