"""A replica of the Python original's FastAPI prediction service, scoring an XGBoost model like it did."""
import json
import math
import sys
from datetime import date

import numpy as np
import uvicorn
import xgboost as xgb
from fastapi import FastAPI
from pydantic import BaseModel, Field

bundle_dir, port = sys.argv[1], int(sys.argv[2])
with open(f"{bundle_dir}/inputs_pipeline.json") as f:
    pipe = json.load(f)
with open(f"{bundle_dir}/metadata.json") as f:
    meta = json.load(f)
booster = xgb.Booster()
booster.load_model(f"{bundle_dir}/{meta['engineModelFile']}")
dirs = ["E", "ENE", "NE", "NNE", "N", "NNW", "NW", "WNW", "W", "WSW", "SW", "SSW", "S", "SSE", "SE", "ESE"]
continuous = ["MinTemp", "MaxTemp", "Rainfall", "Evaporation", "Sunshine", "WindGustSpeed", "WindSpeed9am", "WindSpeed3pm",
              "Humidity9am", "Humidity3pm", "Pressure9am", "Pressure3pm", "Cloud9am", "Cloud3pm", "Temp9am", "Temp3pm"]


class Features(BaseModel):
    Date: date
    Location: str
    MinTemp: float = Field(ge=-10, le=50)
    MaxTemp: float = Field(ge=-20, le=70)
    Rainfall: float
    Evaporation: float
    Sunshine: float = Field(ge=0, le=24)
    WindGustDir: str
    WindGustSpeed: float
    WindDir9am: str
    WindDir3pm: str
    WindSpeed9am: float
    WindSpeed3pm: float
    Humidity9am: float
    Humidity3pm: float
    Pressure9am: float
    Pressure3pm: float
    Cloud9am: float
    Cloud3pm: float
    Temp9am: float
    Temp3pm: float
    RainToday: float = Field(ge=0)


class Body(BaseModel):
    features: Features


app = FastAPI()


@app.post("/predict/")
def predict(body: Body):
    f = body.features
    row = [1.0 if f.RainToday > 0 else 0.0]
    for c in continuous:
        v = getattr(f, c)
        b = pipe["clip"].get(c)
        row.append(min(max(v, b["lo"]), b["hi"]) if b else v)
    d = f.Date
    leap = d.year % 4 == 0 and (d.year % 100 != 0 or d.year % 400 == 0)
    a = 2 * math.pi * (d.timetuple().tm_yday - 1) / (366 if leap else 365)
    loc = pipe["locations"][f.Location]
    row += [math.cos(a), math.sin(a), loc["lat"], loc["lon"]]
    for c in ("WindGustDir", "WindDir9am", "WindDir3pm"):
        r = math.radians(dirs.index(getattr(f, c)) * 22.5)
        row += [math.cos(r), math.sin(r)]
    x = (np.array(row) - np.array(pipe["scale"]["mean"])) / np.where(np.array(pipe["scale"]["std"]) == 0, 1, pipe["scale"]["std"])
    p = float(booster.predict(xgb.DMatrix(x.reshape(1, -1).astype("float32")))[0])
    rain = p >= meta["threshold"]
    return {"prediction_bool": int(rain), "prediction_str": "Toma un paraguas. Mañana puede que llueva." if rain else
            "Más seco que el Sahara. Mañana posiblemente no llueva...", "probability": p}


print(f"starting on http://127.0.0.1:{port}", flush=True)
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
