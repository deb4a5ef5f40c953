import type { PredictFeatures } from '../../src/core/dataset/schema.js';
import { RAW_COLUMNS } from '../../src/core/dataset/schema.js';
import { EXAMPLE_FEATURES as EXAMPLE_DAY } from '../../src/core/dataset/example.js';

/** The original's example day, as the API takes it. */
export const EXAMPLE_FEATURES: PredictFeatures = { ...EXAMPLE_DAY };

export const HEADER = RAW_COLUMNS.join(',');
/** weatherAUS rows: with missing values, and with a label. */
export const ROW1 = '2008-12-01,Albury,13.4,22.9,0.6,NA,NA,W,44,W,WNW,20,24,71,22,1007.7,1007.1,8,NA,16.9,21.8,No,No';
export const ROW2 = '2017-06-25,Sydney,8.1,17.4,0,2.4,7.8,W,41,W,WNW,17,24,63,41,1021.4,1019.2,1,2,11.2,16.9,No,Yes';
